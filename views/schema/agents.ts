/**
 * What the agents keep for themselves: leader locks and heartbeats in `transfers`, the heartbeat
 * timing the page and `doctor` judge them by, and the ids of their `_local` feed checkpoints.
 * Separate from the transfer documents because no user writes or reads these as data.
 */

import type { CouchMeta, Lease } from './databases';

/** A leader lease: one active instance of an agent at a time (the scheduler), others stand by. */
export interface LockDoc extends CouchMeta {
  readonly type: 'lock';
  readonly lease: Lease | null;
}

export interface HeartbeatDoc extends CouchMeta {
  readonly type: 'heartbeat';
  readonly agent: string;
  readonly instance: string;
  readonly at: string;
  /** Written in the last beat of an instance that stopped cleanly. */
  readonly stopped_at?: string;
  readonly [extra: string]: unknown;
}

/** Every agent instance writes `heartbeat:<agent>:<instance>` this often. */
export const HEARTBEAT_MS = 30_000;
/** Missed beats after which an instance that did not say it stopped counts as gone. */
export const MISSED_BEATS = 3;
/** An instance silent this long (90 s) is dead, for the page's Agents table and for `doctor`. */
export const HEARTBEAT_STALE_MS = MISSED_BEATS * HEARTBEAT_MS;

/**
 * `_local` checkpoint ids: one per agent (and instance group), in the `service` database. Older
 * deployments kept them under the same id in the feed's own database, where any member could
 * write them (agents/lib/checkpoint.ts ignores and removes those).
 */
export function checkpointId(agent: string): string {
  return '_local/' + agent;
}
