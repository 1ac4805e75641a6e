/**
 * Index builds show progress the way the server can give it: from its indexer tasks where it
 * lists them (`_active_tasks` on CouchDB: a bar, changes done of total, a rate and an ETA), else
 * from elapsed time per view; either way the build finishes and the index answers in full.
 * A map function that spends a few milliseconds per document keeps the build long enough to be
 * watched on both servers.
 */
import { createTestEnv, type TestEnv } from '../../support/env';
import { capabilities } from '../../../agents/platform/capabilities';
import { buildIndexes } from '../../../scripts/ops/index-build';
import { http } from '../../../scripts/ops/http';
import * as http_ from 'http';
import { seedTransfers } from './support';

jest.setTimeout(300_000);

let env: TestEnv;

beforeAll(async () => {
  env = await createTestEnv();
}, 120_000);

afterAll(async () => {
  await env?.cleanup();
});

const SLOW_MAP =
  'function (doc) { if (doc.type !== "transfer") return; var x = 0; ' +
  'for (var i = 0; i < 300000; i++) { x = (x * 31 + i) % 1000003; } emit(doc._id, x); }';

it("reports the build from the server's indexer tasks where it lists them, else by polling", async () => {
  const caps = await capabilities(env.adminUrl);
  const ids = await seedTransfers(env, 400);
  const db = env.dbs.transfers;
  const put = await http(env.adminUrl, 'PUT', `/${db}/_design/slow`, {
    body: { views: { slow: { map: SLOW_MAP }, count: { map: SLOW_MAP, reduce: '_count' } } },
  });
  expect(put.status).toBe(201);
  const lines: string[] = [];
  const report = await buildIndexes(
    env.adminUrl,
    db,
    '_design/slow',
    { slow: {}, count: { reduce: '_count' } },
    { log: (l) => lines.push(l), pollMs: 100 },
  );
  expect(report.progressFrom).toBe(caps.activeTasks ? 'active_tasks' : 'polling');
  const progress = lines.filter((l) =>
    caps.activeTasks
      ? /\[[#.]{20}\] \d+% \d+\/\d+ changes, \d+ docs\/s, ETA/.test(l)
      : /\d\/2 views indexed over \d+ docs.*\(polling\)/.test(l),
  );
  expect(progress.length).toBeGreaterThan(0);
  expect(lines[lines.length - 1]).toMatch(/_design\/slow: 2 views indexed over \d+ docs/);
  // Built: a query that must not wait answers every document.
  const q = await http<{ rows: { value: number }[] }>(
    env.adminUrl,
    'GET',
    `/${db}/_design/slow/_view/count${caps.staleViews ? '?update=false' : ''}`,
  );
  expect(q.body.rows[0].value).toBe(ids.length);
});

/**
 * The rare fault, injected by a proxy in front of the real server: CouchDB 3 answers a view
 * query that waited longer than `[fabric] request_timeout` with 500 `timeout` while the indexer
 * goes on (seen in an 800k-document staged build). The build asks again and finishes.
 */
it('asks again when the server answers a waiting view query with 500 timeout', async () => {
  const target = new URL(env.adminUrl);
  let injected = 0;
  const proxy = http_.createServer((req, res) => {
    if (req.method === 'GET' && /\/_design\/timeouts\/_view\//.test(req.url || '') && injected < 2) {
      injected++;
      const body = JSON.stringify({
        error: 'timeout',
        reason: 'The request could not be processed in a reasonable amount of time.',
      });
      res.writeHead(500, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    const up = http_.request(
      { hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode!, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  try {
    const port = (proxy.address() as { port: number }).port;
    const url = `${target.protocol}//${target.username}:${target.password}@127.0.0.1:${port}`;
    const db = env.dbs.transfers;
    const put = await http(env.adminUrl, 'PUT', `/${db}/_design/timeouts`, {
      body: { views: { ids: { map: 'function (doc) { emit(doc._id, null); }' } } },
    });
    expect(put.status).toBe(201);
    const lines: string[] = [];
    const report = await buildIndexes(
      url,
      db,
      '_design/timeouts',
      { ids: {} },
      { log: (l) => lines.push(l), pollMs: 100 },
    );
    expect(injected).toBe(2);
    expect(
      lines.filter((l) => /_design\/timeouts\/ids: still building \(the server answered 500 timeout/.test(l)),
    ).toHaveLength(2);
    expect(report.views).toBe(1);
  } finally {
    await new Promise((r) => proxy.close(r));
  }
});
