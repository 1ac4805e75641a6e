/**
 * The CouchDB client every part of couchstage uses: nano, plus error classification and a
 * capped backoff. 4xx other than 409/429 is a bug or bad input (permanent); 5xx, 429, a cluster's
 * `412 nodedown` (nodes.ts) and network errors are transient and back off 5 s -> 60 s (a
 * restarting server is back within that). 409 is
 * its own class: the caller re-reads and decides (idempotent effects).
 */
import type nano from 'nano';
import { authParts, isNodesDown, nanoOver, nodeRequest, type NodeAnswer } from './nodes';

export { authParts };

export type Server = nano.ServerScope;
export type Db = nano.DocumentScope<Record<string, unknown>>;
export type ErrorKind = 'conflict' | 'permanent' | 'transient';

export interface CouchError extends Error {
  statusCode?: number;
  error?: string;
  reason?: string;
}

/** nano on `url`: one server, or a comma-separated node list of one cluster (nodes.ts fails over). */
export function connect(url: string): Server {
  return nanoOver(url);
}

export function statusOf(err: unknown): number | undefined {
  return (err as CouchError | undefined)?.statusCode;
}

export function errorKind(err: unknown): ErrorKind {
  const status = statusOf(err);
  if (status === 409) return 'conflict';
  if (status === undefined || status === 429 || status >= 500 || isNodesDown(err)) return 'transient';
  return 'permanent';
}

/** "403 forbidden: size: must be ..." from a nano error, for logs and CLI output. */
export function describeError(err: unknown): string {
  const e = err as CouchError;
  if (e && e.statusCode) return `${e.statusCode} ${e.error || ''}: ${e.reason || e.message}`.trim();
  return e && e.message ? e.message : String(err);
}

export interface Backoff {
  /** Delay before attempt n (0-based) in ms. */
  delay(attempt: number): number;
}

/** 5 s, 10 s, 20 s, 40 s, 60 s, 60 s...: long enough for a restarting server, short enough to notice. */
export const defaultBackoff: Backoff = { delay: (n) => Math.min(60_000, 5_000 * 2 ** n) };

/** Resolves after `ms`, or early (without throwing) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * `signal`, or `ms` elapsed, whichever comes first; `clear` stops the timer. Not
 * `AbortSignal.any([signal, AbortSignal.timeout(ms)])`: on Node 20 the timeout signal inside
 * `any` is held only weakly, so a garbage collection during the wait loses it and the combined
 * signal never aborts (measured: 0 of 20 fired after a `gc()`; a fetch given it hung). Here the
 * timer's closure holds the controller, so it fires whatever the collector does.
 */
export function withTimeout(signal: AbortSignal, ms: number): { signal: AbortSignal; clear: () => void } {
  const timer = new AbortController();
  const t = setTimeout(() => timer.abort(new DOMException(`no answer within ${ms} ms`, 'TimeoutError')), ms);
  return { signal: AbortSignal.any([signal, timer.signal]), clear: () => clearTimeout(t) };
}

/** Runs `fn` until it succeeds or fails permanently; transient errors back off. */
export async function withRetry<T>(
  fn: () => Promise<T>,
  opts: {
    signal?: AbortSignal;
    backoff?: Backoff;
    maxAttempts?: number;
    onRetry?: (err: unknown, ms: number) => void;
  } = {},
): Promise<T> {
  const backoff = opts.backoff || defaultBackoff;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (errorKind(err) !== 'transient' || opts.signal?.aborted || attempt + 1 >= (opts.maxAttempts ?? Infinity))
        throw err;
      const ms = backoff.delay(attempt);
      opts.onRetry?.(err, ms);
      await sleep(ms, opts.signal);
    }
  }
}

export interface Change<D = Record<string, unknown>> {
  readonly id: string;
  readonly seq: string | number;
  readonly deleted?: boolean;
  readonly changes: readonly { rev: string }[];
  readonly doc?: D & { _id: string; _rev: string; _deleted?: boolean };
}

export interface ChangesResult<D = Record<string, unknown>> {
  readonly results: Change<D>[];
  readonly last_seq: string | number;
  readonly pending?: number;
}

/**
 * One `_changes` request, abortable (nano cannot pass an AbortSignal to the feed). Only the
 * normal and longpoll feeds: the embedded server has no eventsource and crashes on selectors.
 * `conflicts: true` (with `include_docs`) adds `_conflicts` to every document that has some.
 */
export async function fetchChanges<D = Record<string, unknown>>(
  url: string,
  db: string,
  params: {
    since: string | number;
    limit?: number;
    feed?: 'normal' | 'longpoll';
    timeout?: number;
    include_docs?: boolean;
    seq_interval?: number;
    conflicts?: boolean;
  },
  signal?: AbortSignal,
): Promise<ChangesResult<D>> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) qs.set(k, String(v));
  let res: NodeAnswer;
  try {
    // On a node list a failed node's request goes to the next node from the same `since`.
    res = await nodeRequest(url, `/${encodeURIComponent(db)}/_changes?${qs}`, { signal });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw Object.assign(new Error(`changes feed of ${db}: ${(err as Error).message}`), { statusCode: undefined });
  }
  const body = JSON.parse(res.text) as ChangesResult<D> & { error?: string; reason?: string };
  if (res.status >= 400)
    throw Object.assign(new Error(`${res.status} ${body.error}: ${body.reason}`), {
      statusCode: res.status,
      error: body.error,
      reason: body.reason,
    });
  return body;
}
