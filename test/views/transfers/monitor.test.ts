/**
 * The `overview` view tested twice, so a difference between the two engines shows: the compiled map
 * function in process (a vm sandbox with a stub emit) and deployed on the server give the same
 * rows, and its group_level reduces give the per-link, per-minute, per-reason and
 * per-publication-state counts the stats agent's roll-up shows for the same documents.
 */
import * as path from 'path';
import { buildDesignDocs } from '../../../design';
import { evaluateFunction } from '../../../design/compile';
import { Rollup } from '../../../agents/stats/decide';
import { seedTransfers, type SeedOptions } from '../../../scripts/bench/monitor-seed';
import { createTestEnv, type TestEnv } from '../../support/env';
import type { TransferDoc } from '../../../views/schema';

const ROOT = path.resolve(__dirname, '..', '..', '..');
let env: TestEnv;
let docs: TransferDoc[];
const now = new Date();

type Row = { id?: string; key: unknown[]; value: { count: number; sum: number } | number };

beforeAll(async () => {
  env = await createTestEnv();
  const opts: SeedOptions = { users: ['u1', 'u2', 'u3'], n: 90, workflowsPerUser: 2, spreadSeconds: 1800, now };
  docs = await seedTransfers(env.admin.use(env.dbs.transfers), opts);
  await env.admin
    .use(env.dbs.transfers)
    .insert({ _id: 'heartbeat:x:y', type: 'heartbeat', agent: 'x', instance: 'y', at: now.toISOString() } as never);
});
afterAll(() => env?.cleanup());

async function query(params: Record<string, unknown>): Promise<Row[]> {
  return (await env.admin.use(env.dbs.transfers).view('monitor', 'overview', params as never)).rows as unknown as Row[];
}

it('emits the same rows in process and on the server', async () => {
  const built = await buildDesignDocs(ROOT, 'test');
  const monitor = built.find((b) => b.id === '_design/monitor')!;
  const expected: { id: string; key: unknown; value: unknown }[] = [];
  let current = '';
  const map = evaluateFunction((monitor.doc.views as Record<string, { map: string }>).overview.map, {
    emit: (key: unknown, value: unknown) => expected.push({ id: current, key, value }),
  });
  for (const d of docs) {
    current = d._id;
    map(JSON.parse(JSON.stringify(d)));
  }
  map({ _id: 'heartbeat:x:y', type: 'heartbeat' });
  const got = (await query({ reduce: false })).map((r) => ({ id: r.id, key: r.key, value: r.value }));
  const order = (a: { id?: string; key: unknown }, b: { id?: string; key: unknown }) =>
    JSON.stringify([a.key, a.id]) < JSON.stringify([b.key, b.id]) ? -1 : 1;
  expect(got.length).toBeGreaterThan(docs.length); // links for all, plus time, failure and publication rows
  expect(got.sort(order)).toEqual(expected.sort(order));
});

it('reduces to what the stats roll-up shows', async () => {
  const r = new Rollup();
  for (const d of docs) r.apply(d as never);
  const s = r.summary(now, 0);
  const links = await query({ group_level: 4, startkey: ['link'], endkey: ['link', {}] });
  for (const l of s.links) {
    const done = links.find((x) => x.key[1] === l.source && x.key[2] === l.destination && x.key[3] === 'done');
    expect(l.done).toBe(done ? (done.value as { count: number }).count : 0);
  }
  const reasons = await query({ group_level: 2, startkey: ['fail'], endkey: ['fail', {}] });
  expect(reasons.map((x) => [x.key[1], (x.value as { count: number }).count]).sort()).toEqual(
    s.failures.map((f) => [f.reason, f.files]).sort(),
  );
  const minutes = await query({ group_level: 5, startkey: ['time', 'done'], endkey: ['time', 'done', {}] });
  const doneInViews = minutes.reduce((a, x) => a + (x.value as { count: number }).count, 0);
  expect(doneInViews).toBe(s.time.minute.reduce((a, row) => a + row[1], 0));
  expect(doneInViews).toBe(docs.filter((d) => d.state === 'done').length);
  const pub = await query({ group_level: 4, startkey: ['pub'], endkey: ['pub', {}] });
  const pubStates: Record<string, number> = {};
  for (const x of pub)
    pubStates[x.key[3] as string] = (pubStates[x.key[3] as string] || 0) + (x.value as { count: number }).count;
  expect(pubStates).toEqual(Object.fromEntries(Object.entries(s.publication).map(([k, v]) => [k, v[0]])));
});

it('gives each workflow its files and its newest submission time', async () => {
  const rows = await query({ group_level: 3, startkey: ['wf'], endkey: ['wf', {}] });
  const want = new Map<string, { count: number; max: number }>();
  for (const d of docs) {
    const k = `${d.user}/${d.workflow}`;
    const w = want.get(k) || { count: 0, max: 0 };
    want.set(k, { count: w.count + 1, max: Math.max(w.max, Math.floor(Date.parse(d.created_at) / 1000)) });
  }
  expect(want.size).toBe(6);
  expect(
    rows
      .map((r) => [
        `${r.key[1]}/${r.key[2]}`,
        (r.value as { count: number }).count,
        (r.value as unknown as { max: number }).max,
      ])
      .sort(),
  ).toEqual([...want].map(([k, w]) => [k, w.count, w.max]).sort());
});
