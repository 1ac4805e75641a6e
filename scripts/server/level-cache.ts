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
 */
import * as path from 'path';

type Value = string | Buffer;
type Callback = (err?: Error | null, value?: Value) => void;
interface Op { type: 'put' | 'del'; key: unknown; value?: Value }

// eslint-disable-next-line @typescript-eslint/no-var-requires
const leveldown = require('leveldown');
const abstractDir = path.dirname(require.resolve('abstract-leveldown/package.json', { paths: [path.dirname(require.resolve('leveldown/package.json'))] }));
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { AbstractChainedBatch } = require(abstractDir);

export interface CacheStats { hits: number; misses: number; bytes: number; entries: number }

/**
 * Bumped whenever any database writes a `_local/_security` document or is closed: memos of
 * security objects (security-memo.ts) are valid only for the generation they were read in.
 */
let securityGen = 0;
export const securityGeneration = (): number => securityGen;
const SECURITY_KEY = '_local/_security';

/** Every cache of this process by database location (COUCHSTAGE_EMBEDDED_TRACE prints them). */
export const cacheStats = new Map<string, () => CacheStats>();

/** Bytes held per database; COUCHSTAGE_EMBEDDED_CACHE_MB (default 256, 0 turns the cache off). */
export function cacheBudget(): number {
  const mb = Number(process.env.COUCHSTAGE_EMBEDDED_CACHE_MB ?? 256);
  return Number.isFinite(mb) && mb > 0 ? mb * 1024 * 1024 : 0;
}

const sizeOf = (key: string, v: Value) => key.length + (typeof v === 'string' ? v.length : v.length) + 64;

/**
 * A map of key -> value bounded in (approximate) bytes; the oldest insertions go first.
 *
 * Eviction order is kept in a queue beside the map rather than taken from the
 * Map's own insertion order: taking `map.keys().next()` after many deletions at the front walks
 * over every deleted slot until V8 rehashes the table, which cost ~8% of the server's CPU at
 * 100k transfers.
 */
export class FifoBytes {
  private readonly map = new Map<string, Value>();
  // The eviction queue as two parallel arrays (no object per entry: a cache of 250k entries is
  // otherwise a million small objects for every major GC to mark). An entry of the queue is
  // current while the map still holds that very value object under that key.
  private qKeys: string[] = [];
  private qValues: Value[] = [];
  private head = 0;
  bytes = 0;
  constructor(readonly budget: number) {}
  get size(): number { return this.map.size; }
  /**
   * No refresh on a hit (a Map delete and set per read cost ~4% of the server's CPU in a
   * profile): entries age by when they were written or first read, which is what the feeds and
   * fetches of recent revisions need; a hot entry that ages out is read once more and comes back.
   */
  get(key: string): Value | undefined {
    return this.map.get(key);
  }
  set(key: string, v: Value): void {
    this.delete(key);
    const s = sizeOf(key, v);
    if (s > this.budget / 8) return; // one huge value must not flush everything else
    this.map.set(key, v);
    this.qKeys.push(key);
    this.qValues.push(v);
    this.bytes += s;
    while (this.bytes > this.budget && this.head < this.qKeys.length) {
      const k = this.qKeys[this.head];
      const old = this.qValues[this.head];
      this.head++;
      if (this.map.get(k) === old) this.delete(k);
    }
    // Drop the consumed front of the queue now and then (and entries of keys written again).
    if (this.head > 50_000 && this.head * 2 > this.qKeys.length) {
      const keys: string[] = [];
      const values: Value[] = [];
      for (let i = this.head; i < this.qKeys.length; i++) {
        if (this.map.get(this.qKeys[i]) === this.qValues[i]) {
          keys.push(this.qKeys[i]);
          values.push(this.qValues[i]);
        }
      }
      this.qKeys = keys;
      this.qValues = values;
      this.head = 0;
    }
  }
  delete(key: string): void {
    const cur = this.map.get(key);
    if (cur === undefined) return;
    this.map.delete(key);
    this.bytes -= sizeOf(key, cur);
  }
  clear(): void {
    this.map.clear();
    this.qKeys = [];
    this.qValues = [];
    this.head = 0;
    this.bytes = 0;
  }
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

/**
 * A leveldown factory (PouchDB's `db` option): a real LevelDOWN whose gets are answered from
 * the cache when they can be. Named, because PouchDB keys its open databases by the factory's
 * function name.
 */
export function CachedLevelDOWN(location: string): unknown {
  const db = leveldown(location);
  const budget = cacheBudget();
  // Without a budget there is no cache, but writes are still watched for the security
  // generation: security-memo.ts relies on it whatever the cache does.
  const cache = budget ? new FifoBytes(budget) : null;
  const stats: CacheStats = { hits: 0, misses: 0, bytes: 0, entries: 0 };
  /** Bumped when a write starts; a get that saw another value of it must not fill the cache. */
  let generation = 0;
  let writing = 0;
  const rawGet = db._get.bind(db);
  const rawBatch = db._batch.bind(db);

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
    const seen = generation;
    const quiet = writing === 0;
    rawGet(key, options, (err?: Error | null, value?: Value) => {
      if (quiet && writing === 0 && generation === seen) {
        if (!err && value !== undefined) cache.set(key, typeof value === 'string' ? value : Buffer.from(value));
        else if (err && isNotFound(err)) cache.set(key, ABSENT);
      }
      callback(err, value);
    });
  };

