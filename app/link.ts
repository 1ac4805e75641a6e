/**
 * One link (source -> destination), reached from its heat-map cell: its files per state over the
 * whole system (the `overview` view's ["link", source, destination, state] rows), and the files
 * of one state with their documents (the same rows, reduce=false: a small key range at any total
 * size). Failed files are shown first when there are any: they are why one opens a red cell.
 * Acting on files stays on the workflow pages, where the owner and the operators can.
 */
import { TRANSFER_STATES, TransferMachine, TransferState, Views, type TransferDoc } from '../views/schema';
import { view, type StatsValue, type Me } from './api';
import { fmtBytes, note, route, section, table, type Sel } from './dom';

/** Files listed for the chosen state: a screenful; the count says how many there are. */
export const LINK_FILES = 50;
/**
 * Which state's files are listed when none is chosen: the first of these that has files. The
 * furthest along the lifecycle first (the conflict rank: failures before work in progress), done last.
 */
const FIRST_SHOWN: readonly TransferState[] = [
  ...[...TransferMachine.rank].reverse().filter((s) => s !== TransferState.done),
  TransferState.done,
];

export async function renderLink(
  main: Sel,
  me: Me,
  source: string,
  destination: string,
  chosen: string | null,
): Promise<void> {
  const rows = await view(Views.overview, {
    group_level: 4,
    startkey: ['link', source, destination],
    endkey: ['link', source, destination, {}],
  });
  const counts = new Map(rows.map((r) => [(r.key as string[])[3], r.value as StatsValue]));
  const state =
    chosen && counts.has(chosen) ? chosen : [...FIRST_SHOWN, ...TRANSFER_STATES].find((s) => counts.has(s)) || null;
  const files = state ? await loadLinkFiles(source, destination, state) : [];
  main.selectAll('*').remove();
  main.append('h2').attr('class', 'crumbs').text(`link ${source} -> ${destination}`);
  const s = section(main, 'Files by state (whole system)', 'link-states');
  const states = TRANSFER_STATES.filter((st) => counts.has(st));
  if (!states.length) return note(s, 'No transfers on this link.');
  table(
    s,
    'numbers',
    ['state', 'files', 'bytes'],
    states.map((st) => [
      { text: st, href: route('link', source, destination, st), col: 'state' },
      counts.get(st)!.count,
      { text: fmtBytes(counts.get(st)!.sum), col: 'bytes' },
    ]),
    states,
  );
  renderLinkFiles(main, me, state!, files, counts.get(state!)!.count);
}

async function loadLinkFiles(source: string, destination: string, state: string): Promise<TransferDoc[]> {
  return (
    await view<unknown[], TransferDoc>(Views.overview, {
      reduce: false,
      include_docs: true,
      limit: LINK_FILES,
      key: ['link', source, destination, state],
    })
  )
    .map((r) => r.doc!)
    .filter(Boolean);
}

/** The listed files of one state; `total` is how many the link has in that state. */
function renderLinkFiles(main: Sel, me: Me, state: string, files: readonly TransferDoc[], total: number): void {
  const l = section(main, `${state} files`, 'link-files');
  if (!me.ops) note(l, "Every user's files on this link are listed; you can act on your own from their workflow page.");
  table(
    l,
    'files',
    ['source LFN', 'user', 'workflow', 'size', 'attempts', 'failure reason'],
    files.map((d) => [
      { text: d.source_lfn, col: 'lfn', breakAfter: '/' },
      { text: d.user, href: route('user', d.user), col: 'user' },
      { text: d.workflow, href: route('user', d.user, d.workflow), col: 'workflow' },
      { text: fmtBytes(d.size), col: 'size' },
      String(d.attempts?.length || 0),
      { text: d.failure_reason || '', col: 'reason' },
    ]),
    files.map((d) => d._id),
  );
  if (total > files.length) note(l, `The first ${files.length} of ${total} files are shown.`);
}
