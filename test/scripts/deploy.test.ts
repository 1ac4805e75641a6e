/**
 * `deploy` is idempotent: the second run changes nothing (same revisions), a new deploy version
 * alone is not a change, a design document changed on the server is put back, and the
 * databases carry the `_security` objects and the page attachments.
 */
import { DESIGNS } from '../../design/index';
import { deploy, securityObject } from '../../scripts/deploy';
import { createTestEnv, type TestEnv } from '../support/env';
import type { DbRole } from '../../views/schema';

describe('deploy', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv({ version: 'v1' });
  });
  afterAll(() => env?.cleanup());

  async function revisions(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const d of env.deployReport.designs) {
      const doc = await env.admin.use(d.db).get(d.id);
      out[`${d.db}/${d.id}`] = doc._rev;
    }
    return out;
  }

  it('creates every design document on the first run', () => {
    expect(env.deployReport.designs.map((d) => d.id).sort()).toEqual(DESIGNS.map((d) => '_design/' + d.name).sort());
    expect(env.deployReport.designs.every((d) => d.action === 'created')).toBe(true);
  });

  it('changes nothing on a second run, even with a new deploy version', async () => {
    const before = await revisions();
    for (const version of ['v1', 'v2']) {
      const report = await deploy({ url: env.adminUrl, dbs: env.dbs, version });
      expect(report.designs.every((d) => d.action === 'unchanged')).toBe(true);
    }
    expect(await revisions()).toEqual(before);
    const ddoc = await env.admin.use(env.dbs.transfers).get('_design/monitor');
    expect((ddoc as unknown as { couchstage: { version: string } }).couchstage.version).toBe('v1');
  });

  it('puts back a design document that was changed on the server', async () => {
    const db = env.admin.use<Record<string, unknown>>(env.dbs.config);
    const ddoc = await db.get('_design/validate');
    await db.insert({
      ...ddoc,
      validate_doc_update: 'function (newDoc) {}',
      couchstage: { version: 'x', hash: 'tampered' },
    } as never);
    const report = await deploy({ url: env.adminUrl, dbs: env.dbs, version: 'v3' });
    expect(report.designs.find((d) => d.db === env.dbs.config)?.action).toBe('updated');
    const restored = await db.get('_design/validate');
    expect(restored.validate_doc_update).toBe(ddoc.validate_doc_update);
  });

  it('secures every database: users, agents and ops as members (the service db: agents only), ops as admins', async () => {
    for (const [role, name] of Object.entries(env.dbs)) {
      const sec = await env.admin.request({ db: name, path: '_security' });
      expect(sec).toEqual(securityObject(role as DbRole));
      expect(sec.members.roles.includes('couchstage-user')).toBe(role !== 'service');
    }
    const anonymous = await fetch(`${env.baseUrl}/${env.dbs.transfers}/_all_docs`);
    expect(anonymous.status).toBe(401);
  });

  it('creates users with their roles', async () => {
    const doc = await env.admin.use<{ roles: string[] }>('_users').get('org.couchdb.user:' + env.names.agent);
    expect(doc.roles).toEqual(['couchstage-agent']);
    const session = await env.as('ops').session();
    expect(session.userCtx.roles).toContain('couchstage-ops');
  });

  it('serves the monitoring page from the monitor design document', async () => {
    const auth = 'Basic ' + Buffer.from(`${env.names.owner}:${env.password}`).toString('base64');
    const res = await fetch(`${env.baseUrl}/${env.dbs.transfers}/_design/monitor/index.html`, {
      headers: { Authorization: auth },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(await res.text()).toContain('<script src="main.js">');
    const js = await fetch(`${env.baseUrl}/${env.dbs.transfers}/_design/monitor/main.js`, {
      headers: { Authorization: auth },
    });
    expect(js.status).toBe(200);
    expect((await js.text()).length).toBeGreaterThan(1000);
  });
});
