/**
 * Failures: the classified reasons (views/lib/monitor.ts) with their counts from the roll-up,
 * each linking to its files: a small key range of the `overview` view's ["fail", reason(, user)]
 * rows with their documents. Operators see every user's; a user sees their own.
 */
import { Views, type MonitorStatsDoc, type TransferDoc } from '../views/schema';
import { view, type Me } from './api';
import { flagAndReport, type Notify } from './actions';
import { fmtBytes, note, route, section, table, type Sel } from './dom';
import { loadStats } from './overview';

/** Files listed per reason: the most a person reads; the count says how many there are. */
export const FAILURE_LIST = 50;

export async function renderFailures(
  main: Sel,
  me: Me,
  reason: string | null,
  notify: Notify,
  rerender: () => void,
): Promise<void> {
  const stats = await loadStats();
  const files = reason ? await loadFailedFiles(me, reason) : [];
  main.selectAll('*').remove();
  renderReasons(main, me, stats);
  if (!reason) return;
  renderFailedFiles(main, reason, files, notify, rerender);
}

/** The first files failed with `reason`: all users' for an operator, one's own otherwise. */
async function loadFailedFiles(me: Me, reason: string): Promise<TransferDoc[]> {
  return (
    await view<unknown[], TransferDoc>(Views.overview, {
      reduce: false,
      include_docs: true,
      limit: FAILURE_LIST,
      startkey: me.ops ? ['fail', reason] : ['fail', reason, me.name],
      endkey: me.ops ? ['fail', reason, {}] : ['fail', reason, me.name, {}],
    })
  )
    .map((r) => r.doc!)
    .filter(Boolean);
}

function renderReasons(main: Sel, me: Me, stats: MonitorStatsDoc | null): void {
  const s = section(main, me.ops ? 'Failures by reason (all users)' : 'Your failures by reason', 'reasons');
  const rows = (stats?.failures || [])
    .map((f) => ({
      reason: f.reason,
      files: me.ops ? f.files : f.users[me.name] || 0,
      bytes: me.ops ? fmtBytes(f.bytes) : '',
    }))
    .filter((f) => f.files > 0);
  if (!stats) note(s, 'The stats agent has not written its summary yet.', 'warn');
  else if (!rows.length) note(s, 'No failures.');
  else {
    table(
      s,
      'numbers',
      me.ops ? ['reason', 'files', 'bytes'] : ['reason', 'files'],
      rows.map((f) => [
        { text: f.reason, href: route('failures', f.reason), col: 'reason' },
        f.files,
        ...(me.ops ? [{ text: f.bytes, col: 'bytes' }] : []),
      ]),
      rows.map((f) => f.reason),
    );
  }
}

function renderFailedFiles(
  main: Sel,
  reason: string,
  files: readonly TransferDoc[],
  notify: Notify,
  rerender: () => void,
): void {
  const l = section(main, `Files failed with: ${reason}`, 'failed-files');
  if (!files.length) return note(l, 'No files.');
  table(
    l,
    'files',
    ['source LFN', 'user', 'workflow', 'state', 'attempts', 'failure reason', 'actions'],
    files.map((d) => [
      { text: d.source_lfn, col: 'lfn' },
      { text: d.user, href: route('user', d.user), col: 'user' },
      { text: d.workflow, href: route('user', d.user, d.workflow), col: 'workflow' },
      d.state + (d.retry_requested ? ' (retry requested)' : ''),
      String(d.attempts?.length || 0),
      { text: d.failure_reason || '', col: 'reason' },
      { text: 'retry', button: true, col: 'actions', onClick: () => flagAndReport('retry', [d], notify, rerender) },
    ]),
    files.map((d) => d._id),
  );
  if (files.length === FAILURE_LIST) note(l, `The first ${FAILURE_LIST} files are shown.`);
}
