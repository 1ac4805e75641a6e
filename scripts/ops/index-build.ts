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

export interface DesignLike {
  readonly _id?: string;
  readonly language?: string;
  readonly options?: unknown;
  readonly views?: Record<string, { map: string; reduce?: string }>;
}

/** Our view signature: what the servers' own signatures depend on. null: no views. */
export function viewSignature(doc: DesignLike | null | undefined): string | null {
  if (!doc || !doc.views || !Object.keys(doc.views).length) return null;
  const views = Object.keys(doc.views).sort().map((k) => [k, doc.views![k].map, doc.views![k].reduce ?? null]);
  return createHash('sha256').update(JSON.stringify({ language: doc.language || 'javascript', options: doc.options ?? null, views })).digest('hex');
}

export interface Progress {
  readonly done: number;
  readonly total: number;
  readonly source: 'active_tasks' | 'polling';
}

/** Indexer tasks of one design document from `_active_tasks` (CouchDB; empty elsewhere). */
export async function indexerProgress(url: string, db: string, ddocId: string): Promise<Progress | null> {
  const a = await http<Record<string, unknown>[]>(url, 'GET', '/_active_tasks').catch(() => null);
  if (!a || a.status !== 200 || !Array.isArray(a.body)) return null;
  let done = 0;
  let total = 0;
  let found = false;
  for (const t of a.body) {
    if (t.type !== 'indexer' || t.design_document !== ddocId) continue;
    // On a cluster, `database` is a shard: "shards/00000000-7fffffff/<db>.1700000000".
    const tdb = String(t.database || '');
    if (tdb !== db && !tdb.includes('/' + db + '.')) continue;
    found = true;
    done += Number(t.changes_done || 0);
    total += Number(t.total_changes || 0);
  }
  return found ? { done, total, source: 'active_tasks' } : null;
}

export interface BuildReport {
  readonly ddoc: string;
  readonly views: number;
  readonly docs: number;
  readonly seconds: number;
  readonly docsPerSecond: number;
}

/**
 * Builds every view index of a design document by querying each view (limit 1; reduce=false so
 * the embedded server does not reduce the whole index). CouchDB answers when the index is built;
 * meanwhile progress comes from `_active_tasks`, else from polling (elapsed time, and an ETA from
 * the document count at a rate measured on the first views). Re-running on a built index is a
 * cheap no-op: this is what makes `upgrade` resumable without a second build.
 */
export async function buildIndexes(url: string, db: string, ddocId: string, views: Record<string, { reduce?: string }>, opts: { log?: (line: string) => void; pollMs?: number; signal?: AbortSignal } = {}): Promise<BuildReport> {
  const log = opts.log || (() => undefined);
  const info = expectStatus(await http<{ doc_count: number }>(url, 'GET', dbPath(db)), `database ${db}`).body;
  const docs = info.doc_count;
  const names = Object.keys(views).sort();
  const t0 = performance.now();
  let finished = 0;
  const pollMs = opts.pollMs ?? 2000;
  let lastLine = '';
  const timer = setInterval(async () => {
    const elapsed = (performance.now() - t0) / 1000;
    const p = await indexerProgress(url, db, ddocId).catch(() => null);
    let line: string;
    if (p && p.total > 0) {
      const rate = p.done / Math.max(elapsed, 0.001);
      const pct = Math.min(100, (100 * p.done) / p.total);
      const bar = '#'.repeat(Math.round(pct / 5)).padEnd(20, '.');
      line = `  ${ddocId} [${bar}] ${pct.toFixed(0)}% ${p.done}/${p.total} changes, ${rate.toFixed(0)} docs/s, ETA ${formatSeconds((p.total - p.done) / Math.max(rate, 0.001))}`;
    } else {
      // No task list (the embedded server has none): views are built one after the other, so
      // the share of views done and the time they took give the rate and the ETA.
      const rate = finished ? (finished * docs) / elapsed : 0;
      const eta = finished ? ((names.length - finished) * docs) / rate : NaN;
      line = `  ${ddocId}: ${finished}/${names.length} views indexed over ${docs} docs, ${formatSeconds(elapsed)} elapsed${finished ? `, ${rate.toFixed(0)} docs/s, ETA ${formatSeconds(eta)}` : ''} (polling)`;
    }
    if (line !== lastLine) log(line);
    lastLine = line;
  }, pollMs);
  try {
    for (const name of names) {
      const qs = `limit=1${views[name].reduce ? '&reduce=false' : ''}`;
      let quickFailures = 0;
      for (;;) {
        const asked = performance.now();
        try {
          expectStatus(await http(url, 'GET', `${ddocPath(db, ddocId)}/_view/${encodeURIComponent(name)}?${qs}`, { signal: opts.signal }), `building ${db}/${ddocId}/${name}`);
          break;
        } catch (err) {
          // Node's fetch gives up waiting for headers after 5 minutes, a proxy may cut the
          // request sooner; the server goes on building: ask again. HTTP errors are real.
          if (opts.signal?.aborted || (err as { statusCode?: number }).statusCode !== undefined) throw err;
          // A server that refuses at once (down, wrong port) is not building anything.
          if (performance.now() - asked < 5000 && ++quickFailures >= 5) throw err;
          if (performance.now() - asked < 5000) await new Promise((r) => setTimeout(r, 1000));
          log(`  ${ddocId}/${name}: still building (${(err as Error).message}); asking again`);
        }
      }
      finished++;
    }
  } finally {
    clearInterval(timer);
  }
  const seconds = (performance.now() - t0) / 1000;
  const report = { ddoc: ddocId, views: names.length, docs, seconds, docsPerSecond: docs / Math.max(seconds, 0.001) };
  log(`  ${ddocId}: ${names.length} views indexed over ${docs} docs in ${formatSeconds(seconds)} (${report.docsPerSecond.toFixed(0)} docs/s)`);
  return report;
}

/** `POST /db/_view_cleanup`: drops index files no design doc uses any more. */
export async function viewCleanup(url: string, db: string): Promise<void> {
  expectStatus(await http(url, 'POST', dbPath(db) + '/_view_cleanup', { body: {} }), `view cleanup of ${db}`);
}
