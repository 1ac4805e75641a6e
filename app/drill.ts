/**
 * Drill-down: a user's workflows, and one workflow's state counts, publication states and files
 * (paged, sortable, with attempts and failure reasons) with kill and retry. Every query is a
 * small key range of the `by_user` view ([user, workflow, state]) or of `overview`'s
 * ["pub", user, workflow] rows, so it stays fast on the embedded server at any total size.
 */
import {
  PUBLICATION_STATES,
  PublicationMachine,
  TERMINAL_STATES,
  TRANSFER_STATES,
  RETRYABLE_STATES,
  Views,
  type TransferDoc,
  type TransferState,
} from '../views/schema';
import type { UserFlag } from '../views/lib/user-flags';
import { view, type StatsValue, type Me } from './api';
import { describe, flagOn } from './actions';
import { fmtBytes, note, route, section, table, type CellSpec, type Sel } from './dom';

/** Files per page: a screenful, and a small include_docs read. */
export const PAGE_SIZE = 25;

export type SortKey = 'state' | 'lfn' | 'size' | 'attempts' | 'reason';
export interface TableState {
  page: number;
  sort: SortKey;
  desc: boolean;
  state: string;
}
const tables = new Map<string, TableState>();
export function tableState(key: string): TableState {
  let t = tables.get(key);
  if (!t) tables.set(key, (t = { page: 0, sort: 'state', desc: false, state: '' }));
  return t;
}

export type Notify = (text: string, refused: boolean) => void;

/** A time as the tables show it: UTC, to the second. */
const when = (iso: string | null | undefined) => (iso ? iso.replace('T', ' ').slice(0, 19) : '');

export async function renderUser(main: Sel, me: Me, user: string): Promise<void> {
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
  for (const r of pubRows) {
    const st = (r.key as string[])[3];
    const v = r.value as StatsValue;
    const t = pub[st] || (pub[st] = { count: 0, sum: 0 });
    t.count += v.count;
    t.sum += v.sum;
  }
  const wfs = new Map<string, Record<string, StatsValue>>();
  const total: Record<string, StatsValue> = {};
  for (const r of rows) {
    const [, wf, state] = r.key as string[];
    const v = r.value as StatsValue;
    if (!wfs.has(wf)) wfs.set(wf, {});
    wfs.get(wf)![state] = v;
    const t = total[state] || (total[state] = { count: 0, sum: 0 });
    t.count += v.count;
    t.sum += v.sum;
  }
  main.selectAll('*').remove();
  main.append('h2').attr('class', 'crumbs').text(`user ${user}`);
  if (!me.ops && user !== me.name)
    note(main, `These are ${user}'s transfers: you can look, but only ${user} or an operator can act on them.`, 'warn');
  const s = section(main, 'State counts', 'states');
  table(
    s,
    'numbers',
    ['state', 'files', 'bytes'],
    TRANSFER_STATES.map((st) => [st, total[st]?.count || 0, { text: fmtBytes(total[st]?.sum || 0), col: 'bytes' }]),
    TRANSFER_STATES,
  );
  const p = section(main, 'Publication', 'publication');
  if (pubRows.length)
    table(
      p,
      'numbers',
      ['publication state', 'files', 'bytes'],
      PUBLICATION_STATES.map((st) => [st, pub[st]?.count || 0, { text: fmtBytes(pub[st]?.sum || 0), col: 'bytes' }]),
      PUBLICATION_STATES,
    );
  else note(p, 'No finished files to publish.');
  const w = section(main, 'Workflows', 'workflows');
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
      { text: when(newest.get(wf) ? new Date(newest.get(wf)! * 1000).toISOString() : null), col: 'last-submitted' },
      ...TRANSFER_STATES.map((st) => wfs.get(wf)![st]?.count || 0),
    ]),
    names,
  );
}

function sortValue(d: TransferDoc, k: SortKey): string | number {
  switch (k) {
    case 'lfn':
      return d.source_lfn;
    case 'size':
      return d.size;
    case 'attempts':
      return d.attempts?.length || 0;
    case 'reason':
      return d.failure_reason || '';
    default:
      return TRANSFER_STATES.indexOf(d.state);
  }
}

