/**
 * The document layer (agents/platform/docs.ts) on a real server: get's 404, update's compare-and-set
 * (a 409 re-read and decided again, or left as stored, or an error once the attempts are spent),
 * and loadPrefix's paging (each page starts after the last id of the one before).
 */
import { connect, type Db } from '../../../agents/platform/couch';
import { ConflictsExhausted, get, loadPrefix, put, update, type RawDoc } from '../../../agents/platform/docs';
import { adminUrl, randomName } from '../../support/env';

type Counter = { _id: string; _rev?: string; n: number };

describe('document layer', () => {
  const server = connect(adminUrl());
  const name = randomName('test_docs');
  let db: Db;

  beforeAll(async () => {
    await server.db.create(name);
    db = server.use(name);
  });
  afterAll(async () => {
    await server.db.destroy(name).catch(() => undefined);
  });

  /** A document, and a copy of it that another writer has made stale since. */
  async function stale(id: string): Promise<Counter> {
    const first = await put<Counter>(db, { _id: id, n: 1 });
    await put<Counter>(db, { ...first, n: 2 });
    return first;
  }

  it('get answers null for a missing document and the stored one with its revision', async () => {
    expect(await get(db, 'nothing-here')).toBeNull();
    const saved = await put<Counter>(db, { _id: 'g', n: 7 });
    const got = await get<Counter>(db, 'g');
    expect(got).toMatchObject({ _id: 'g', n: 7, _rev: saved._rev });
  });

  it('update re-reads after a 409 and decides again from the stored document', async () => {
    const from = await stale('retry');
    const seen: (number | null)[] = [];
    const written = await update<Counter>(
      db,
      'retry',
      (cur) => {
        seen.push(cur ? cur.n : null);
        return { _id: 'retry', n: (cur?.n ?? 0) + 1 };
      },
      { from },
    );
    expect(seen).toEqual([1, 2]);
    expect(written?.n).toBe(3);
    expect((await get<Counter>(db, 'retry'))?.n).toBe(3);
  });

  it('update without `from` reads first, and creates a missing document', async () => {
    const written = await update<Counter>(db, 'fresh', (cur) => ({ _id: 'fresh', n: cur ? cur.n + 1 : 1 }));
    expect(written?.n).toBe(1);
    await update<Counter>(db, 'fresh', (cur) => ({ _id: 'fresh', n: cur ? cur.n + 1 : 1 }));
    expect((await get<Counter>(db, 'fresh'))?.n).toBe(2);
  });

  it("onConflict 'stop' leaves the stored document as it is", async () => {
    const from = await stale('stop');
    const before = await get<Counter>(db, 'stop');
    expect(await update<Counter>(db, 'stop', () => ({ _id: 'stop', n: 100 }), { from, onConflict: 'stop' })).toBeNull();
    expect(await get<Counter>(db, 'stop')).toEqual(before);
  });

  it('a mutate that declines writes nothing', async () => {
    const saved = await put<Counter>(db, { _id: 'keep', n: 5 });
    expect(await update<Counter>(db, 'keep', () => null)).toBeNull();
    expect((await get<Counter>(db, 'keep'))?._rev).toBe(saved._rev);
  });

  it('spent attempts end in a 409 error naming the document', async () => {
    const from = await stale('spent');
    const err = await update<Counter>(db, 'spent', () => ({ _id: 'spent', n: 9 }), { from, attempts: 1 }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(ConflictsExhausted);
    expect(err.statusCode).toBe(409);
    expect(err.message).toContain(`${name}/spent`);
    expect((await get<Counter>(db, 'spent'))?.n).toBe(2);
  });

  it('loadPrefix pages through exactly the key range, each document once', async () => {
    const ids = ['p:1', 'p:2', 'p:3', 'p:4', 'p:5', 'p:6', 'p:7'];
    await db.bulk({ docs: [...ids, 'o:1', 'q:1'].map((id) => ({ _id: id, n: 0 })) });
    await put(db, { _id: '_design/x', views: {} });
    for (const pageSize of [2, 3, 7, 100]) {
      const got: string[] = [];
      await loadPrefix(db, { pageSize, prefix: 'p:' }, (d) => got.push(d._id));
      expect(got).toEqual(ids);
    }
    const all: string[] = [];
    await loadPrefix<RawDoc>(db, { pageSize: 4, skipDesign: true }, (d) => all.push(d._id));
    expect(all).toEqual(expect.arrayContaining([...ids, 'o:1', 'q:1']));
    expect(all).not.toContain('_design/x');
    expect(new Set(all).size).toBe(all.length);
  });
});
