/**
 * The monitoring roll-up: the one document the `stats` agent writes to `transfers` and the
 * monitoring page reads instead of reducing every transfer row.
 */

/**
 * Where the stats agent keeps the roll-up: a normal document in `transfers`, so that
 * validate_doc_update sees every write of it and refuses all but agents and operators (a `_local`
 * document is written by any member unchecked, and the page showed a forged one as fact). The
 * page's users read it where they read everything else. Its cost: one revision in the feed at most
 * every 2 s while things change and every 30 s when idle, as the heartbeats already do; views skip
 * it (not a transfer).
 */
export const MONITOR_STATS_ID = 'monitor-stats';

/** [files, bytes] */
export type FilesBytes = readonly [number, number];

/** One link's counts in the roll-up. `active` = acquired + submitted; `hour_bytes`: done in the last hour. */
export interface LinkStats {
  readonly source: string;
  readonly destination: string;
  readonly active: number;
  readonly done: number;
  readonly failed: number;
  readonly files: number;
  readonly done_bytes: number;
  readonly hour_files: number;
  readonly hour_bytes: number;
}

/** [bucket label, done files, done bytes, failed files, failed bytes]; labels are UTC `YYYY-MM-DD[THH[:MM]]`. */
export type TimeRow = readonly [string, number, number, number, number];

/**
 * The roll-up the monitoring page's overview reads in one request instead of reducing 100k
 * rows: the same keys as the `overview`, `totals` and `by_user` views (views/lib/monitor.ts).
 */
export interface MonitorStatsDoc {
  readonly _id: typeof MONITOR_STATS_ID;
  readonly _rev?: string;
  readonly type: 'monitor_stats';
  readonly updated_at: string;
  /** The transfers feed sequence (as a number) the roll-up has seen. */
  readonly seq: number;
  readonly transfers: number;
  readonly states: Readonly<Record<string, FilesBytes>>;
  /** user -> state -> [files, bytes] */
  readonly users: Readonly<Record<string, Readonly<Record<string, FilesBytes>>>>;
  readonly links: readonly LinkStats[];
  readonly time: {
    readonly minute: readonly TimeRow[];
    readonly hour: readonly TimeRow[];
    readonly day: readonly TimeRow[];
  };
  /** Sorted by files, descending; `users`: user -> files. */
  readonly failures: ReadonlyArray<{
    readonly reason: string;
    readonly files: number;
    readonly bytes: number;
    readonly users: Readonly<Record<string, number>>;
  }>;
  /** publication state -> [files, bytes], and per user. */
  readonly publication: Readonly<Record<string, FilesBytes>>;
  readonly publication_users: Readonly<Record<string, Readonly<Record<string, FilesBytes>>>>;
}
