/**
 * A write-through read cache in front of leveldown, for the embedded server only.
 *
 * PouchDB's LevelDB adapter reads a document's metadata for every entry of every `_changes`
 * read (to check the entry is the document's latest), and again for every write and every
 * fetch; each read is an asynchronous LevelDB get on the thread pool. A profile of the control
 * plane (one scheduler, one retrier and two workers following the transfers feed) showed those
 * gets as the largest single cost of the server (~26% of its CPU). The keys read are almost
 * always ones written a moment before, so this keeps the most recently written or read values
 * in memory (bounded in bytes, oldest first out) and answers gets from there.
 *
 * Coherence: every write of the database goes through this object (PouchDB opens each database
 * once per process, and the embedded server is the only process that opens it). Batches update
 * the cache when LevelDB has committed them, before their callback runs; a get that missed
 * fills the cache only if no write started or was in flight since it was issued, so a slow
 * read can never put an older value back. Iterators read LevelDB itself, which is always
 * current. Semantics are LevelDB's: the cache only changes what answers a get.
 *
 * Patch record.
 * Package: leveldown 6.1.1 (with abstract-leveldown 7.2.0, leveldown's own copy, for chained batches).
 * Function: the LevelDOWN instance's `_get`, `_batch`, `_put`, `_del`, `_chainedBatch`, `_clear`,
 * `_close`, as PouchDB 9.0.0's LevelDB adapter opens it (`db` option: CachedLevelDOWN).
 * Justified by: control plane 349 -> 477 files/s at 20k on the embedded server (BENCHMARKS.md,
 * control plane); CouchDB needs nothing like it (its own btree cache).
 * Goes when: the embedded default stops using PouchDB's LevelDB adapter, or that adapter stops
 * re-reading metadata per `_changes` entry.
 */
import { FifoBytes, type Value } from '../fifo-bytes';
import { bumpSecurityGeneration, countWrites, SECURITY_KEY } from '../generations';
import { upstream } from '../patched-versions';

type Callback = (err?: Error | null, value?: Value) => void;
type Done = (err?: Error | null) => void;
interface Op {
  type: 'put' | 'del';
  key: unknown;
  value?: Value;
}
/** A LevelDOWN instance, as far as this patch replaces its methods (leveldown ships no types). */
interface LevelDown {
  _get(key: unknown, options: { asBuffer?: boolean }, callback: Callback): void;
  _batch(ops: Op[], options: unknown, callback: Done): void;
  _put(key: unknown, value: Value, options: unknown, callback: Done): void;
  _del(key: unknown, options: unknown, callback: Done): void;
  _chainedBatch(): unknown;
  _clear(options: unknown, callback: Done): void;
  _close(callback: Done): void;
  cacheStats?: () => CacheStats;
}

const leveldown = upstream('leveldown').load();
// leveldown's own abstract-leveldown (7.2.0), whose prototype its instances have; the 6.2.3 at the
// top of the tree belongs to PouchDB's level 6 and is not the one patched here.
const { AbstractChainedBatch } = upstream('abstract-leveldown').load();

export interface CacheStats {
  hits: number;
  misses: number;
  bytes: number;
  entries: number;
}

/** Every cache of this process by database location (the server's trace prints them). */
export const cacheStats = new Map<string, () => CacheStats>();

/** Megabytes held per database (0 turns the cache off); startEmbedded sets it from its options. */
let budgetMb = 256;
export function setCacheBudget(mb: number): void {
  if (!Number.isFinite(mb) || mb < 0) throw new Error(`cache budget: a number of megabytes >= 0 expected, got ${mb}`);
  budgetMb = mb;
}
/** Bytes held per database; 0: no cache. */
export function cacheBudget(): number {
  return budgetMb > 0 ? budgetMb * 1024 * 1024 : 0;
}

/**
 * A key LevelDB does not hold, remembered like a value (under the same rules: filled only by a
 * get no write raced, replaced by the next write of the key). Every request authenticated as a
 * server admin looks for `org.couchdb.user:<name>` in `_users`, which never holds it, and every
 * new document is looked up twice (validation, then the write) before it exists: measured, 24,070
 * of 24,074 gets on `_users` in one catalogue benchmark were such misses, each a LevelDB read.
 */
const ABSENT: Value = Buffer.alloc(0);
/** leveldown's own error for a missing key (levelup recognises it by its message). */
const notFound = () => new Error('NotFound: ');
const isNotFound = (err: Error) => /^NotFound/.test(err.message);

/** The cached value in the form the get asked for (a Buffer is copied: callers may keep it). */
const asRequested = (v: Value, asBuffer: boolean): Value =>
  asBuffer ? Buffer.from(v) : typeof v === 'string' ? v : v.toString();

/** What the patched methods of one LevelDOWN instance share. */
interface Shared {
  readonly location: string;
  readonly cache: FifoBytes | null;
  readonly stats: CacheStats;
  readonly writes: { n: number };
  /** Bumped when a write starts; a get that saw another value of it must not fill the cache. */
  generation: number;
  writing: number;
}