async function docsIn(user: string, wf: string, states: readonly TransferState[]): Promise<TransferDoc[]> {
  const all = await Promise.all(
    states.map((st) =>
      view<unknown[], TransferDoc>(Views.byUser, { reduce: false, include_docs: true, key: [user, wf, st] }),
    ),
  );
  return all
    .flat()
    .map((r) => r.doc!)
    .filter(Boolean);
}

export async function renderWorkflow(
  main: Sel,
  me: Me,
  user: string,
  wf: string,
  notify: Notify,
  rerender: () => void,
): Promise<void> {
  const ts = tableState(user + '\u0000' + wf);
  const [counts, pubRows] = await Promise.all([
    view(Views.byUser, { group_level: 3, startkey: [user, wf], endkey: [user, wf, {}] }),
    view(Views.overview, { group_level: 4, startkey: ['pub', user, wf], endkey: ['pub', user, wf, {}] }),
  ]);
  const byState = new Map(counts.map((r) => [(r.key as string[])[2], r.value as StatsValue]));
  const inRange = ts.state ? byState.get(ts.state)?.count || 0 : [...byState.values()].reduce((a, v) => a + v.count, 0);
  const pages = Math.max(1, Math.ceil(inRange / PAGE_SIZE));
  if (ts.page >= pages) ts.page = pages - 1;
  // Sorted by state server side (the view's key order, either direction); other columns sort the page.
  const lo = ts.state ? [user, wf, ts.state] : [user, wf];
  const hi = ts.state ? [user, wf, ts.state, {}] : [user, wf, {}];
  const desc = ts.sort === 'state' && ts.desc;
  const fileRows = await view<unknown[], TransferDoc>(Views.byUser, {
    reduce: false,
    include_docs: true,
    limit: PAGE_SIZE,
    skip: ts.page * PAGE_SIZE,
    startkey: desc ? hi : lo,
    endkey: desc ? lo : hi,
    descending: desc ? true : undefined,
  });
  const files = fileRows.map((r) => r.doc!).filter(Boolean);
  if (ts.sort !== 'state') {
    files.sort((a, b) => {
      const x = sortValue(a, ts.sort),
        y = sortValue(b, ts.sort);
      return (x < y ? -1 : x > y ? 1 : 0) * (ts.desc ? -1 : 1);
    });
  }
  const pub = new Map(pubRows.map((r) => [(r.key as string[])[3], r.value as StatsValue]));

  main.selectAll('*').remove();
  const crumbs = main.append('h2').attr('class', 'crumbs');
  crumbs.append('a').attr('href', route('user', user)).text(`user ${user}`);
  crumbs.append('span').text(` / workflow ${wf}`);
  // The same rule as the user page and validate_doc_update: only the owner or an operator acts;
  // nobody else is offered a button that would be refused.
  const mayAct = me.ops || user === me.name;
  if (!mayAct)
    note(main, `These are ${user}'s transfers: you can look, but only ${user} or an operator can act on them.`, 'warn');

  const act = async (kind: UserFlag, docs: readonly TransferDoc[]) => {
    try {
      const d = describe(kind, await flagOn(kind, docs));
      notify(d.text, d.refused);
    } catch (err) {
      notify(`${kind}: ${err instanceof Error ? err.message : String(err)}`, true);
    }
    rerender();
  };

  const s = section(main, 'State counts', 'states');
  table(
    s,
    'numbers',
    ['state', 'files', 'bytes'],
    TRANSFER_STATES.map((st) => [
      st,
      byState.get(st)?.count || 0,
      { text: fmtBytes(byState.get(st)?.sum || 0), col: 'bytes' },
    ]),
    TRANSFER_STATES,
  );
  const bar = s.append('div').attr('class', 'controls').property('hidden', !mayAct);
  if (mayAct)
    bar
      .append('button')
      .attr('type', 'button')
      .attr('id', 'kill-workflow')
      .text('Kill all pending')
      .on('click', async () =>
        act(
          'kill',
          await docsIn(
            user,
            wf,
            TRANSFER_STATES.filter((x) => TERMINAL_STATES.indexOf(x) < 0),
          ),
        ),
      );
  // The retryable states, named: "failed" alone hid that killed and expired files go too.
  if (mayAct)
    bar
      .append('button')
      .attr('type', 'button')
      .attr('id', 'retry-workflow')
      .text(
        `Retry all ${RETRYABLE_STATES.slice(0, -1).join(', ')} and ${RETRYABLE_STATES[RETRYABLE_STATES.length - 1]}`,
      )
      .on('click', async () => act('retry', await docsIn(user, wf, RETRYABLE_STATES)));

  const p = section(main, 'Publication', 'publication');
  if (pub.size)
    table(
      p,
      'numbers',
      ['publication state', 'files', 'bytes'],
      PUBLICATION_STATES.map((st) => [
        st,
        pub.get(st)?.count || 0,
        { text: fmtBytes(pub.get(st)?.sum || 0), col: 'bytes' },
      ]),
      PUBLICATION_STATES,
    );
  else note(p, 'No finished files to publish in this workflow.');

  const f = section(main, 'Files', 'files');
  const filter = f.append('div').attr('class', 'controls');
  filter.append('label').text('state ');
  const sel = filter
    .append('select')
    .attr('id', 'state-filter')
    .on('change', function () {
      ts.state = (this as HTMLSelectElement).value;
      ts.page = 0;
      rerender();
    });
  for (const st of ['', ...TRANSFER_STATES])
    sel
      .append('option')
      .attr('value', st)
      .property('selected', st === ts.state)
      .text(st || 'all');
  const head = (text: string, col: SortKey | null): CellSpec =>
    col
      ? {
          text: text + (ts.sort === col ? (ts.desc ? ' ▼' : ' ▲') : ''),
          col,
          onClick: () => {
            ts.desc = ts.sort === col ? !ts.desc : false;
            ts.sort = col;
            rerender();
          },
        }
      : { text, col: text };
  table(
    f,
    'files',
    [
      head('source LFN', 'lfn'),
      head('destination', null),
      head('state', 'state'),
      head('size', 'size'),
      head('attempts', 'attempts'),
      head('failure reason', 'reason'),
      head('submitted', null),
      head('finished', null),
      head('publication', null),
      head('actions', null),
    ],
    files.map((d) => [
      {
        text: d.source_lfn,
        col: 'lfn',
        title: `${d.source} -> ${d.destination}: ${d.destination_lfn}`,
        breakAfter: '/',
      },
      { text: d.destination, col: 'destination', title: d.destination_lfn },
      {
        text: d.state + (d.kill_requested ? ' (kill requested)' : d.retry_requested ? ' (retry requested)' : ''),
        col: 'state',
      },
      { text: fmtBytes(d.size), col: 'size' },
      {
        text: String(d.attempts?.length || 0),
        col: 'attempts',
        title: (d.attempts || []).map((a) => `${a.at}: ${a.error || 'ok'}`).join('\n'),
      },
      { text: d.failure_reason || '', col: 'reason' },
      { text: when(d.created_at), col: 'submitted' },
      { text: when(d.finished_at), col: 'finished' },
      { text: d.publish ? d.publication_state || PublicationMachine.initial : '', col: 'publication' },
      !mayAct
        ? { text: '', col: 'actions' }
        : TERMINAL_STATES.indexOf(d.state) < 0
          ? { text: 'kill', button: true, col: 'actions', onClick: () => act('kill', [d]) }
          : RETRYABLE_STATES.indexOf(d.state) >= 0
            ? { text: 'retry', button: true, col: 'actions', onClick: () => act('retry', [d]) }
            : { text: '', col: 'actions' },
    ]),
    files.map((d) => d._id),
  );
  const pager = f.append('div').attr('class', 'pager');
  pager
    .append('button')
    .attr('type', 'button')
    .attr('id', 'prev')
    .property('disabled', ts.page === 0)
    .text('‹ previous')
    .on('click', () => {
      ts.page--;
      rerender();
    });
  pager
    .append('span')
    .attr('id', 'page')
    .text(` page ${ts.page + 1} of ${pages} (${inRange} files) `);
  pager
    .append('button')
    .attr('type', 'button')
    .attr('id', 'next')
    .property('disabled', ts.page >= pages - 1)
    .text('next ›')
    .on('click', () => {
      ts.page++;
      rerender();
    });
}
