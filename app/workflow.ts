/**
 * Drill-down, second level: one workflow's state counts with kill and retry for all its files,
 * its publication states and its files (paged, sortable, filtered by state, with attempts and
 * failure reasons) each with its own kill or retry. Separate from the user page (app/drill.ts):
 * the file table's paging and sorting state lives here. Every query is a small key range of the
 * `by_user` view ([user, workflow, state]) or of `overview`'s ["pub", user, workflow] rows.
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
import { flagAndReport, mayActOn, noteLookOnly, type Notify } from './actions';
import { countTable, fmtBytes, fmtTime, note, route, section, table, type Cell, type CellSpec, type Sel } from './dom';

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

/** Flags some files of the workflow, reports the outcome, renders again. */
type Act = (kind: UserFlag, docs: readonly TransferDoc[]) => Promise<void>;

/** One page of the workflow's files, with the counts the page is drawn from. */
interface WorkflowPage {
  byState: Map<string, StatsValue>;
  pub: Map<string, StatsValue>;
  files: TransferDoc[];
  /** Files in the chosen state (or all), and the pages they fill. */
  inRange: number;
  pages: number;
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

/** The counts, then the page of files `ts` asks for (its page number kept within the pages there are). */
async function loadWorkflow(user: string, wf: string, ts: TableState): Promise<WorkflowPage> {
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
  return { byState, pub, files, inRange, pages };
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
  const page = await loadWorkflow(user, wf, ts);
  main.selectAll('*').remove();
  renderCrumbs(main, user, wf);
  const mayAct = mayActOn(me, user);
  if (!mayAct) noteLookOnly(main, user);
  const act: Act = (kind, docs) => flagAndReport(kind, docs, notify, rerender);

  const s = section(main, 'State counts', 'states');
  countTable(s, 'state', TRANSFER_STATES, (st) => [page.byState.get(st)?.count || 0, page.byState.get(st)?.sum || 0]);
  renderWorkflowActions(s, mayAct, user, wf, act);

  const p = section(main, 'Publication', 'publication');
  if (page.pub.size)
    countTable(p, 'publication state', PUBLICATION_STATES, (st) => [
      page.pub.get(st)?.count || 0,
      page.pub.get(st)?.sum || 0,
    ]);
  else note(p, 'No finished files to publish in this workflow.');

  const f = section(main, 'Files', 'files');
  renderStateFilter(f, ts, rerender);
  renderFileTable(f, ts, page.files, mayAct ? act : null, rerender);
  renderPager(f, ts, page, rerender);
}

/** The page's heading: the user (a link back to their page) / the workflow. */
function renderCrumbs(main: Sel, user: string, wf: string): void {
  const crumbs = main.append('h2').attr('class', 'crumbs');
  crumbs.append('a').attr('href', route('user', user)).text(`user ${user}`);
  crumbs.append('span').text(` / workflow ${wf}`);
}

/** Kill or retry every file of the workflow in the states it applies to (hidden for lookers-on). */
function renderWorkflowActions(s: Sel, mayAct: boolean, user: string, wf: string, act: Act): void {
  const bar = s.append('div').attr('class', 'controls').property('hidden', !mayAct);
  if (!mayAct) return;
  const pending = TRANSFER_STATES.filter((x) => TERMINAL_STATES.indexOf(x) < 0);
  bar
    .append('button')
    .attr('type', 'button')
    .attr('id', 'kill-workflow')
    .text('Kill all pending')
    .on('click', async () => act('kill', await docsIn(user, wf, pending)));
  // The retryable states, named: "failed" alone hid that killed and expired files go too.
  bar
    .append('button')
    .attr('type', 'button')
    .attr('id', 'retry-workflow')
    .text(`Retry all ${RETRYABLE_STATES.slice(0, -1).join(', ')} and ${RETRYABLE_STATES[RETRYABLE_STATES.length - 1]}`)
    .on('click', async () => act('retry', await docsIn(user, wf, RETRYABLE_STATES)));
}

function renderStateFilter(f: Sel, ts: TableState, rerender: () => void): void {
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
}

/** The files of the page; `act` null when the viewer may not act (the actions column stays, empty). */
function renderFileTable(
  f: Sel,
  ts: TableState,
  files: readonly TransferDoc[],
  act: Act | null,
  rerender: () => void,
): void {
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
    files.map((d) => fileRow(d, act)),
    files.map((d) => d._id),
  );
}

function fileRow(d: TransferDoc, act: Act | null): Cell[] {
  return [
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
    { text: fmtTime(d.created_at), col: 'submitted' },
    { text: fmtTime(d.finished_at), col: 'finished' },
    { text: d.publish ? d.publication_state || PublicationMachine.initial : '', col: 'publication' },
    !act
      ? { text: '', col: 'actions' }
      : TERMINAL_STATES.indexOf(d.state) < 0
        ? { text: 'kill', button: true, col: 'actions', onClick: () => act('kill', [d]) }
        : RETRYABLE_STATES.indexOf(d.state) >= 0
          ? { text: 'retry', button: true, col: 'actions', onClick: () => act('retry', [d]) }
          : { text: '', col: 'actions' },
  ];
}

function renderPager(f: Sel, ts: TableState, { pages, inRange }: WorkflowPage, rerender: () => void): void {
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
