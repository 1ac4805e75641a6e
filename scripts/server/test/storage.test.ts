/**
 * The embedded server's storage accelerators, on real LevelDB files: the write-through read
 * cache in front of leveldown (patches/leveldown-cache.ts) and point reads for `_all_docs`
 * with keys (patches/pouchdb-all-docs-keys.ts). Both must change nothing but speed: every answer
 * is compared with LevelDB's or PouchDB's own.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FifoBytes } from '../fifo-bytes';
import { securityGeneration } from '../generations';
import { CachedLevelDOWN, cacheBudget, cacheStats, setCacheBudget } from '../patches/leveldown-cache';
import { patchKeyedReads } from '../patches/pouchdb-all-docs-keys';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- leveldown ships no type declarations
const leveldown = require('leveldown');
// eslint-disable-next-line @typescript-eslint/no-require-imports -- leveldown ships no type declarations
const PouchDB = require('pouchdb');

type Level = {
  open(o: object, cb: (e?: Error) => void): void;
  close(cb: (e?: Error) => void): void;
  get(k: string, o: object, cb: (e: Error | null, v?: string) => void): void;
  put(k: string, v: string, cb: (e?: Error) => void): void;
  del(k: string, cb: (e?: Error) => void): void;
  batch(ops: object[], o: object, cb: (e?: Error) => void): void;
  batch(): { put(k: string, v: string): unknown; del(k: string): unknown; write(cb: (e?: Error) => void): void };
  cacheStats(): { hits: number; misses: number };
};
const p = <T>(f: (cb: (e?: Error | null, v?: T) => void) => void) =>
  new Promise<T | undefined>((res, rej) => f((e, v) => (e ? rej(e) : res(v))));
const getOr = (db: Level, k: string) =>
  new Promise<string | null>((res, rej) =>
    db.get(k, { asBuffer: false }, (e, v) =>
      e ? (/NotFound/i.test(String(e.message)) ? res(null) : rej(e)) : res(v!),
    ),
  );

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-storage-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('FifoBytes', () => {
  it('evicts the oldest entries beyond its byte budget; a rewrite makes an entry young again', () => {
    const lru = new FifoBytes(64 * 8 * 4); // room for a few small entries
    for (let i = 0; i < 50; i++) lru.set('k' + i, 'v' + i);
    expect(lru.bytes).toBeLessThanOrEqual(64 * 8 * 4);
    expect(lru.get('k0')).toBeUndefined();
    expect(lru.get('k49')).toBe('v49');
    const oldest = 50 - lru.size;
    lru.set('k' + oldest, 'again'); // rewritten: it outlives the next insert
    lru.set('new', 'x');
    expect(lru.get('k' + oldest)).toBe('again');
    expect(lru.get('k' + (oldest + 1))).toBeUndefined();
  });
});

describe('CachedLevelDOWN', () => {
  it('answers gets like LevelDB after puts, deletes, array and chained batches, and reopening', async () => {
    const loc = path.join(tmp, 'a');
    const db = CachedLevelDOWN(loc) as Level;
    await p((cb) => db.open({}, cb));
    await p((cb) => db.put('x', '1', cb));
    expect(await getOr(db, 'x')).toBe('1');
    await p((cb) =>
      db.batch(
        [
          { type: 'put', key: 'x', value: '2' },
          { type: 'put', key: 'y', value: 'Y' },
        ],
        {},
        cb,
      ),
    );
    expect(await getOr(db, 'x')).toBe('2');
    await p((cb) => db.del('y', cb));
    expect(await getOr(db, 'y')).toBeNull();
    const chained = db.batch();
    chained.put('z', 'Z');
    chained.del('x');
    await p((cb) => chained.write(cb));
    expect(await getOr(db, 'x')).toBeNull();
    expect(await getOr(db, 'z')).toBe('Z');
    const buf = await p<Buffer>((cb) => db.get('z', {}, cb as never));
    expect(Buffer.isBuffer(buf)).toBe(true);
    expect(String(buf)).toBe('Z');
    expect(db.cacheStats().hits).toBeGreaterThan(0);
    await p((cb) => db.close(cb));
    expect(cacheStats.get(loc)!().entries).toBe(0); // closed: the cache's memory is released
    expect(cacheStats.get(loc)!().hits).toBeGreaterThan(0);
    // What the cache answered is what LevelDB holds.
    const raw = leveldown(loc) as Level;
    await p((cb) => raw.open({}, cb));
    expect(await getOr(raw, 'x')).toBeNull();
    expect(await getOr(raw, 'y')).toBeNull();
    expect(await getOr(raw, 'z')).toBe('Z');
    await p((cb) => raw.close(cb));
  });

  it('counts writes of security documents and closes in the security generation, with the cache off too', async () => {
    const before = cacheBudget() / 1024 / 1024;
    setCacheBudget(0);
    try {
      const db = CachedLevelDOWN(path.join(tmp, 'nocache')) as Level;
      await p((cb) => db.open({}, cb));
      let gen = securityGeneration();
      await p((cb) => db.put('\xffdocument-store\xffa', '{}', cb));
      expect(securityGeneration()).toBe(gen);
      await p((cb) => db.put('\xfflocal-store\xff_local/_security', '{"security":{}}', cb));
      expect(securityGeneration()).toBeGreaterThan(gen);
      gen = securityGeneration();
      await p((cb) => db.close(cb));
      expect(securityGeneration()).toBeGreaterThan(gen);
    } finally {
      setCacheBudget(before);
    }
  });

  it("remembers missing keys as missing, with LevelDB's own error, until they are written", async () => {
    const db = CachedLevelDOWN(path.join(tmp, 'absent')) as Level;
    await p((cb) => db.open({}, cb));
    const errOf = () => new Promise<Error | null>((res) => db.get('nope', {}, (e) => res(e)));
    const first = await errOf();
    const hits = db.cacheStats().hits;
    const second = await errOf(); // answered from the cache
    expect(db.cacheStats().hits).toBe(hits + 1);
    expect(second!.message).toBe(first!.message);
    expect(second!.message).toMatch(/^NotFound/);
    await p((cb) => db.put('nope', 'now', cb));
    expect(await getOr(db, 'nope')).toBe('now');
    await p((cb) => db.del('nope', cb));
    expect(await getOr(db, 'nope')).toBeNull();
    await p((cb) => db.batch([{ type: 'put', key: 'nope', value: 'again' }], {}, cb));
    expect(await getOr(db, 'nope')).toBe('again');
    await p((cb) => db.close(cb));
    // Through PouchDB (levelup turns the message into its NotFoundError, PouchDB into a 404).
    const pdb = new PouchDB(path.join(tmp, 'absent-pouch'), { db: CachedLevelDOWN });
    for (let i = 0; i < 2; i++) await expect(pdb.get('doc')).rejects.toMatchObject({ status: 404 });
    await pdb.put({ _id: 'doc', v: 1 });
    expect((await pdb.get('doc')).v).toBe(1);
    await pdb.close();
  });

  it('never caches what a read saw when its answer arrives after a write of the key (value or missing)', async () => {
    // A rare ordering, made certain: LevelDB answers these gets at once, but their callbacks are
    // held back 30 ms (the only thing faked), so the write below commits in between.
    const proto = Object.getPrototypeOf(leveldown(path.join(tmp, 'proto'))) as {
      _get: (k: unknown, o: unknown, cb: (...a: unknown[]) => void) => void;
    };
    const realGet = proto._get;
    proto._get = function (this: unknown, k: unknown, o: unknown, cb: (...a: unknown[]) => void) {
      realGet.call(this, k, o, (...a: unknown[]) =>
        String(k).startsWith('slow') ? setTimeout(() => cb(...a), 30) : cb(...a),
      );
    };
    try {
      const db = CachedLevelDOWN(path.join(tmp, 'slow')) as Level;
      await p((cb) => db.open({}, cb));
      await p((cb) => db.put('slow-old', 'old', cb));
      for (const key of ['slow-old', 'slow-missing']) {
        const read = getOr(db, key); // sees 'old' / nothing
        await p((cb) => db.put(key, 'new', cb)); // commits before that answer arrives
        expect(await read).toBe(key === 'slow-old' ? 'old' : null);
        expect(await getOr(db, key)).toBe('new');
      }
      await p((cb) => db.close(cb));
    } finally {
      proto._get = realGet;
    }
  });

  it('never lets a read that raced a write put the older value back', async () => {
    const db = CachedLevelDOWN(path.join(tmp, 'b')) as Level;
    await p((cb) => db.open({}, cb));
    await p((cb) => db.put('k', 'old', cb));
    for (let round = 0; round < 200; round++) {
      // A miss in flight while the key is rewritten: whatever it returns, it must not be cached.
      const read = getOr(db, 'miss' + round);
      const write = p((cb) =>
        db.batch(
          [
            { type: 'put', key: 'k', value: 'v' + round },
            { type: 'put', key: 'miss' + round, value: 'm' },
          ],
          {},
          cb,
        ),
      );
      const racing = getOr(db, 'k');
      await Promise.all([read, write, racing]);
      expect(await getOr(db, 'k')).toBe('v' + round);
      expect(await getOr(db, 'miss' + round)).toBe('m');
    }
    await p((cb) => db.close(cb));
  });
});

describe('keyed reads for _all_docs', () => {
  it('returns exactly what PouchDB returns: live, missing, deleted, design, local and bad keys, with and without docs', async () => {
    const db = new PouchDB(path.join(tmp, 'pouch'), { db: CachedLevelDOWN });
    await db.bulkDocs([
      { _id: 'a', x: 1 },
      {
        _id: 'b',
        x: 2,
        _attachments: { f: { content_type: 'text/plain', data: Buffer.from('hi').toString('base64') } },
      },
      { _id: '_design/d', views: {} },
      { _id: 'c' },
    ]);
    const c = await db.get('c');
    await db.remove(c);
    await db.bulkDocs([{ _id: 'a', _rev: '1-zzz', x: 9 }], { new_edits: false });
    const keys = ['a', 'zz', 'c', '_design/d', 'b', '_local/q', '_bad', 'a'];
    const ask = async () => [
      await db.allDocs({ keys }),
      await db.allDocs({ keys, include_docs: true }),
      await db.allDocs({ keys, include_docs: true, conflicts: true }),
      await db.allDocs({ keys, descending: true, limit: 3, skip: 1 }),
      await db.allDocs({ keys: [] }),
      await db.allDocs({ keys: ['nope1', 'nope2'], include_docs: true }), // none exists: total_rows from info
    ];
    const expected = JSON.stringify(await ask());
    const calls: string[] = [];
    const inner = db._allDocs;
    db._allDocs = function (opts: { keys?: unknown; key?: unknown }, cb: unknown) {
      calls.push(opts.keys ? 'keys' : 'key');
      return inner.call(this, opts, cb);
    };
    patchKeyedReads(db);
    calls.length = 0;
    expect(JSON.stringify(await ask())).toBe(expected);
    // The plain forms were served by point reads: PouchDB's per-key range scans ran only for
    // the keys a point read cannot answer (deleted, local, bad) and the other forms.
    expect(calls.filter((c) => c === 'key').length).toBeLessThan(keys.length * 3);
    // Keys with no revision at all are answered without a range scan each.
    calls.length = 0;
    expect((await db.allDocs({ keys: ['nope1', 'nope2', 'nope3'] })).rows).toEqual(
      [1, 2, 3].map((i) => ({ key: 'nope' + i, error: 'not_found' })),
    );
    expect(calls).toEqual([]);
    await db.close();
  });
});
