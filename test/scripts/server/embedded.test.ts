/**
 * `_security` of a database deployed by couchstage on the embedded server as `couchstage start`
 * runs it (supervised, its settings from the environment as start reads them). This file starts its
 * own server (whatever COUCHDB_URL says), so it may pin down embedded-only behaviour: the server
 * remembers security objects until one is written. The engine's own behaviour (admin, crash
 * routes, supervision) is tested beside it, in scripts/server/test/embedded.test.ts.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { withCredentials } from '../../../agents/platform/config';
import { http } from '../../../scripts/ops/http';
import { deploy } from '../../../scripts/deploy';
import { embeddedServerOptions } from '../../../scripts/embedded-env';
import { ensureEmbeddedAdmin, Supervisor, type EmbeddedState } from '../../../scripts/server';
import { dbNames, Role } from '../../../views/schema';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const ENTRY = path.join(ROOT, 'dist', 'server.js');

let tmp: string;
let supervisor: Supervisor;
let base: string;
let state: EmbeddedState;

/** Answers as couchstage's tools read them (scripts/ops/http.ts): status and JSON, credentials in the URL. */
const asAdmin = () => withCredentials(base, state.admin.name, state.admin.password);
const get = (pathname: string, url: string = asAdmin()) => http(url, 'GET', pathname);

beforeAll(async () => {
  expect(fs.existsSync(ENTRY)).toBe(true); // built by `npm test` (node scripts/build.mjs)
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-embedded-'));
  supervisor = new Supervisor({
    dataDir: path.join(tmp, 'couchdb'),
    port: 0,
    entry: ENTRY,
    ...embeddedServerOptions(),
  });
  base = await supervisor.start();
  state = await ensureEmbeddedAdmin({ stateDir: tmp }, base);
});

afterAll(async () => {
  await supervisor?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('_security of a deployed database', () => {
  const dbs = dbNames('emb_');
  const member = { name: 'emb_alice', password: 'alice-pw', roles: [Role.user] };
  const asMember = () => withCredentials(base, member.name, member.password);

  beforeAll(async () => {
    await deploy({
      url: withCredentials(base, state.admin.name, state.admin.password),
      dbs,
      users: [member],
      version: 'test',
    });
  });

  it.each(Object.values(dbs))('an unauthenticated GET of %s is 401', async (name) => {
    const r = await get(`/${name}`, base);
    expect(r.status).toBe(401);
    expect(r.body).not.toHaveProperty('db_name');
  });

  it('an unauthenticated read of a document or _all_docs is 401', async () => {
    expect((await get(`/${dbs.transfers}/_all_docs`, base)).status).toBe(401);
    expect((await get(`/${dbs.config}/settings`, base)).status).toBe(401);
  });

  it('wrong credentials are 401', async () => {
    expect((await get(`/${dbs.transfers}`, withCredentials(base, member.name, 'wrong'))).status).toBe(401);
  });

  it('a member (couchstage-user) reads it', async () => {
    expect(await get(`/${dbs.transfers}`, asMember())).toMatchObject({
      status: 200,
      body: { db_name: dbs.transfers },
    });
  });

  it('the _security object is the deployed one', async () => {
    expect((await get(`/${dbs.transfers}/_security`)).body).toEqual({
      admins: { names: [], roles: [Role.ops] },
      members: { names: [], roles: [Role.user, Role.agent, Role.ops, Role.edge] },
    });
  });

  it('a change of _security applies from the next request (the server remembers security objects until one is written)', async () => {
    const memberGet = () => get(`/${dbs.config}/_all_docs`, asMember());
    const put = async (body: object, how: 'route' | 'local') => {
      const target = how === 'route' ? `/${dbs.config}/_security` : `/${dbs.config}/_local/_security`;
      const cur = how === 'local' ? (await get(`/${dbs.config}/_local/_security`)).body : {};
      const res = await http(asAdmin(), 'PUT', target, { body: how === 'route' ? body : { ...cur, security: body } });
      expect(res.status).toBeLessThan(300);
    };
    const original = (await get(`/${dbs.config}/_security`)).body;
    for (let i = 0; i < 3; i++) expect((await memberGet()).status).toBe(200); // remembered now
    await put({ admins: { names: [], roles: [Role.ops] }, members: { names: [], roles: [Role.ops] } }, 'route');
    expect((await memberGet()).status).toBe(403); // signed in, not a member: CouchDB's 403
    await put(original, 'route');
    expect((await memberGet()).status).toBe(200);
    // Written as a plain local document, not through the _security route: applies at once too.
    await put({ admins: { names: [], roles: [Role.ops] }, members: { names: ['someone-else'], roles: [] } }, 'local');
    expect((await memberGet()).status).toBe(403); // signed in, not a member: CouchDB's 403
    await put(original, 'route');
    expect((await memberGet()).status).toBe(200);
  });
});
