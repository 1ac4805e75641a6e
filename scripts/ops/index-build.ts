/**
 * View signatures and index builds, shared by `upgrade`, `migrate-db`, `doctor` and the index
 * benchmark. CouchDB keys a view index by a signature over the design doc's language, options
 * and views (map and reduce of each), not by its id or its other fields; PouchDB keys each view's
 * index by its map and reduce. So a design doc whose views are unchanged (only validation or
 * attachments moved) keeps its index, and a staged copy with the same views, COPYed over the live
 * doc, answers at once: both servers reuse the index.
 */
import { createHash } from 'crypto';
import { performance } from 'perf_hooks';
import { ddocPath, dbPath, formatSeconds, http, expectStatus } from './http';
import { capabilities } from '../../agents/platform/capabilities';

export interface DesignLike {
  readonly _id?: string;
  readonly language?: string;
  readonly options?: unknown;
  readonly views?: Record<string, { map: string; reduce?: string }>;
}

/** Our view signature: what the servers' own signatures depend on. null: no views. */
export function viewSignature(doc: DesignLike | null | undefined): string | null {
  if (!doc || !doc.views || !Object.keys(doc.views).length) return null;
  const views = Object.keys(doc.views)
    .sort()
    .map((k) => [k, doc.views![k].map, doc.views![k].reduce ?? null]);
  return createHash('sha256')
    .update(JSON.stringify({ language: doc.language || 'javascript', options: doc.options ?? null, views }))
    .digest('hex');
}

export interface Progress {
  readonly done: number;
  readonly total: number;
  readonly source: 'active_tasks' | 'polling';
}

/** Indexer tasks of one design document from `_active_tasks` (capabilities.activeTasks). */
export async function indexerProgress(url: string, db: string, ddocId: string): Promise<Progress | null> {
  const a = await http<Record<string, unknown>[]>(url, 'GET', '/_active_tasks').catch(() => null);
  if (!a || a.status !== 200 || !Array.isArray(a.body)) return null;
  // On a cluster, `database` is a shard: "shards/00000000-7fffffff/<db>.1700000000", and every
  // node lists the tasks of its own copies (`node` differs, `database` is the same): the copy
  // furthest along stands for its shard, so done and total count each document once, not n times.
  const shards = new Map<string, { done: number; total: number }>();
  for (const t of a.body) {
    if (t.type !== 'indexer' || t.design_document !== ddocId) continue;
    const tdb = String(t.database || '');
    if (tdb !== db && !tdb.includes('/' + db + '.')) continue;
    const cur = { done: Number(t.changes_done || 0), total: Number(t.total_changes || 0) };
    const prev = shards.get(tdb);
    if (!prev || cur.done / Math.max(cur.total, 1) > prev.done / Math.max(prev.total, 1)) shards.set(tdb, cur);
  }
  if (!shards.size) return null;
  let done = 0;
  let total = 0;
  for (const s of shards.values()) {
    done += s.done;
    total += s.total;
  }
  return { done, total, source: 'active_tasks' };
}

export interface BuildReport {
  readonly ddoc: string;
  readonly views: number;
  readonly docs: number;
  readonly seconds: number;
  readonly docsPerSecond: number;
  /** Where the progress lines came from: the server's indexer tasks, or elapsed time per view. */
  readonly progressFrom: 'active_tasks' | 'polling';
}

/**
 * Builds every view index of a design document by querying each view (limit 1; reduce=false so
 * the embedded server does not reduce the whole index). CouchDB answers when the index is built;
 * meanwhile progress comes from `_active_tasks` where the server lists its indexers (CouchDB
 * builds every view of a design doc in one pass, one task per shard: changes done / total over
 * the shards), else from polling (elapsed time, and an ETA from the document count at a rate
 * measured on the first views: PouchDB builds the views one after the other). Re-running on a built index is a
 * cheap no-op: this is what makes `upgrade` resumable without a second build.
 */
export async function buildIndexes(
  url: string,
  db: string,
  ddocId: string,
  views: Record<string, { reduce?: string }>,
  opts: { log?: (line: string) => void; pollMs?: number; signal?: AbortSignal } = {},
): Promise<BuildReport> {
  const log = opts.log || (() => undefined);
  const info = expectStatus(await http<{ doc_count: number }>(url, 'GET', dbPath(db)), `database ${db}`).body;
  const docs = info.doc_count;
  const names = Object.keys(views).sort();
  const t0 = performance.now();
  const state: BuildState = { finished: 0, fromTasks: false };
  const pollMs = opts.pollMs ?? 2000;
  const tasks = (await capabilities(url)).activeTasks;
  let lastLine = '';
  const timer = setInterval(async () => {
    const elapsed = (performance.now() - t0) / 1000;
    const line = await progressLine(url, db, ddocId, { tasks, views: names.length, docs, elapsed }, state);
    if (line !== lastLine) log(line);
    lastLine = line;
  }, pollMs);
  try {
    for (const name of names) {
      await buildView(url, db, ddocId, name, !!views[name].reduce, log, opts.signal);
      state.finished++;
    }
  } finally {
    clearInterval(timer);
  }
  const seconds = (performance.now() - t0) / 1000;
  const report: BuildReport = {
    ddoc: ddocId,
    views: names.length,
    docs,
    seconds,
    docsPerSecond: docs / Math.max(seconds, 0.001),
    progressFrom: state.fromTasks ? 'active_tasks' : 'polling',
  };
  log(
    `  ${ddocId}: ${names.length} views indexed over ${docs} docs in ${formatSeconds(seconds)} (${report.docsPerSecond.toFixed(0)} docs/s)`,
  );
  return report;
}

