/**
 * The node-list client (agents/platform/nodes.ts) on real servers: the test server (embedded or
 * CouchDB) as the live node, a loopback port nobody listens on as the stopped one (connection
 * refused, as from a killed node), and bare HTTP servers answering 503 or cutting the answer
 * off as failing nodes (a node in trouble is the rare fault here, not the database). Every path the product sends
 * requests through: nano (`connect`), the `_changes` follower's request (`fetchChanges`, resumed
 * from its `since`), plain HTTP (`ops/http.ts`); and COUCHDB_URL's validation of each node URL.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import { ConfigError, loadConfig, withCredentials, withoutCredentials } from '../../../agents/platform/config';
import { connect, errorKind, fetchChanges, withRetry } from '../../../agents/platform/couch';
import { clientCounts, rotateNodes } from '../../../agents/platform/nodes';
import { freePort } from '../../../scripts/se/xrootd';
import { http as opsHttp } from '../../../scripts/ops/http';
import { createTestEnv, transferFixture, type TestEnv } from '../../support/env';

describe('a client with a list of node URLs', () => {
  let env: TestEnv;
  let dead: string;
  let failing: http.Server;
  let failingUrl: string;
  let failingHits = 0;
  let cutting: http.Server;
  let cuttingUrl: string;
  let nodedown: http.Server;
  let nodedownUrl: string;

  beforeAll(async () => {
    env = await createTestEnv();
    dead = `http://127.0.0.1:${await freePort()}`;
    failing = http.createServer((req, res) => {
      failingHits++;
      res.writeHead(503, { 'Content-Type': 'application/json' }).end('{"error":"nodedown","reason":"test"}');
    });
    await new Promise<void>((r) => failing.listen(0, '127.0.0.1', r));
    failingUrl = `http://127.0.0.1:${(failing.address() as AddressInfo).port}`;
    // A node killed while it answers: headers and half a body, then the connection drops.
    cutting = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '100' });
      res.write('{"rows":[', () => res.destroy());
    });
    await new Promise<void>((r) => cutting.listen(0, '127.0.0.1', r));
    cuttingUrl = `http://127.0.0.1:${(cutting.address() as AddressInfo).port}`;
    // What CouchDB 3.4.3 answered every agent while one node was stopped and another starting.
    nodedown = http.createServer((req, res) => {
      res.writeHead(412, { 'Content-Type': 'application/json' });
      res.end('{"error":"nodedown","reason":"progress not possible"}');
    });
    await new Promise<void>((r) => nodedown.listen(0, '127.0.0.1', r));
    nodedownUrl = `http://127.0.0.1:${(nodedown.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => failing.close(r));
    await new Promise((r) => cutting.close(r));
    await new Promise((r) => nodedown.close(r));
    await env?.cleanup();
  });

  /** The test server's URL as `actor` with the same credentials on every node of the list. */
  const listAs = (actor: 'admin' | 'owner', ...nodes: string[]) => {
    const creds = new URL(env.urlAs(actor));
    const live = withoutCredentials(env.urlAs(actor));
    const list = nodes.map((n) => (n === 'live' ? live : n)).join(',');
    return withCredentials(list, decodeURIComponent(creds.username), decodeURIComponent(creds.password));
  };

  it('sends a nano call to the next node when the first refuses connections, and stays there', async () => {
    const before = clientCounts.failovers;
    const db = connect(listAs('owner', dead, 'live')).use(env.dbs.transfers);
    const doc = transferFixture(env.names.owner);
    const put = await db.insert(doc);
    expect(put.ok).toBe(true);
    expect(clientCounts.failovers).toBe(before + 1);
    // The list moved on: the next call goes to the live node first (no new failover).
    const got = await db.get(doc._id as string);
    expect(got._rev).toBe(put.rev);
    expect(clientCounts.failovers).toBe(before + 1);
  });

  it('fails over on a 5xx answer, but hands a 4xx (the cluster speaking) straight to the caller', async () => {
    const hits = failingHits;
    const before = clientCounts.failovers;
    const server = connect(listAs('owner', failingUrl, 'live'));
    const info = await server.use(env.dbs.transfers).info();
    expect(info.db_name).toBe(env.dbs.transfers);
    expect(failingHits).toBe(hits + 1);
    expect(clientCounts.failovers).toBe(before + 1);
    const err = await connect(listAs('owner', 'live', failingUrl))
      .use(env.dbs.transfers)
      .get('no-such-doc')
      .catch((e) => e);
    expect(err.statusCode).toBe(404);
    expect(failingHits).toBe(hits + 1);
  });

  it('resumes a _changes read from the same since on the next node', async () => {
    const url = listAs('admin', dead, 'live');
    const first = await fetchChanges(env.urlAs('admin'), env.dbs.transfers, { since: 0, limit: 1 });
    const before = clientCounts.failovers;
    const res = await fetchChanges(url, env.dbs.transfers, { since: first.last_seq, limit: 100 });
    const direct = await fetchChanges(env.urlAs('admin'), env.dbs.transfers, { since: first.last_seq, limit: 100 });
    expect(res.results.map((c) => c.id)).toEqual(direct.results.map((c) => c.id));
    expect(clientCounts.failovers).toBe(before + 1);
  });

  it('takes an answer cut off mid-body for a node failure (nano would resolve it as "")', async () => {
    const before = clientCounts.failovers;
    const rows = await connect(listAs('owner', cuttingUrl, 'live'))
      .use(env.dbs.transfers)
      .list({ limit: 1 });
    expect(Array.isArray(rows.rows)).toBe(true);
    const changes = await fetchChanges(listAs('admin', cuttingUrl, 'live'), env.dbs.transfers, { since: 0, limit: 1 });
    expect(Array.isArray(changes.results)).toBe(true);
    expect(clientCounts.failovers).toBe(before + 2);
    // On a single server it is a transient error, for the caller's backoff.
    const err = await connect(listAs('owner', cuttingUrl))
      .use(env.dbs.transfers)
      .list()
      .catch((e) => e);
    expect(err.message).toMatch(/cut off/);
    expect(errorKind(err)).toBe('transient');
  });

  it('takes 412 nodedown (the node sees too few others) for a node failure, transient when alone', async () => {
    const before = clientCounts.failovers;
    const info = await connect(listAs('owner', nodedownUrl, 'live'))
      .use(env.dbs.transfers)
      .info();
    expect(info.db_name).toBe(env.dbs.transfers);
    const changes = await fetchChanges(listAs('admin', nodedownUrl, 'live'), env.dbs.transfers, { since: 0, limit: 1 });
    expect(Array.isArray(changes.results)).toBe(true);
    expect((await opsHttp(listAs('admin', nodedownUrl, 'live'), 'GET', `/${env.dbs.transfers}`)).status).toBe(200);
    // Two lists (owner, admin): one failover each; the admin's list stays on the live node after.
    expect(clientCounts.failovers).toBe(before + 2);
    const alone = await fetchChanges(listAs('admin', nodedownUrl), env.dbs.transfers, { since: 0 }).catch((e) => e);
    expect(alone.statusCode).toBe(412);
    expect(errorKind(alone)).toBe('transient');
    const other412 = Object.assign(new Error('precondition'), { statusCode: 412, error: 'file_exists' });
    expect(errorKind(other412)).toBe('permanent');
  });

  it('plain HTTP (ops commands) fails over too', async () => {
    const res = await opsHttp(listAs('admin', failingUrl, dead, 'live'), 'GET', `/${env.dbs.transfers}`);
    expect(res.status).toBe(200);
  });

  it('with every node down the error is transient, and withRetry tries again on the nodes', async () => {
    const url = listAs('owner', dead, failingUrl);
    const err = await connect(url)
      .use(env.dbs.transfers)
      .info()
      .catch((e) => e);
    expect(errorKind(err)).toBe('transient');
    let retries = 0;
    const again = await withRetry(() => connect(url).use(env.dbs.transfers).info(), {
      backoff: { delay: () => 10 },
      maxAttempts: 3,
      onRetry: () => retries++,
    }).catch((e) => e);
    expect(errorKind(again)).toBe('transient');
    expect(retries).toBe(2);
  });

  it('rotates a list so that agents start on different nodes', () => {
    expect(rotateNodes('http://a,http://b,http://c', 1)).toBe('http://b,http://c,http://a');
    expect(rotateNodes('http://a,http://b,http://c', 5)).toBe('http://c,http://a,http://b');
    expect(rotateNodes('http://a', 3)).toBe('http://a');
  });
});

