/**
 * `couchstage edge` with its own store: the embedded server under its data directory, deployed
 * like central, with central's user accounts copied (password hashes only, user accounts only), so
 * a job signs in at the edge with its central password and PUTs exactly as it would centrally;
 * the document reaches central as the edge account, central's state comes back, bad input is
 * refused at once with central's answer, and the backlog is measured back to 0. Central is the
 * test server (either engine).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { withCredentials } from '../../../agents/platform/config';
import { EDGE_SITE_ROLE_PREFIX, Role } from '../../../views/schema';
import { startEdge, type Edge } from '../../../scripts/edge/run';
import { createTestEnv, transferFixture, type TestEnv } from '../../support/env';

jest.setTimeout(180_000);

describe('couchstage edge with the embedded server as its store', () => {
  let env: TestEnv;
  let edge: Edge | null = null;
  let dataDir: string;
  let central: string;
  const name = `edge_${Date.now().toString(36)}`;

  beforeAll(async () => {
    env = await createTestEnv();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-edge-'));
    await env.admin.use('_users').insert({
      _id: 'org.couchdb.user:' + name,
      name,
      type: 'user',
      roles: [Role.edge, EDGE_SITE_ROLE_PREFIX + 'T2_CH_CERN'],
      password: env.password,
    } as never);
    central = withCredentials(env.baseUrl, name, env.password);
  });
  afterAll(async () => {
    await edge?.stop();
    const users = env.admin.use<{ _rev: string }>('_users');
    const d = await users.get('org.couchdb.user:' + name).catch(() => null);
    if (d) await users.destroy(d._id, d._rev);
    await env?.cleanup();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const put = (url: string, doc: Record<string, unknown>, who = env.names.owner) =>
    fetch(`${url}/${env.dbs.transfers}/${doc._id}`, {
      method: 'PUT',
      headers: {
        'Content-Type': 'application/json',
        Authorization: 'Basic ' + Buffer.from(`${who}:${env.password}`).toString('base64'),
      },
      body: JSON.stringify(doc),
    });

  it('takes a job’s PUT with its central password, forwards it, and shows central’s state', async () => {
    const lines: string[] = [];
    edge = await startEdge({
      sites: ['T2_CH_CERN'],
      centralUrl: central,
      centralPrefix: env.prefix,
      localUrl: null,
      localPrefix: env.prefix,
      dataDir,
      port: 0,
      host: '127.0.0.1',
      usersFrom: env.adminUrl,
      metricsPort: null,
      intervalMs: 500,
      log: (l) => lines.push(l),
    });
    // Only user accounts were copied: not the agents', operators' or the edge's own.
    const users = await fetch(`${edge.localAdminUrl.replace(/\/\/[^@]*@/, '//')}/_users/_all_docs`, {
      headers: { Authorization: 'Basic ' + authOf(edge.localAdminUrl) },
    }).then((r) => r.json() as Promise<{ rows: { id: string }[] }>);
    const ids = users.rows.map((r) => r.id);
    expect(ids).toContain('org.couchdb.user:' + env.names.owner);
    expect(ids).not.toContain('org.couchdb.user:' + env.names.agent);
    expect(ids).not.toContain('org.couchdb.user:' + env.names.ops);
    expect(ids).not.toContain('org.couchdb.user:' + name);

    const doc = transferFixture(env.names.owner);
    expect((await put(edge.localUrl, doc)).status).toBe(201);
    // The same answers as central, from the edge alone.
    expect((await put(edge.localUrl, { ...doc, _id: 'x' })).status).toBe(403);
    expect((await put(edge.localUrl, transferFixture(env.names.owner), env.names.other)).status).toBe(403);
    const centralDb = env.admin.use<{ state: string; _rev: string }>(env.dbs.transfers);
    const arrived = await poll(() => centralDb.get(String(doc._id)));
    // An agent moves it on centrally; the edge sees it.
    await env
      .as('agent')
      .use(env.dbs.transfers)
      .insert({ ...doc, _rev: arrived._rev, state: 'acquired' } as never);
    const localDb = `${edge.localUrl}/${env.dbs.transfers}/${doc._id}`;
    await poll(async () => {
      const d = (await fetch(localDb, { headers: { Authorization: 'Basic ' + authOf(edge!.localAdminUrl) } }).then(
        (r) => r.json(),
      )) as { state?: string };
      if (d.state !== 'acquired') throw new Error(`edge has ${d.state}`);
      return d;
    });
    const figures = await poll(async () => {
      const f = await edge!.refresh();
      if (f.backlog !== 0 || !f.lastOkAt) throw new Error(JSON.stringify(f));
      return f;
    });
    expect(figures.centralReachable).toBe(true);
    expect(lines.join('\n')).toMatch(/users: \d+ written/);
  });
});

function authOf(url: string): string {
  const u = new URL(url);
  return Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64');
}

async function poll<T>(f: () => Promise<T>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await f();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}