/** What a build has done so far: views answered, and whether the server's indexer tasks were seen. */
interface BuildState {
  finished: number;
  fromTasks: boolean;
}

/** One progress line: from the server's indexer tasks where it lists them, else from the views done so far. */
async function progressLine(
  url: string,
  db: string,
  ddocId: string,
  o: { tasks: boolean; views: number; docs: number; elapsed: number },
  state: BuildState,
): Promise<string> {
  const { tasks, elapsed, docs } = o;
  const p = tasks ? await indexerProgress(url, db, ddocId).catch(() => null) : null;
  if (tasks && !(p && p.total > 0)) {
    return `  ${ddocId}: no indexer task listed yet, ${formatSeconds(elapsed)} elapsed (queued, or finishing)`;
  } else if (p && p.total > 0) {
    state.fromTasks = true;
    // A shard's task can count a change or two more than its total (changes written meanwhile).
    const done = Math.min(p.done, p.total);
    const rate = done / Math.max(elapsed, 0.001);
    const pct = (100 * done) / p.total;
    const bar = '#'.repeat(Math.round(pct / 5)).padEnd(20, '.');
    return `  ${ddocId} [${bar}] ${pct.toFixed(0)}% ${done}/${p.total} changes, ${rate.toFixed(0)} docs/s, ETA ${formatSeconds((p.total - done) / Math.max(rate, 0.001))}`;
  } else {
    // No task list (capabilities.activeTasks): views are built one after the other, so
    // the share of views done and the time they took give the rate and the ETA.
    const finished = state.finished;
    const rate = finished ? (finished * docs) / elapsed : 0;
    const eta = finished ? ((o.views - finished) * docs) / rate : NaN;
    return `  ${ddocId}: ${finished}/${o.views} views indexed over ${docs} docs, ${formatSeconds(elapsed)} elapsed${finished ? `, ${rate.toFixed(0)} docs/s, ETA ${formatSeconds(eta)}` : ''} (polling)`;
  }
}

/** Queries one view until it answers (its index is built), asking again while the server is still building. */
async function buildView(
  url: string,
  db: string,
  ddocId: string,
  name: string,
  reduce: boolean,
  log: (line: string) => void,
  signal?: AbortSignal,
): Promise<void> {
  const qs = `limit=1${reduce ? '&reduce=false' : ''}`;
  let quickFailures = 0;
  for (;;) {
    const asked = performance.now();
    try {
      expectStatus(
        await http(url, 'GET', `${ddocPath(db, ddocId)}/_view/${encodeURIComponent(name)}?${qs}`, {
          signal,
        }),
        `building ${db}/${ddocId}/${name}`,
      );
      return;
    } catch (err) {
      const e = err as { statusCode?: number; error?: string };
      // CouchDB 3 answers a view query that waited `[fabric] request_timeout` (60 s by
      // default) for its index with 500 `timeout`, and the indexer goes on: measured on an
      // 800k-document staged build, which failed here after the first minute. Ask again.
      if (!signal?.aborted && e.statusCode === 500 && e.error === 'timeout') {
        log(
          `  ${ddocId}/${name}: still building (the server answered ${e.statusCode} timeout to a query that waited); asking again`,
        );
        continue;
      }
      // Node's fetch gives up waiting for headers after 5 minutes, a proxy may cut the
      // request sooner; the server goes on building: ask again. Other HTTP errors are real.
      if (signal?.aborted || e.statusCode !== undefined) throw err;
      // A server that refuses at once (down, wrong port) is not building anything.
      if (performance.now() - asked < 5000 && ++quickFailures >= 5) throw err;
      if (performance.now() - asked < 5000) await new Promise((r) => setTimeout(r, 1000));
      log(`  ${ddocId}/${name}: still building (${(err as Error).message}); asking again`);
    }
  }
}

/** `POST /db/_view_cleanup`: drops index files no design doc uses any more. */
export async function viewCleanup(url: string, db: string): Promise<void> {
  expectStatus(await http(url, 'POST', dbPath(db) + '/_view_cleanup', { body: {} }), `view cleanup of ${db}`);
}
