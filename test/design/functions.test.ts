/**
 * The compile pipeline and every compiled view: guards against the silent failure modes, then
 * each map run in process (a sandbox with a stub emit and no Node globals) and deployed on the
 * server over the same fixture documents, comparing rows and reduced values.
 */
import * as path from 'path';
import { buildDesignDocs } from '../../design';
import { CompileError, compileFunction, evaluateFunction } from '../../design/compile';
import { TRANSFER_STATES } from '../../views/schema';
import { createTestEnv, transferFixture, type TestEnv } from '../support/env';

const ROOT = path.join(__dirname, '..', '..');
const fixture = (name: string) => path.join(ROOT, 'test', 'fixtures', 'design', name);

describe('compile pipeline', () => {
  it('refuses a map that never emits (the minifier/empty-map failure)', async () => {
    await expect(compileFunction(fixture('no_emit.ts'), 'map')).rejects.toThrow(/never calls emit/);
  });
  it('refuses a function that uses Node globals', async () => {
    await expect(compileFunction(fixture('uses_node.ts'), 'map')).rejects.toThrow(/process/);
  });
  it('refuses a module without a default export', async () => {
    await expect(compileFunction(fixture('no_default.ts'), 'map')).rejects.toBeInstanceOf(CompileError);
  });
  it('emits ES2017 in the classic anonymous function shape', async () => {
    const src = await compileFunction(path.join(ROOT, 'views/transfers/monitor/totals/map.ts'), 'map');
    expect(src.startsWith('function (doc) {')).toBe(true);
    expect(src).not.toMatch(/\?\.|\?\?|\.\.\.\w/); // no ES2020 operators or object spread
  });
  it('stamps every design document with the version and a content hash', async () => {
    const built = await buildDesignDocs(ROOT, 'v-test');
    expect(built.map((b) => `${b.db}/${b.id}`).sort()).toEqual([
      'catalog/_design/query',
      'catalog/_design/validate',
      'config/_design/validate',
      'transfers/_design/monitor',
      'transfers/_design/validate',
    ]);
    for (const b of built) expect(b.doc.couchstage).toEqual({ version: 'v-test', hash: b.hash });
    const again = await buildDesignDocs(ROOT, 'another-version');
    expect(again.map((b) => b.hash)).toEqual(built.map((b) => b.hash));
  });
});

describe('monitor views: in process and deployed agree', () => {
  let env: TestEnv;
  const docs: Record<string, unknown>[] = [];

  beforeAll(async () => {
    env = await createTestEnv();
    const states = TRANSFER_STATES;
    for (let i = 0; i < 40; i++) {
      const user = i % 3 === 0 ? env.names.other : env.names.owner;
      docs.push(
        transferFixture(user, {
          source_lfn: `/store/temp/user/${user}/views/f_${i}.root`,
          workflow: `wf_${i % 4}`,
          state: states[i % states.length],
          size: 1000 + i * 17,
        }),
      );
    }
    docs.push({
      _id: 'heartbeat:x',
      type: 'heartbeat',
      agent: 'scheduler',
      instance: 'i1',
      at: '2026-11-26T06:00:00Z',
    });
    const res = await env.admin.use(env.dbs.transfers).bulk({ docs: docs as never[] });
    expect(res.filter((r) => r.error)).toEqual([]);
  });
  afterAll(() => env?.cleanup());

  async function inProcessRows(view: string) {
    const built = await buildDesignDocs(ROOT, 'test');
    const monitor = built.find((b) => b.id === '_design/monitor')!;
    const rows: { id: string; key: unknown; value: unknown }[] = [];
    let current = '';
    const map = evaluateFunction((monitor.doc.views as Record<string, { map: string }>)[view].map, {
      emit: (key: unknown, value: unknown) => rows.push({ id: current, key, value }),
    });
    for (const d of docs) {
      current = String(d._id);
      map(JSON.parse(JSON.stringify(d)));
    }
    return rows;
  }

  it.each(['totals', 'by_user'])('%s: same rows in process and on the server', async (view) => {
    const expected = await inProcessRows(view);
    expect(expected.length).toBe(40); // the heartbeat emits nothing
    const res = await env.admin.use(env.dbs.transfers).view('monitor', view, { reduce: false });
    const got = res.rows.map((r) => ({ id: r.id, key: r.key, value: r.value }));
    const order = (a: { id: string; key: unknown }, b: { id: string; key: unknown }) =>
      JSON.stringify([a.key, a.id]) < JSON.stringify([b.key, b.id]) ? -1 : 1;
    expect(got.sort(order)).toEqual(expected.sort(order));
  });

  it('by_user reduces to the files and bytes of each user, workflow and state', async () => {
    const res = await env.admin.use(env.dbs.transfers).view('monitor', 'by_user', { group_level: 3 } as never);
    const fromDocs = new Map<string, { count: number; sum: number }>();
    for (const d of docs.filter((x) => x.type === 'transfer')) {
      const k = JSON.stringify([d.user, d.workflow, d.state]);
      const v = fromDocs.get(k) || { count: 0, sum: 0 };
      fromDocs.set(k, { count: v.count + 1, sum: v.sum + (d.size as number) });
    }
    expect(res.rows.length).toBe(fromDocs.size);
    for (const r of res.rows) {
      const v = r.value as { count: number; sum: number };
      expect({ count: v.count, sum: v.sum }).toEqual(fromDocs.get(JSON.stringify(r.key)));
    }
  });

  it('totals reduces to one row per state', async () => {
    const res = await env.admin.use(env.dbs.transfers).view('monitor', 'totals', { group_level: 1 } as never);
    const count = (s: string) => docs.filter((d) => d.type === 'transfer' && d.state === s).length;
    for (const r of res.rows)
      expect((r.value as { count: number }).count).toBe(count((r.key as unknown as string[])[0]));
    expect(res.rows.reduce((n, r) => n + (r.value as { count: number }).count, 0)).toBe(40);
  });
});
