/**
 * The catalogue's query views compiled for CouchDB: each map run in process (sandbox, stub emit)
 * over the fixture documents gives the same rows as the deployed view on the server.
 */
import * as path from 'path';
import { buildDesignDocs } from '../../../design';
import { evaluateFunction } from '../../../design/compile';
import { createTestEnv, type TestEnv } from '../../support/env';
import { fixtureDocs, writeFixture } from '../../agents/publisher/fixture';

const ROOT = path.join(__dirname, '..', '..', '..');
let env: TestEnv;

beforeAll(async () => {
  env = await createTestEnv();
  await writeFixture(env);
});
afterAll(() => env?.cleanup());

async function inProcessRows(view: string) {
  const built = await buildDesignDocs(ROOT, 'test');
  const query = built.find((b) => b.db === 'catalog' && b.id === '_design/query')!;
  const rows: { id: string; key: unknown; value: unknown }[] = [];
  let current = '';
  const map = evaluateFunction((query.doc.views as Record<string, { map: string }>)[view].map, {
    emit: (key: unknown, value: unknown) => rows.push({ id: current, key, value }),
  });
  for (const d of fixtureDocs()) {
    current = String(d._id);
    map(JSON.parse(JSON.stringify(d)));
  }
  return rows;
}

it.each(['contents', 'names', 'children', 'replicas'])('%s: same rows in process and on the server', async (view) => {
  const expected = await inProcessRows(view);
  expect(expected.length).toBeGreaterThan(0);
  const res = await env.admin.use(env.dbs.catalog).view('query', view, { reduce: false });
  const got = res.rows.map((r) => ({ id: r.id, key: r.key, value: r.value }));
  const order = (a: { id: string; key: unknown }, b: { id: string; key: unknown }) =>
    JSON.stringify([a.key, a.id]) < JSON.stringify([b.key, b.id]) ? -1 : 1;
  expect(got.sort(order)).toEqual(expected.sort(order));
});
