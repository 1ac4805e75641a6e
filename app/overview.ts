/**
 * Overview: state totals, finished files over time, the link matrix, publication status, agent
 * health and users. One read of the stats agent's roll-up (`monitor-stats`, which only agents
 * and operators can write) plus the heartbeat documents: small and constant whatever the number of
 * transfers. Without a roll-up (the stats agent not running yet) the state totals come from the
 * `totals` view.
 */
import {
  IdPrefix,
  MONITOR_STATS_ID,
  PUBLICATION_STATES,
  TRANSFER_STATES,
  TransferMachine,
  TransferState,
  Views,
  idRange,
  idSuffix,
  type HeartbeatDoc,
  type MonitorStatsDoc,
} from '../views/schema';
import { configDb, DB, getJson, HttpError, view, type StatsValue, type Me } from './api';
import { linkMatrix, timeChart } from './charts';
import { lastHourWindow } from './window';
import { countTable, note, route, section, table, type Sel } from './dom';
import { instanceHealth, type InstanceStatus } from '../views/lib/agent-health';

/** Whose state totals: one's own, or the whole system. */
type Scope = 'mine' | 'all';
/** Files and bytes per state. */
type StateTotals = Record<string, readonly [number, number]>;

export interface OverviewPrefs {
  unit: 'minute' | 'hour' | 'day';
  metric: 'files' | 'bytes';
  unconfigured: boolean;
  /** Whose state totals: one's own, or the whole system; null: by role (own for a user, all for an operator). */
  scope: Scope | null;
}
export const prefs: OverviewPrefs = { unit: 'minute', metric: 'files', unconfigured: false, scope: null };

export async function loadStats(): Promise<MonitorStatsDoc | null> {
  try {
    return await getJson<MonitorStatsDoc>(DB + MONITOR_STATS_ID);
  } catch (err) {
    if (err instanceof HttpError && err.status === 404) return null;
    throw err;
  }
}

async function loadHeartbeats(): Promise<HeartbeatDoc[]> {
  const res = await getJson<{ rows: { doc?: HeartbeatDoc }[] }>(
    `${DB}_all_docs?include_docs=true&startkey=${encodeURIComponent(JSON.stringify(idRange(IdPrefix.heartbeat).startkey))}&endkey=${encodeURIComponent(JSON.stringify(idRange(IdPrefix.heartbeat).endkey))}`,
  );
  return res.rows.map((r) => r.doc!).filter(Boolean);
}

/** The configured site names (config database), or null when they cannot be read: then every link is shown. */
async function loadSites(): Promise<Set<string> | null> {
  const db = configDb();
  if (!db) return null;
  try {
    const res = await getJson<{ rows: { id: string }[] }>(
      `${db}_all_docs?startkey=${encodeURIComponent(JSON.stringify(idRange(IdPrefix.site).startkey))}&endkey=${encodeURIComponent(JSON.stringify(idRange(IdPrefix.site).endkey))}`,
    );
    return new Set(res.rows.map((r) => idSuffix(IdPrefix.site, r.id)));
  } catch {
    return null;
  }
}

const loadAll = () => Promise.all([loadStats(), loadHeartbeats(), loadSites()]);
let prefetched: ReturnType<typeof loadAll> | null = null;

/** Starts the overview's reads while the session is still being checked (one round trip less). */
export function prefetchOverview(): void {
  prefetched = loadAll();
  prefetched.catch(() => undefined);
}

export async function renderOverview(main: Sel, me: Me, rerender: () => void): Promise<void> {
  const pending = prefetched || loadAll();
  prefetched = null;
  const [stats, beats, sites] = await pending;
  const scope = prefs.scope ?? (me.ops ? 'all' : 'mine');
  const states = await loadStateTotals(stats, me, scope);
  main.selectAll('*').remove();
  renderAsOf(main, stats);
  renderStateTotals(main, me, scope, states, rerender);
  if (stats) {
    renderTimeChart(main, stats, rerender);
    renderLinks(main, stats, sites, rerender);
    renderPublication(main, me, stats);
    renderUsers(main, me, stats);
  }
  renderAgents(main, beats);
}

