/**
 * Overview: state totals, finished files over time, the link matrix, publication status, agent
 * health and users. One read of the stats agent's roll-up (`monitor-stats`, which only agents
 * and operators can write) plus the heartbeat documents: small and constant whatever the number of transfers. Without a roll-up
 * (the stats agent not running yet) the state totals come from the `totals` view.
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
import { fmtBytes, note, route, section, table, type Sel } from './dom';
import { instanceHealth, type InstanceStatus } from '../views/lib/agent-health';

export interface OverviewPrefs {
  unit: 'minute' | 'hour' | 'day';
  metric: 'files' | 'bytes';
  unconfigured: boolean;
  /** Whose state totals: one's own, or the whole system; null: by role (own for a user, all for an operator). */
  scope: 'mine' | 'all' | null;
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
  let states: Record<string, readonly [number, number]>;
  if (stats) states = scope === 'mine' ? stats.users[me.name] || {} : stats.states;
  else if (scope === 'mine') {
    // No roll-up yet: the user's own rows of by_user ([user, workflow, state]), summed per state.
    const rows = await view(Views.byUser, { group_level: 3, startkey: [me.name], endkey: [me.name, {}] });
    const acc: Record<string, [number, number]> = {};
    for (const r of rows) {
      const st = String((r.key as unknown[])[2]);
      const v = r.value as StatsValue;
      acc[st] = [(acc[st]?.[0] || 0) + v.count, (acc[st]?.[1] || 0) + v.sum];
    }
    states = acc;
  } else {
    const rows = await view(Views.totals, { group_level: 1 });
    states = Object.fromEntries(
      rows.map((r) => [
        String((r.key as unknown[])[0]),
        [(r.value as StatsValue).count, (r.value as StatsValue).sum] as const,
      ]),
    );
  }
  main.selectAll('*').remove();
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

  const totals = section(
    main,
    scope === 'mine' ? `Your transfers by state (${me.name})` : 'Transfers by state (whole system)',
    'states',
  );
  totals.attr('data-scope', scope);
  const sw = totals.append('div').attr('class', 'controls');
  sw.append('button')
    .attr('type', 'button')
    .attr('data-scope', 'mine')
    .classed('on', scope === 'mine')
    .text('yours')
    .on('click', () => {
      prefs.scope = 'mine';
      rerender();
    });
  sw.append('button')
    .attr('type', 'button')
    .attr('data-scope', 'all')
    .classed('on', scope === 'all')
    .text('whole system')
    .on('click', () => {
      prefs.scope = 'all';
      rerender();
    });
  table(
    totals,
    'numbers',
    ['state', 'files', 'bytes'],
    TRANSFER_STATES.map((s) => [s, states[s]?.[0] || 0, { text: fmtBytes(states[s]?.[1] || 0), col: 'bytes' }]),
    TRANSFER_STATES,
  );

  if (stats) {
    const time = section(main, 'Transfers over time (whole system)', 'time');
    const controls = time.append('div').attr('class', 'controls');
    for (const u of ['minute', 'hour', 'day'] as const) {
      controls
        .append('button')
        .attr('type', 'button')
        .attr('data-unit', u)
        .classed('on', prefs.unit === u)
        .text(`per ${u}`)
        .on('click', () => {
          prefs.unit = u;
          rerender();
        });
    }
    for (const m of ['files', 'bytes'] as const) {
      controls
        .append('button')
        .attr('type', 'button')
        .attr('data-metric', m)
        .classed('on', prefs.metric === m)
        .text(m)
        .on('click', () => {
          prefs.metric = m;
          rerender();
        });
    }
    controls
      .append('span')
      .attr('class', 'legend')
      .call((s) => {
        s.append('span').attr('class', 'key done').text('done');
        s.append('span').attr('class', 'key failed').text('failed');
      });
    timeChart(time, stats.time[prefs.unit], prefs.metric);

    const links = section(main, 'Links (whole system; colour: failure rate)', 'links');
    // A transfer naming a site that is not configured fails at once; its link would stay in the
    // matrix as a red row for good. Such links are set apart, shown on request.
    const unknown = (l: { source: string; destination: string }) =>
      !!sites && (!sites.has(l.source) || !sites.has(l.destination));
    const odd = stats.links.filter(unknown);
    const shown = prefs.unconfigured ? stats.links : stats.links.filter((l) => !unknown(l));
    if (shown.length) linkMatrix(links, shown, lastHourWindow(stats.time.minute, stats.updated_at));
    else if (!stats.links.length) note(links, 'No transfers yet.');
    if (odd.length) {
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

    const pub = section(main, 'Publication', 'publication');
    const pubSrc = me.ops ? stats.publication : stats.publication_users[me.name] || {};
    table(
      pub,
      'numbers',
      ['publication state', 'files', 'bytes'],
      PUBLICATION_STATES.map((s) => [s, pubSrc[s]?.[0] || 0, { text: fmtBytes(pubSrc[s]?.[1] || 0), col: 'bytes' }]),
      PUBLICATION_STATES,
    );

    const users = section(main, me.ops ? 'Users' : 'Your transfers', 'users');
    const names = Object.keys(stats.users)
      .filter((u) => me.ops || u === me.name)
      .sort();
    const ACTIVE = 'active';
    const cols = [
      TransferState.new,
      ACTIVE,
      TransferState.retry,
      TransferState.done,
      ...TransferMachine.groups.failure,
    ];
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
