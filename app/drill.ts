/**
 * Drill-down, first level: a user's state counts, publication states and workflows (newest
 * first), each workflow linking to its page (app/workflow.ts). Every query is a small key range
 * of the `by_user` view ([user, workflow, state]) or of `overview`'s ["pub", user, workflow] and
 * ["wf", user, workflow] rows, so it stays fast on the embedded server at any total size.
 */
import { PUBLICATION_STATES, TRANSFER_STATES, Views } from '../views/schema';
import { view, type StatsValue, type Me } from './api';
import { mayActOn, noteLookOnly } from './actions';
import { countTable, fmtTime, note, route, section, table, type Sel } from './dom';

/** What the user page shows, summed from the grouped view rows. */
interface UserCounts {
  /** Per state over all the user's workflows. */
  total: Record<string, StatsValue>;
  /** Per publication state; empty when the user has no finished files to publish. */
  pub: Record<string, StatsValue>;
  /** Per workflow, per state. */
  wfs: Map<string, Record<string, StatsValue>>;
  /** Per workflow, its newest submission time (seconds). */
  newest: Map<string, number>;
}

const add = (acc: Record<string, StatsValue>, state: string, v: StatsValue) => {
  const t = acc[state] || (acc[state] = { count: 0, sum: 0 });
  t.count += v.count;
  t.sum += v.sum;
};

async function loadUser(user: string): Promise<UserCounts> {
  const [rows, pubRows, wfRows] = await Promise.all([
    view(Views.byUser, { group_level: 3, startkey: [user], endkey: [user, {}] }),
    view(Views.overview, { group_level: 4, startkey: ['pub', user], endkey: ['pub', user, {}] }),
    view(Views.overview, { group_level: 3, startkey: ['wf', user], endkey: ['wf', user, {}] }),
  ]);
  // Newest submission per workflow (`_stats` max of the submission times).
  const newest = new Map(
    wfRows.map((r) => [(r.key as string[])[2], (r.value as StatsValue & { max?: number }).max || 0]),
  );
  const pub: Record<string, StatsValue> = {};
  for (const r of pubRows) add(pub, (r.key as string[])[3], r.value as StatsValue);
  const wfs = new Map<string, Record<string, StatsValue>>();
  const total: Record<string, StatsValue> = {};
  for (const r of rows) {
    const [, wf, state] = r.key as string[];
    const v = r.value as StatsValue;
    if (!wfs.has(wf)) wfs.set(wf, {});
    wfs.get(wf)![state] = v;
    add(total, state, v);
  }
  return { total, pub, wfs, newest };
}

export async function renderUser(main: Sel, me: Me, user: string): Promise<void> {
  const c = await loadUser(user);
  main.selectAll('*').remove();
  main.append('h2').attr('class', 'crumbs').text(`user ${user}`);
  if (!mayActOn(me, user)) noteLookOnly(main, user);
  countTable(section(main, 'State counts', 'states'), 'state', TRANSFER_STATES, (st) => [
    c.total[st]?.count || 0,
    c.total[st]?.sum || 0,
  ]);
  const p = section(main, 'Publication', 'publication');
  if (Object.keys(c.pub).length)
    countTable(p, 'publication state', PUBLICATION_STATES, (st) => [c.pub[st]?.count || 0, c.pub[st]?.sum || 0]);
  else note(p, 'No finished files to publish.');
  renderWorkflows(section(main, 'Workflows', 'workflows'), user, c);
}

function renderWorkflows(w: Sel, user: string, { wfs, newest }: UserCounts): void {
  // Newest first; workflows submitted in the same second by name, numbers as numbers (_2 before _10).
  const byName = new Intl.Collator(undefined, { numeric: true }).compare;
  const names = [...wfs.keys()].sort((a, b) => (newest.get(b) || 0) - (newest.get(a) || 0) || byName(a, b));
  if (!names.length) return note(w, 'No transfers.');
  table(
    w,
    'numbers',
    ['workflow', 'last submitted', ...TRANSFER_STATES],
    names.map((wf) => [
      { text: wf, href: route('user', user, wf) },
      {
        text: fmtTime(newest.get(wf) ? new Date(newest.get(wf)! * 1000).toISOString() : null),
        col: 'last-submitted',
      },
      ...TRANSFER_STATES.map((st) => wfs.get(wf)![st]?.count || 0),
    ]),
    names,
  );
}