/** `_get`: answered from the cache when it holds the key; a miss fills it only if no write raced. */
function cacheGets(db: LevelDown, s: Shared): void {
  const rawGet = db._get.bind(db);
  const { cache, stats } = s;
  db._get = function (key: unknown, options: { asBuffer?: boolean }, callback: Callback): void {
    if (!cache || typeof key !== 'string') return rawGet(key, options, callback);
    const hit = cache.get(key);
    if (hit !== undefined) {
      stats.hits++;
      if (hit === ABSENT) process.nextTick(callback, notFound());
      else process.nextTick(callback, null, asRequested(hit, options.asBuffer !== false));
      return;
    }
    stats.misses++;
    const seen = s.generation;
    const quiet = s.writing === 0;
    rawGet(key, options, (err?: Error | null, value?: Value) => {
      if (quiet && s.writing === 0 && s.generation === seen) {
        if (!err && value !== undefined) cache.set(key, typeof value === 'string' ? value : Buffer.from(value));
        else if (err && isNotFound(err)) cache.set(key, ABSENT);
      }
      callback(err, value);
    });
  };
}

/** A batch LevelDB has committed (or refused), applied to the cache and the security generation. */
function afterBatch(s: Shared, ops: Op[], err?: Error | null): void {
  const { cache } = s;
  for (const op of ops) {
    if (typeof op.key !== 'string') {
      cache?.clear();
      bumpSecurityGeneration();
      break;
    }
    if (op.key.endsWith(SECURITY_KEY)) bumpSecurityGeneration();
    if (!cache) continue;
    if (!err && op.type === 'put' && op.value !== undefined)
      cache.set(op.key, typeof op.value === 'string' ? op.value : Buffer.from(op.value));
    else cache.delete(op.key);
  }
}

/** `_batch`, and the writes that go through it: `_put`, `_del` and chained batches. */
function watchWrites(db: LevelDown, s: Shared): void {
  const rawBatch = db._batch.bind(db);
  db._batch = function (ops: Op[], options: unknown, callback: Done): void {
    s.generation++;
    s.writing++;
    s.writes.n++;
    rawBatch(ops, options, (err?: Error | null) => {
      s.writing--;
      s.writes.n++;
      afterBatch(s, ops, err);
      callback(err);
    });
  };
  db._put = function (key: unknown, value: Value, options: unknown, callback: Done): void {
    db._batch([{ type: 'put', key, value }], options, callback);
  };
  db._del = function (key: unknown, options: unknown, callback: Done): void {
    db._batch([{ type: 'del', key }], options, callback);
  };
  // Chained batches write through _batch (abstract-leveldown's own implementation does).
  db._chainedBatch = function () {
    return new AbstractChainedBatch(db);
  };
  const rawClear = db._clear.bind(db);
  db._clear = function (options: unknown, callback: Done): void {
    s.generation++;
    bumpSecurityGeneration();
    s.writes.n++;
    s.cache?.clear();
    rawClear(options, (err?: Error | null) => {
      s.cache?.clear();
      callback(err);
    });
  };
}

/** `cacheStats` for the trace, and `_close`, which lets the memory go and keeps the figures. */
function reportAndClose(db: LevelDown, s: Shared): void {
  const { cache, stats, location } = s;
  const report = () => ({ ...stats, bytes: cache?.bytes ?? 0, entries: cache?.size ?? 0 });
  db.cacheStats = report;
  cacheStats.set(location, report);
  // Closed (or closed to be destroyed): let the memory go, keep the figures for the trace.
  const rawClose = db._close.bind(db);
  db._close = function (callback: Done): void {
    cache?.clear();
    bumpSecurityGeneration();
    const final = report();
    cacheStats.delete(location);
    cacheStats.set(location, () => final);
    while (cacheStats.size > 1000) cacheStats.delete(cacheStats.keys().next().value as string);
    rawClose(callback);
  };
}

/**
 * A leveldown factory (PouchDB's `db` option): a real LevelDOWN whose gets are answered from
 * the cache when they can be. Named, because PouchDB keys its open databases by the factory's
 * function name.
 */
export function CachedLevelDOWN(location: string): unknown {
  const db: LevelDown = leveldown(location);
  const budget = cacheBudget();
  // Without a budget there is no cache, but writes are still watched for the security
  // generation: patches/pouchdb-security-get-security.ts relies on it whatever the cache does.
  const cache = budget ? new FifoBytes(budget) : null;
  const stats: CacheStats = { hits: 0, misses: 0, bytes: 0, entries: 0 };
  const s: Shared = { location, cache, stats, writes: countWrites(location), generation: 0, writing: 0 };
  cacheGets(db, s);
  watchWrites(db, s);
  // _getMany (unused by PouchDB) and iterators read LevelDB itself, which is always current.
  reportAndClose(db, s);
  return db;
}
CachedLevelDOWN.destroy = (location: string, cb: (err?: Error) => void) => leveldown.destroy(location, cb);
CachedLevelDOWN.repair = (location: string, cb: (err?: Error) => void) => leveldown.repair(location, cb);