describe('COUCHDB_URL as a node list', () => {
  it('keeps every node, without trailing slashes or blanks', () => {
    const cfg = loadConfig({ COUCHDB_URL: 'http://u:p@127.0.0.1:5984/, http://u:p@127.0.0.1:5985/' });
    expect(cfg.couchUrl).toBe('http://u:p@127.0.0.1:5984,http://u:p@127.0.0.1:5985');
  });
  it.each([
    [
      'a bad second node',
      'http://127.0.0.1:5984,localhost 5985',
      /^COUCHDB_URL \(node 2 of 2\): not a URL: "localhost 5985"$/,
    ],
    [
      'credentials masked in a bad node',
      'http://127.0.0.1:5984,http://u:secret@exa mple:5985',
      /^COUCHDB_URL \(node 2 of 2\): not a URL: "http:\/\/\*\*\*@exa mple:5985"$/,
    ],
    [
      'a database path on one node',
      'http://127.0.0.1:5984/transfers,http://127.0.0.1:5985',
      /node 1 of 2\): must point/,
    ],
    ['another scheme', 'http://127.0.0.1:5984,ftp://127.0.0.1:5985', /node 2 of 2\): must be http/],
    ['only commas', ' , ,', /^COUCHDB_URL: no URL in the list$/],
  ])('refuses %s', (_what, raw, message) => {
    expect(() => loadConfig({ COUCHDB_URL: raw })).toThrow(ConfigError);
    expect(() => loadConfig({ COUCHDB_URL: raw })).toThrow(message);
  });
});