  db._batch = function (ops: Op[], options: unknown, callback: (err?: Error | null) => void): void {
    generation++;
    writing++;
    rawBatch(ops, options, (err?: Error | null) => {
      writing--;
      for (const op of ops) {
        if (typeof op.key !== 'string') {
          cache?.clear();
          securityGen++;
          break;
        }
        if (op.key.endsWith(SECURITY_KEY)) securityGen++;
        if (!cache) continue;
        if (!err && op.type === 'put' && op.value !== undefined) cache.set(op.key, typeof op.value === 'string' ? op.value : Buffer.from(op.value));
        else cache.delete(op.key);
      }
      callback(err);
    });
  };
  db._put = function (key: unknown, value: Value, options: unknown, callback: (err?: Error | null) => void): void {
    db._batch([{ type: 'put', key, value }], options, callback);
  };
  db._del = function (key: unknown, options: unknown, callback: (err?: Error | null) => void): void {
    db._batch([{ type: 'del', key }], options, callback);
  };
  // Chained batches write through _batch (abstract-leveldown's own implementation does).
  db._chainedBatch = function () {
    return new AbstractChainedBatch(db);
  };
  const rawClear = db._clear.bind(db);
  db._clear = function (options: unknown, callback: (err?: Error | null) => void): void {
    generation++;
    securityGen++;
    cache?.clear();
    rawClear(options, (err?: Error | null) => {
      cache?.clear();
      callback(err);
    });
  };
  // _getMany (unused by PouchDB) and iterators read LevelDB itself, which is always current.
  db.cacheStats = () => ({ ...stats, bytes: cache?.bytes ?? 0, entries: cache?.size ?? 0 });
  cacheStats.set(location, db.cacheStats);
  // Closed (or closed to be destroyed): let the memory go, keep the figures for the trace.
  const rawClose = db._close.bind(db);
  db._close = function (callback: (err?: Error | null) => void): void {
    cache?.clear();
    securityGen++;
    const final = db.cacheStats();
    cacheStats.delete(location);
    cacheStats.set(location, () => final);
    while (cacheStats.size > 1000) cacheStats.delete(cacheStats.keys().next().value as string);
    rawClose(callback);
  };
  return db;
}
CachedLevelDOWN.destroy = (location: string, cb: (err?: Error) => void) => leveldown.destroy(location, cb);
CachedLevelDOWN.repair = (location: string, cb: (err?: Error) => void) => leveldown.repair(location, cb);
