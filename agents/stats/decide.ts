/**
 * The stats agent's pure part: a roll-up of every transfer's contribution to the monitoring
 * page's numbers, updated per document (replace, never add: a replayed change is harmless), and
 * the summary document built from it. The keys are the overview view's (views/lib/monitor.ts),
 * plus the `totals` and `by_user` views' [state] and [user, state], so the page shows the same
 * numbers whether it reads views or this roll-up.
 */
import {
  DocType,
  MONITOR_STATS_ID,
  TransferMachine,
  TransferState,
  type FilesBytes,
  type LinkStats,
  type MonitorStatsDoc,
  type TimeRow,
  type TransferDoc,
} from '../../views/schema';
import { linkKey } from '../../views/lib/link-key';
import { OverviewKind, overviewKeys, type OverviewKey } from '../../views/lib/monitor';

interface Agg {
  key: OverviewKey;
  count: number;
  sum: number;
}

/** Time windows the summary carries (the page's three charts): why these: a screen's width of bars. */
export const WINDOWS = { minute: 120, hour: 48, day: 30 } as const;
const MINUTE_MS = 60_000;

function pad(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

/** UTC labels of the last `n` buckets ending at `now`, oldest first. */
export function bucketLabels(now: Date, unit: keyof typeof WINDOWS): string[] {
  const out: string[] = [];
  const step = unit === 'minute' ? MINUTE_MS : unit === 'hour' ? 60 * MINUTE_MS : 24 * 60 * MINUTE_MS;
  for (let i = WINDOWS[unit] - 1; i >= 0; i--) {
    const d = new Date(now.getTime() - i * step);
    const day = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
    out.push(
      unit === 'day'
        ? day
        : unit === 'hour'
          ? `${day}T${pad(d.getUTCHours())}`
          : `${day}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`,
    );
  }
  return out;
}

function add(map: Map<string, Agg>, key: OverviewKey, size: number, sign: 1 | -1): void {
  const k = JSON.stringify(key);
  let a = map.get(k);
  if (!a) map.set(k, (a = { key, count: 0, sum: 0 }));
  a.count += sign;
  a.sum += sign * size;
  if (a.count === 0) map.delete(k);
}

function keysOf(doc: TransferDoc): Array<[OverviewKey, number]> {
  const keys = overviewKeys(doc);
  if (keys.length) {
    const size = typeof doc.size === 'number' ? doc.size : 0;
    keys.push([['state', doc.state], size], [['user', doc.user, doc.state], size]);
  }
  return keys;
}

export class Rollup {
  private readonly byId = new Map<string, Array<[OverviewKey, number]>>();
  private readonly agg = new Map<string, Agg>();

  get size(): number {
    return this.byId.size;
  }

  /** Replaces what one document contributes; a deleted or non-transfer document contributes nothing. */
  apply(doc: { _id: string; _deleted?: boolean; type?: string }): boolean {
    const old = this.byId.get(doc._id);
    const next = !doc._deleted && doc.type === DocType.transfer ? keysOf(doc as TransferDoc) : [];
    if (!old && !next.length) return false;
    if (old && JSON.stringify(old) === JSON.stringify(next)) return false;
    if (old) for (const [k, s] of old) add(this.agg, k, s, -1);
    for (const [k, s] of next) add(this.agg, k, s, 1);
    if (next.length) this.byId.set(doc._id, next);
    else this.byId.delete(doc._id);
    return true;
  }

  summary(now: Date, seq: number): MonitorStatsDoc {
    const t = newTally(now);
    for (const a of this.agg.values()) tally(t, a);
    return {
      _id: MONITOR_STATS_ID,
      type: DocType.monitorStats,
      updated_at: now.toISOString(),
      seq,
      transfers: this.byId.size,
      states: t.states as Record<string, FilesBytes>,
      users: t.users,
      links: sortedLinks(t.links),
      time: {
        minute: [...t.rows.minute.values()] as TimeRow[],
        hour: [...t.rows.hour.values()] as TimeRow[],
        day: [...t.rows.day.values()] as TimeRow[],
      },
      failures: [...t.failures.values()].sort((a, b) => b.files - a.files || (a.reason < b.reason ? -1 : 1)),
      publication: t.publication,
      publication_users: t.publicationUsers,
    };
  }
}

type Row = [string, number, number, number, number];
type MutableLink = { -readonly [K in keyof LinkStats]: LinkStats[K] };

/** The summary's figures while the roll-up's aggregates are counted into them. */
interface Tally {
  readonly states: Record<string, [number, number]>;
  readonly users: Record<string, Record<string, [number, number]>>;
  readonly links: Map<string, MutableLink>;
  readonly failures: Map<string, { reason: string; files: number; bytes: number; users: Record<string, number> }>;
  readonly publication: Record<string, [number, number]>;
  readonly publicationUsers: Record<string, Record<string, [number, number]>>;
  readonly rows: Record<keyof typeof WINDOWS, Map<string, Row>>;
  /** The minute label an hour before `now`: transfers done since count in a link's hour figures. */
  readonly hourAgo: string;
}

function newTally(now: Date): Tally {
  const labels = {
    minute: bucketLabels(now, 'minute'),
    hour: bucketLabels(now, 'hour'),
    day: bucketLabels(now, 'day'),
  };
  return {
    states: {},
    users: {},
    links: new Map(),
    failures: new Map(),
    publication: {},
    publicationUsers: {},
    rows: {
      minute: new Map(labels.minute.map((l) => [l, [l, 0, 0, 0, 0] as Row])),
      hour: new Map(labels.hour.map((l) => [l, [l, 0, 0, 0, 0] as Row])),
      day: new Map(labels.day.map((l) => [l, [l, 0, 0, 0, 0] as Row])),
    },
    hourAgo: labels.minute[WINDOWS.minute - 60],
  };
}

function linkOf(links: Map<string, MutableLink>, src: string, dst: string): MutableLink {
  const id = linkKey(src, dst);
  let l = links.get(id);
  if (!l)
    links.set(
      id,
      (l = {
        source: src,
        destination: dst,
        active: 0,
        done: 0,
        failed: 0,
        files: 0,
        done_bytes: 0,
        hour_files: 0,
        hour_bytes: 0,
      }),
    );
  return l;
}

function addFilesBytes(o: Record<string, [number, number]>, k: string, a: Agg): void {
  const v = o[k] || (o[k] = [0, 0]);
  v[0] += a.count;
  v[1] += a.sum;
}

/** Counts one aggregate into the figures its key kind feeds. */
function tally(t: Tally, a: Agg): void {
  const k = a.key as string[];
  if (k[0] === 'state') addFilesBytes(t.states, k[1], a);
  else if (k[0] === 'user') addFilesBytes(t.users[k[1]] || (t.users[k[1]] = {}), k[2], a);
  else if (k[0] === OverviewKind.link) tallyLink(t, k, a);
  else if (k[0] === OverviewKind.time) tallyTime(t, k, a);
  else if (k[0] === OverviewKind.fail) {
    let f = t.failures.get(k[1]);
    if (!f) t.failures.set(k[1], (f = { reason: k[1], files: 0, bytes: 0, users: {} }));
    f.files += a.count;
    f.bytes += a.sum;
    f.users[k[2]] = (f.users[k[2]] || 0) + a.count;
  } else if (k[0] === OverviewKind.pub) {
    addFilesBytes(t.publication, k[3], a);
    addFilesBytes(t.publicationUsers[k[1]] || (t.publicationUsers[k[1]] = {}), k[3], a);
  }
}

/** [link, source, destination, state]: a link's files by state. */
function tallyLink(t: Tally, k: string[], a: Agg): void {
  const l = linkOf(t.links, k[1], k[2]);
  l.files += a.count;
  if (TransferMachine.inGroup('active', k[3] as TransferState)) l.active += a.count;
  if (k[3] === TransferState.done) {
    l.done += a.count;
    l.done_bytes += a.sum;
  }
  if (k[3] === TransferState.failed) l.failed += a.count;
}

/** [time, state, day, hour, minute, source, destination]: the three charts' bars, and a link's last hour. */
function tallyTime(t: Tally, k: string[], a: Agg): void {
  const minute = `${k[2]}T${k[3]}:${k[4]}`;
  const col = k[1] === TransferState.done ? 1 : 3;
  for (const [unit, label] of [
    ['minute', minute],
    ['hour', `${k[2]}T${k[3]}`],
    ['day', k[2]],
  ] as const) {
    const r = t.rows[unit].get(label);
    if (r) {
      (r[col] as number) += a.count;
      (r[col + 1] as number) += a.sum;
    }
  }
  if (k[1] === TransferState.done && minute >= t.hourAgo) {
    const l = linkOf(t.links, k[5], k[6]);
    l.hour_files += a.count;
    l.hour_bytes += a.sum;
  }
}

/** Links with files or last-hour figures, by source then destination. */
function sortedLinks(links: Map<string, MutableLink>): MutableLink[] {
  return [...links.values()]
    .filter((l) => l.files > 0 || l.hour_files > 0)
    .sort((a, b) =>
      a.source < b.source
        ? -1
        : a.source > b.source
          ? 1
          : a.destination < b.destination
            ? -1
            : a.destination > b.destination
              ? 1
              : 0,
    );
}
