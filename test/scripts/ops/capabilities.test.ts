/**
 * The capability module tells the truth about the server the suite runs on: every answer it
 * gives is checked against what the server then does (an answer of "no" is checked too where
 * asking is harmless; `_changes?filter=_selector` is only tried where it is claimed, since the
 * embedded server fails the request).
 */
import { createTestEnv, type TestEnv } from '../../support/env';
import { capabilities, probeCapabilities, type Capabilities } from '../../../agents/platform/capabilities';
import { http } from '../../../scripts/ops/http';

let env: TestEnv;
let caps: Capabilities;
let db: string;

beforeAll(async () => {
  env = await createTestEnv();
  caps = await capabilities(env.adminUrl);
  db = env.prefix + 'caps';
  expect((await http(env.adminUrl, 'PUT', '/' + db)).status).toBe(201);
  const docs = Array.from({ length: 30 }, (_, i) => ({ _id: `d${i}`, n: i % 3 }));
  expect((await http(env.adminUrl, 'POST', `/${db}/_bulk_docs`, { body: { docs } })).status).toBe(201);
}, 120_000);

afterAll(async () => {
  await http(env.adminUrl, 'DELETE', '/' + db).catch(() => undefined);
  await env?.cleanup();
});

it('is probed once per server and names the engine the server names', async () => {
  expect(await capabilities(env.adminUrl)).toBe(caps);
  const root = (await http<{ couchdb?: string }>(env.adminUrl, 'GET', '/')).body;
  expect(caps.engine).toBe(root.couchdb ? 'couchdb' : 'pouchdb-server');
  expect(await probeCapabilities(env.urlAs('owner'))).toEqual(caps);
});

it('update=false answers without building the index exactly where staleViews says so', async () => {
  // autoupdate off (a top-level field): CouchDB's background indexer, ken, would otherwise build
  // it on its own within moments of the design doc's creation.
  const view = { autoupdate: false, views: { n: { map: 'function (doc) { emit(doc.n, null); }' } } };
  expect((await http(env.adminUrl, 'PUT', `/${db}/_design/caps`, { body: view })).status).toBe(201);
  const a = await http<{ rows: unknown[] }>(env.adminUrl, 'GET', `/${db}/_design/caps/_view/n?update=false`);
  expect(a.status).toBe(200);
  expect(a.body.rows.length).toBe(caps.staleViews ? 0 : 30);
});

it('COPY works in the path form it names', async () => {
  const from = caps.copyForm === 'encoded' ? `/${db}/_design%2Fcaps` : `/${db}/_design/caps`;
  const a = await http(env.adminUrl, 'COPY', from, { headers: { Destination: '_design/caps-copy' } });
  expect(a.status).toBe(201);
});

it('_purge, _scheduler/jobs and server settings answer as claimed', async () => {
  const doc = (await http<{ _rev: string }>(env.adminUrl, 'GET', `/${db}/d0`)).body;
  const purge = await http(env.adminUrl, 'POST', `/${db}/_purge`, { body: { d0: [doc._rev] } });
  expect(purge.status === 201 || purge.status === 202).toBe(caps.purge);
  if (caps.purge) expect((await http(env.adminUrl, 'GET', `/${db}/d0`)).status).toBe(404);
  expect((await http(env.adminUrl, 'GET', '/_scheduler/jobs')).status === 200).toBe(caps.schedulerJobs);
  expect((await http(env.adminUrl, 'GET', '/_node/_local/_config/csp')).status === 200).toBe(caps.serverConfig);
  expect((await http<unknown[]>(env.adminUrl, 'GET', '/_active_tasks')).status).toBe(200);
});

it('where claimed, _changes?filter=_selector returns only the matching documents', async () => {
  if (!caps.selectorFilter) return expect(caps.engine).toBe('pouchdb-server');
  const a = await http<{ results: { id: string }[] }>(env.adminUrl, 'POST', `/${db}/_changes?filter=_selector`, {
    body: { selector: { n: 2 } },
  });
  expect(a.status).toBe(200);
  expect(a.body.results.map((r) => r.id).sort()).toEqual(
    Array.from({ length: 30 }, (_, i) => i)
      .filter((i) => i % 3 === 2)
      .map((i) => `d${i}`)
      .sort(),
  );
});
