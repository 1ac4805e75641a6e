/**
 * Overview: state totals, finished files over time, the link matrix, publication status, agent
 * health and users. One read of the stats agent's roll-up (`_local/monitor-stats`) plus the
 * heartbeat documents: small and constant whatever the number of transfers. Without a roll-up
 * (the stats agent not running yet) the state totals come from the `totals` view.
 */
import { MONITOR_STATS_ID, PUBLICATION_STATES, TRANSFER_STATES, type HeartbeatDoc, type MonitorStatsDoc } from '../views/schema';
import { DB, getJson, HttpError, view, type StatsValue } from './api';
import { linkMatrix, timeChart } from './charts';
import { fmtBytes, note, route, section, table, type Sel } from './dom';
import type { Me } from './main';

/** A heartbeat older than this is stale: three missed 30 s beats (the runner's interval). */
export const STALE_MS = 90_000;

export interface OverviewPrefs { unit: 'minute' | 'hour' | 'day'; metric: 'files' | 'bytes' }
export const prefs: OverviewPrefs = { unit: 'minute', metric: 'files' };

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
    `${DB}_all_docs?include_docs=true&startkey=${encodeURIComponent('"heartbeat:"')}&endkey=${encodeURIComponent('"heartbeat:\ufff0"')}`);
  return res.rows.map((r) => r.doc!).filter(Boolean);
}

let prefetched: Promise<[MonitorStatsDoc | null, HeartbeatDoc[]]> | null = null;

/** Starts the overview's two reads while the session is still being checked (one round trip less). */
export function prefetchOverview(): void {
  prefetched = Promise.all([loadStats(), loadHeartbeats()]);
  prefetched.catch(() => undefined);
}

export function dropPrefetch(): void {
  prefetched = null;
}

export async function renderOverview(main: Sel, me: Me, rerender: () => void): Promise<void> {
  const pending = prefetched || Promise.all([loadStats(), loadHeartbeats()]);
  prefetched = null;
  const [stats, beats] = await pending;
  let states: Record<string, readonly [number, number]>;
  if (stats) states = stats.states;
  else {
    const rows = await view('totals', { group_level: 1 });
    states = Object.fromEntries(rows.map((r) => [String((r.key as unknown[])[0]), [(r.value as StatsValue).count, (r.value as StatsValue).sum] as const]));
  }
  main.selectAll('*').remove();
  if (stats) note(main, `Summary as of ${stats.updated_at.replace('T', ' ').slice(0, 19)} UTC (stats agent), ${stats.transfers} transfers.`, 'asof');
  else note(main, 'The stats agent has not written its summary yet: only the state totals are shown (from the totals view).', 'warn');

  const totals = section(main, 'Transfers by state', 'states');
  table(totals, 'numbers', ['state', 'files', 'bytes'],
    TRANSFER_STATES.map((s) => [s, states[s]?.[0] || 0, { text: fmtBytes(states[s]?.[1] || 0), col: 'bytes' }]), TRANSFER_STATES);

  if (stats) {
    const time = section(main, 'Transfers over time', 'time');
    const controls = time.append('div').attr('class', 'controls');
    for (const u of ['minute', 'hour', 'day'] as const) {
      controls.append('button').attr('type', 'button').attr('data-unit', u).classed('on', prefs.unit === u).text(`per ${u}`)
        .on('click', () => { prefs.unit = u; rerender(); });
    }
    for (const m of ['files', 'bytes'] as const) {
      controls.append('button').attr('type', 'button').attr('data-metric', m).classed('on', prefs.metric === m).text(m)
        .on('click', () => { prefs.metric = m; rerender(); });
    }
    controls.append('span').attr('class', 'legend').call((s) => {
      s.append('span').attr('class', 'key done').text('done');
      s.append('span').attr('class', 'key failed').text('failed');
    });
    timeChart(time, stats.time[prefs.unit], prefs.metric);

    const links = section(main, 'Links (colour: failure rate)', 'links');
    if (stats.links.length) linkMatrix(links, stats.links);
    else note(links, 'No transfers yet.');

    const pub = section(main, 'Publication', 'publication');
    const pubSrc = me.ops ? stats.publication : (stats.publication_users[me.name] || {});
    table(pub, 'numbers', ['publication state', 'files', 'bytes'],
      PUBLICATION_STATES.map((s) => [s, pubSrc[s]?.[0] || 0, { text: fmtBytes(pubSrc[s]?.[1] || 0), col: 'bytes' }]), PUBLICATION_STATES);

    const users = section(main, me.ops ? 'Users' : 'Your transfers', 'users');
    const names = Object.keys(stats.users).filter((u) => me.ops || u === me.name).sort();
    const cols = ['new', 'active', 'retry', 'done', 'failed', 'killed', 'expired'];
    const count = (u: string, c: string) => c === 'active'
      ? (stats.users[u].acquired?.[0] || 0) + (stats.users[u].submitted?.[0] || 0)
      : stats.users[u][c]?.[0] || 0;
    if (names.length) table(users, 'numbers', ['user', ...cols], names.map((u) => [{ text: u, href: route('user', u) }, ...cols.map((c) => count(u, c))]), names);
    else note(users, 'No transfers yet.');
  }

  const health = section(main, 'Agents', 'agents');
  const now = Date.now();
  if (beats.length) {
    table(health, 'agents', ['agent', 'instance', 'last heartbeat', 'status'], beats.map((b) => {
      const age = now - Date.parse(b.at);
      const ok = age < STALE_MS;
      return [b.agent, b.instance, `${Math.max(0, Math.round(age / 1000))} s ago`, { text: ok ? 'ok' : 'stale', cls: ok ? 'ok' : 'bad', col: 'status' }];
    }), beats.map((b) => b._id));
  } else note(health, 'No agent has sent a heartbeat.');
}