/** The state totals of the scope: from the roll-up, or without one from the views. */
async function loadStateTotals(stats: MonitorStatsDoc | null, me: Me, scope: Scope): Promise<StateTotals> {
  if (stats) return scope === 'mine' ? stats.users[me.name] || {} : stats.states;
  if (scope === 'mine') {
    // No roll-up yet: the user's own rows of by_user ([user, workflow, state]), summed per state.
    const rows = await view(Views.byUser, { group_level: 3, startkey: [me.name], endkey: [me.name, {}] });
    const acc: Record<string, [number, number]> = {};
    for (const r of rows) {
      const st = String((r.key as unknown[])[2]);
      const v = r.value as StatsValue;
      acc[st] = [(acc[st]?.[0] || 0) + v.count, (acc[st]?.[1] || 0) + v.sum];
    }
    return acc;
  }
  const rows = await view(Views.totals, { group_level: 1 });
  return Object.fromEntries(
    rows.map((r) => [
      String((r.key as unknown[])[0]),
      [(r.value as StatsValue).count, (r.value as StatsValue).sum] as const,
    ]),
  );
}

/** A button choosing one value of a preference; `on` marks the current one. */
function choiceButton(parent: Sel, attr: string, value: string, on: boolean, label: string, choose: () => void): void {
  parent.append('button').attr('type', 'button').attr(attr, value).classed('on', on).text(label).on('click', choose);
}

function renderAsOf(main: Sel, stats: MonitorStatsDoc | null): void {
  if (stats)
    note(
      main,
      `Summary as of ${stats.updated_at.replace('T', ' ').slice(0, 19)} UTC (stats agent), ${stats.transfers} transfers.`,
      'asof',
    );
  else
    note(
      main,
      'The stats agent has not written its summary yet: only the state totals are shown (from the totals view).',
      'warn',
    );
}

function renderStateTotals(main: Sel, me: Me, scope: Scope, states: StateTotals, rerender: () => void): void {
  const totals = section(
    main,
    scope === 'mine' ? `Your transfers by state (${me.name})` : 'Transfers by state (whole system)',
    'states',
  );
  totals.attr('data-scope', scope);
  const sw = totals.append<HTMLElement>('div').attr('class', 'controls');
  for (const [value, label] of [
    ['mine', 'yours'],
    ['all', 'whole system'],
  ] as const)
    choiceButton(sw, 'data-scope', value, scope === value, label, () => {
      prefs.scope = value;
      rerender();
    });
  countTable(totals, 'state', TRANSFER_STATES, (s) => [states[s]?.[0] || 0, states[s]?.[1] || 0]);
}

function renderTimeChart(main: Sel, stats: MonitorStatsDoc, rerender: () => void): void {
  const time = section(main, 'Transfers over time (whole system)', 'time');
  const controls = time.append<HTMLElement>('div').attr('class', 'controls');
  for (const u of ['minute', 'hour', 'day'] as const)
    choiceButton(controls, 'data-unit', u, prefs.unit === u, `per ${u}`, () => {
      prefs.unit = u;
      rerender();
    });
  for (const m of ['files', 'bytes'] as const)
    choiceButton(controls, 'data-metric', m, prefs.metric === m, m, () => {
      prefs.metric = m;
      rerender();
    });
  controls
    .append('span')
    .attr('class', 'legend')
    .call((s) => {
      s.append('span').attr('class', 'key done').text('done');
      s.append('span').attr('class', 'key failed').text('failed');
    });
  timeChart(time, stats.time[prefs.unit], prefs.metric);
}

