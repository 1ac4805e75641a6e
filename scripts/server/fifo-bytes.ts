/**
 * A map of keys to LevelDB values bounded in (approximate) bytes, oldest insertions out first: the
 * store behind patches/leveldown-cache.ts.
 */
export type Value = string | Buffer;

export const sizeOf = (key: string, v: Value) => key.length + (typeof v === 'string' ? v.length : v.length) + 64;

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
  get size(): number {
    return this.map.size;
  }
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