function renderLinks(main: Sel, stats: MonitorStatsDoc, sites: Set<string> | null, rerender: () => void): void {
  const links = section(main, 'Links (whole system; colour: failure rate)', 'links');
  // A transfer naming a site that is not configured fails at once; its link would stay in the
  // matrix as a red row for good. Such links are set apart, shown on request.
  const unknown = (l: { source: string; destination: string }) =>
    !!sites && (!sites.has(l.source) || !sites.has(l.destination));
  const odd = stats.links.filter(unknown);
  const shown = prefs.unconfigured ? stats.links : stats.links.filter((l) => !unknown(l));
  if (shown.length) linkMatrix(links, shown, lastHourWindow(stats.time.minute, stats.updated_at));
  else if (!stats.links.length) note(links, 'No transfers yet.');
  if (!odd.length) return;
  const names = [...new Set(odd.flatMap((l) => [l.source, l.destination]).filter((n) => !sites!.has(n)))].sort();
  const p = links.append('p').attr('class', 'note unconfigured');
  p.append('span').text(
    `${odd.length} link(s) with a site that is not configured (${names.join(', ')}): their transfers fail at once. `,
  );
  p.append('button')
    .attr('type', 'button')
    .attr('data-unconfigured', prefs.unconfigured ? 'hide' : 'show')
    .text(prefs.unconfigured ? 'hide them' : 'show them')
    .on('click', () => {
      prefs.unconfigured = !prefs.unconfigured;
      rerender();
    });
}

function renderPublication(main: Sel, me: Me, stats: MonitorStatsDoc): void {
  const pub = section(main, 'Publication', 'publication');
  const pubSrc = me.ops ? stats.publication : stats.publication_users[me.name] || {};
  countTable(pub, 'publication state', PUBLICATION_STATES, (s) => [pubSrc[s]?.[0] || 0, pubSrc[s]?.[1] || 0]);
}

function renderUsers(main: Sel, me: Me, stats: MonitorStatsDoc): void {
  const users = section(main, me.ops ? 'Users' : 'Your transfers', 'users');
  const names = Object.keys(stats.users)
    .filter((u) => me.ops || u === me.name)
    .sort();
  const ACTIVE = 'active';
  const cols = [TransferState.new, ACTIVE, TransferState.retry, TransferState.done, ...TransferMachine.groups.failure];
  const count = (u: string, c: string) =>
    c === ACTIVE
      ? TransferMachine.groups.active.reduce((n, st) => n + (stats.users[u][st]?.[0] || 0), 0)
      : stats.users[u][c]?.[0] || 0;
  if (names.length)
    table(
      users,
      'numbers',
      ['user', ...cols],
      names.map((u) => [{ text: u, href: route('user', u) }, ...cols.map((c) => count(u, c))]),
      names,
    );
  else note(users, 'No transfers yet.');
}

function renderAgents(main: Sel, beats: readonly HeartbeatDoc[]): void {
  const health = section(main, 'Agents', 'agents');
  // The same rule as `couchstage doctor` (views/lib/agent-health.ts): old instances of restarted
  // agents are not problems, and leave the table an hour after their last beat.
  const all = instanceHealth(beats, Date.now());
  const shown = all.filter((i) => i.shown);
  const label: Record<InstanceStatus, { text: string; cls: string }> = {
    alive: { text: 'ok', cls: 'ok' },
    stopped: { text: 'stopped cleanly', cls: 'quiet' },
    replaced: { text: 'replaced (stopped beating; a newer instance runs)', cls: 'quiet' },
    dead: { text: 'stopped beating', cls: 'bad' },
  };
  if (shown.length) {
    table(
      health,
      'agents',
      ['agent', 'instance', 'last heartbeat', 'status'],
      shown.map((i) => [i.agent, i.instance, `${ago(i.ageMs)} ago`, { ...label[i.status], col: 'status' }]),
      shown.map((i) => i.id),
    );
  } else note(health, beats.length ? 'No agent instance ran in the last hour.' : 'No agent has sent a heartbeat.');
  const hidden = all.length - shown.length;
  if (hidden) note(health, `${hidden} older instance(s) not listed: stopped or replaced more than an hour ago.`);
}

function ago(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
}
