/**
 * The TLS gateway against the real server (embedded or CouchDB 3.4): a grid PKI made here with
 * openssl, jobs submitting with `curl --cert`, and every refusal (expired, wrong issuer, revoked,
 * DN not mapped, forged proxy) answered with the check that failed and nothing written. Also
 * proxy authentication on the server itself: a forged `X-Auth-CouchDB-Token` names nobody.
 */
import { execFile } from 'child_process';
import { Agent, request } from 'undici';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { proxyTokens } from '../../../scripts/server/authz/proxy';
import { configureProxyAuth } from '../../../scripts/ops/proxy-auth';
import { startGateway, type Gateway } from '../../../scripts/gateway/server';
import { readDnMap } from '../../../scripts/gateway/dn-map';
import { createTestEnv, transferFixture, type TestEnv } from '../../support/env';
import { makeProxy, TestCa, type Issued } from '../../../scripts/gateway/test-pki';
import { Role } from '../../../views/schema';

interface Curl {
  status: number;
  body: { error?: string; reason?: string; ok?: boolean; userCtx?: { name: string | null; roles: string[] } };
}

const ALICE = '/DC=org/DC=test/OU=Users/CN=Alice Job';
const EVE = '/DC=org/DC=test/OU=Users/CN=Eve Revoked';
const OLD = '/DC=org/DC=test/OU=Users/CN=Old Expired';
const NOBODY = '/DC=org/DC=test/OU=Users/CN=Not Mapped';
const LATE = '/DC=org/DC=test/OU=Users/CN=Late Revoked';

let env: TestEnv;
let tmp: string;
let ca: TestCa;
let caDir: string;
let gw: Gateway;
let secret: string;
const certs: Record<string, Issued> = {};
let proxy: string;
let forgedProxy: string;
let revokedProxy: string;
let rogue: Issued;

function curl(args: string[], input?: string): Promise<Curl> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'curl',
      ['-s', '-S', '--cacert', ca.cert, '-w', '\n%{http_code}', ...args],
      { timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`curl ${args.join(' ')}: ${stderr || err.message}`));
        const i = stdout.lastIndexOf('\n');
        resolve({ status: Number(stdout.slice(i + 1)), body: JSON.parse(stdout.slice(0, i) || '{}') });
      },
    );
    if (input !== undefined) child.stdin!.end(input);
  });
}

const withCert = (c: Issued) => ['--cert', c.cert, '--key', c.key];

/** A job's PUT of one transfer through the gateway. */
function submit(auth: string[], doc: Record<string, unknown>): Promise<Curl> {
  return curl(
    [
      ...auth,
      '-X',
      'PUT',
      '-H',
      'Content-Type: application/json',
      '--data-binary',
      '@-',
      `${gw.url}/${env.dbs.transfers}/${doc._id}`,
    ],
    JSON.stringify(doc),
  );
}

async function stored(id: string): Promise<boolean> {
  const res = await fetch(`${env.baseUrl}/${env.dbs.transfers}/${id}`, {
    headers: {
      Authorization:
        'Basic ' +
        Buffer.from(new URL(env.adminUrl).username + ':' + decodeURIComponent(new URL(env.adminUrl).password)).toString(
          'base64',
        ),
    },
  });
  await res.arrayBuffer();
  return res.status === 200;
}

beforeAll(async () => {
  env = await createTestEnv();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-gw-test-'));
  ca = new TestCa(tmp, 'grid', '/DC=org/DC=test/CN=Test Grid CA');
  const stranger = new TestCa(tmp, 'rogue', '/DC=org/DC=test/CN=Test Grid CA');
  certs.server = ca.issue('server', '/DC=org/DC=test/CN=127.0.0.1', 'srv');
  certs.alice = ca.issue('alice', ALICE, 'usr');
  certs.eve = ca.issue('eve', EVE, 'usr');
  certs.old = ca.issue('old', OLD, 'usr', { start: '20200101000000Z', end: '20200102000000Z' });
  certs.nobody = ca.issue('nobody', NOBODY, 'usr');
  certs.late = ca.issue('late', LATE, 'usr');
  // Same subject as Alice, same CA name, another CA's key: only the issuer check tells them apart.
  rogue = stranger.issue('alice', ALICE, 'usr');
  ca.revoke(certs.eve.cert);
  caDir = path.join(tmp, 'certificates');
  ca.install(caDir);
  proxy = makeProxy(ca.dir, 'proxy', certs.alice, ALICE);
  forgedProxy = makeProxy(ca.dir, 'forged', certs.alice, ALICE, certs.nobody.key);
  revokedProxy = makeProxy(ca.dir, 'revoked-proxy', certs.eve, EVE);
  // The sites the CLI's submit checks transfers against.
  const sites = ['T2_CH_CERN', 'T2_IT_Pisa'].map((name) => ({
    _id: 'site:' + name,
    type: 'site',
    name,
    endpoints: { file: 'file:///tmp/' + name },
    tfc: [{ protocol: 'file', path_match: '/+(.*)', result: `file:///tmp/${name}/$1` }],
  }));
  const res = await env.as('ops').use(env.dbs.config).bulk({ docs: sites });
  if (res.some((r) => r.error)) throw new Error('configuring sites: ' + JSON.stringify(res));
  const map = path.join(tmp, 'map.json');
  const user = { name: env.names.owner, roles: [Role.user] };
  fs.writeFileSync(
    map,
    JSON.stringify({ [ALICE]: user, [EVE]: user, [OLD]: user, [LATE]: { name: env.names.other, roles: [Role.user] } }),
  );
  secret = await configureProxyAuth(env.adminUrl, path.join(tmp, 'proxy.secret'));
  gw = await startGateway({
    upstream: env.baseUrl,
    port: 0,
    cert: fs.readFileSync(certs.server.cert),
    key: fs.readFileSync(certs.server.key),
    caDir,
    mapFile: map,
    secret,
  });
}, 120_000);

afterAll(async () => {
  await gw?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  await env?.cleanup();
});

describe('a job through the TLS gateway', () => {
  it('submits with its certificate and the transfer is stored as the mapped user', async () => {
    const doc = transferFixture(env.names.owner);
    const r = await submit(withCert(certs.alice), doc);
    expect(r).toMatchObject({ status: 201, body: { ok: true } });
    const got = await env.admin.use<{ user: string }>(env.dbs.transfers).get(String(doc._id));
    expect(got.user).toBe(env.names.owner);
    const s = await curl([...withCert(certs.alice), `${gw.url}/_session`]);
    expect(s.body.userCtx).toEqual({ name: env.names.owner, roles: [Role.user] });
  });

  it('submits with an RFC 3820 proxy (cert, key and chain in one file, as X509_USER_PROXY)', async () => {
    const doc = transferFixture(env.names.owner);
    const r = await submit(['--cert', proxy, '--key', proxy], doc);
    expect(r).toMatchObject({ status: 201, body: { ok: true } });
    expect(await stored(String(doc._id))).toBe(true);
  });

  it.each([
    ['expired', () => withCert(certs.old), 401, /expired \(CERT_HAS_EXPIRED\)/],
    ['revoked', () => withCert(certs.eve), 401, /revoked \(CERT_REVOKED\)/],
    [
      'from an unknown CA',
      () => withCert(rogue),
      401,
      /wrong issuer.*\((CERT_SIGNATURE_FAILURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|UNABLE_TO_VERIFY_LEAF_SIGNATURE)\)/,
    ],
    [
      'held as a proxy of a revoked certificate',
      () => ['--cert', revokedProxy, '--key', revokedProxy],
      401,
      /revoked \(CERT_REVOKED\)/,
    ],
    ['a DN not in the map', () => withCert(certs.nobody), 403, /Not Mapped is not mapped to a user/],
    [
      'a proxy signed by another key',
      () => ['--cert', forgedProxy, '--key', forgedProxy],
      401,
      /\(CERT_SIGNATURE_FAILURE\)/,
    ],
  ])('refuses a certificate %s with the failed check, and writes nothing', async (_what, auth, status, reason) => {
    const doc = transferFixture(env.names.owner);
    const r = await submit(auth(), doc);
    expect(r.status).toBe(status);
    expect(r.body.error).toBe(status === 401 ? 'unauthorized' : 'forbidden');
    expect(r.body.reason).toMatch(reason);
    expect(await stored(String(doc._id))).toBe(false);
  });

  it('applies a new CRL without a restart (the CA directory is watched), to open connections too', async () => {
    const doc = transferFixture(env.names.other);
    expect((await submit(withCert(certs.late), doc)).status).toBe(201);
    // A client that keeps its connection open, as agents do.
    const keeper = new Agent({
      connect: {
        cert: fs.readFileSync(certs.late.cert),
        key: fs.readFileSync(certs.late.key),
        ca: fs.readFileSync(ca.cert),
      },
    });
    const sessionOf = async () => {
      const res = await request(`${gw.url}/_session`, { dispatcher: keeper });
      return { status: res.statusCode, body: (await res.body.json()) as Curl['body'] };
    };
    expect((await sessionOf()).body.userCtx!.name).toBe(env.names.other);
    ca.revoke(certs.late.cert);
    ca.install(caDir);
    let r: Curl | null = null;
    for (let i = 0; i < 50; i++) {
      r = await submit(withCert(certs.late), transferFixture(env.names.other));
      if (r.status === 401) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    expect(r!.status).toBe(401);
    expect(r!.body.reason).toMatch(/revoked/);
    expect(await sessionOf()).toMatchObject({
      status: 401,
      body: { reason: expect.stringMatching(/revoked \(CERT_REVOKED\)/) },
    });
    await keeper.close();
  });

  it('forwards requests without a certificate as they came: passwords still work, forged proxy headers are dropped', async () => {
    const basic = await curl(['-u', `${env.names.owner}:${env.password}`, `${gw.url}/_session`]);
    expect(basic.body.userCtx!.name).toBe(env.names.owner);
    const token = proxyTokens(secret, env.names.ops)[0];
    const forged = ['-H', `X-Auth-CouchDB-UserName: ${env.names.ops}`, '-H', `X-Auth-CouchDB-Roles: _admin`];
    const s = await curl([...forged, '-H', `X-Auth-CouchDB-Token: ${token}`, `${gw.url}/_session`]);
    expect(s.body.userCtx).toEqual({ name: null, roles: [] });
    // With a certificate too: the certificate's identity, not the headers'.
    const c = await curl([
      ...withCert(certs.alice),
      ...forged,
      '-H',
      `X-Auth-CouchDB-Token: ${token}`,
      `${gw.url}/_session`,
    ]);
    expect(c.body.userCtx).toEqual({ name: env.names.owner, roles: [Role.user] });
  });
});

describe('the CLI by certificate', () => {
  const cli = (vars: Record<string, string>, ...argv: string[]) =>
    new Promise<{ code: number; out: string; err: string }>((resolve) => {
      const clean = Object.fromEntries(
        Object.entries(process.env).filter(([k]) => !/^(COUCHDB_URL|COUCHSTAGE_|X509_)/.test(k)),
      );
      execFile(
        process.execPath,
        [path.join(__dirname, '../../../dist/cli.js'), ...argv],
        { env: { ...clean, COUCHSTAGE_DB_PREFIX: env.prefix, ...vars }, timeout: 60_000 },
        (err, out, errText) => resolve({ code: err ? Number(err.code) || 1 : 0, out, err: errText }),
      );
    });

  it('submits through the gateway with X509_USER_PROXY, as the mapped user', async () => {
    const lfn = `/store/temp/user/${env.names.owner}/wfcert/out_1.root`;
    const file = path.join(tmp, 'job.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        workflow: 'wfcert',
        jobid: '1',
        source: 'T2_CH_CERN',
        destination: 'T2_IT_Pisa',
        source_lfn: lfn,
        destination_lfn: lfn.replace('/temp', ''),
        size: 10,
        checksums: { adler32: '0badcafe' },
        publish: false,
      }),
    );
    const run = await cli({ COUCHDB_URL: gw.url, X509_USER_PROXY: proxy, COUCHSTAGE_CA: ca.cert }, 'submit', file);
    expect(run).toMatchObject({ err: '', code: 0, out: expect.stringContaining('1 submitted, 0 refused') });
    const rows = await env.admin.use<{ user: string }>(env.dbs.transfers).find({ selector: { workflow: 'wfcert' } });
    expect(rows.docs.map((d) => d.user)).toEqual([env.names.owner]);
  });

  it('is refused with the failed check when its certificate is', async () => {
    const run = await cli(
      { COUCHDB_URL: gw.url, COUCHSTAGE_CERT: certs.old.cert, COUCHSTAGE_KEY: certs.old.key, COUCHSTAGE_CA: ca.cert },
      'status',
    );
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/401.*expired \(CERT_HAS_EXPIRED\)/);
  });
});

describe('the DN map', () => {
  it.each([['_admin'], ['couchstage-admin'], ['couchstage-group-']])(
    'refuses a map granting %s, naming the entry',
    (role) => {
      const file = path.join(tmp, 'bad-map.json');
      fs.writeFileSync(file, JSON.stringify({ [ALICE]: { name: 'alice', roles: [Role.user, role] } }));
      expect(() => readDnMap(file)).toThrow(`"${ALICE}": role "${role}" is not one the gateway may grant`);
    },
  );
});

describe('proxy authentication on the server itself', () => {
  const session = async (headers: Record<string, string>) =>
    (await fetch(`${env.baseUrl}/_session`, { headers }).then((r) => r.json())) as {
      userCtx: { name: string | null; roles: string[] };
      info: { authenticated?: string; authentication_handlers: string[] };
    };

  it('accepts the HMAC of the name made with the secret (SHA-256 and SHA-1), as CouchDB does', async () => {
    for (const token of proxyTokens(secret, env.names.owner, ['sha256', 'sha1'])) {
      const s = await session({
        'X-Auth-CouchDB-UserName': env.names.owner,
        'X-Auth-CouchDB-Roles': `${Role.user}, x ,,y`,
        'X-Auth-CouchDB-Token': token,
      });
      expect(s.userCtx).toEqual({ name: env.names.owner, roles: [Role.user, 'x', '', 'y'] });
      expect(s.info).toMatchObject({
        authenticated: 'proxy',
        authentication_handlers: ['cookie', 'proxy', 'jwt', 'default'],
      });
    }
  });

  it.each([
    ['a wrong token', { 'X-Auth-CouchDB-Token': 'ab'.repeat(32) }],
    ['no token', {}],
    ['an upper-case token', { 'X-Auth-CouchDB-Token': 'UPPER' }],
  ])('with %s names nobody and writes nothing', async (_what, extra) => {
    const token = extra['X-Auth-CouchDB-Token' as keyof typeof extra];
    const headers: Record<string, string> = {
      'X-Auth-CouchDB-UserName': env.names.owner,
      'X-Auth-CouchDB-Roles': '_admin',
      ...(token === 'UPPER'
        ? { 'X-Auth-CouchDB-Token': proxyTokens(secret, env.names.owner)[0].toUpperCase() }
        : extra),
    };
    expect((await session(headers)).userCtx).toEqual({ name: null, roles: [] });
    const doc = transferFixture(env.names.owner);
    const res = await fetch(`${env.baseUrl}/${env.dbs.transfers}/${doc._id}`, {
      method: 'PUT',
      headers: { ...headers, 'Content-Type': 'application/json' },
      body: JSON.stringify(doc),
    });
    const body = (await res.json()) as { error: string };
    expect([res.status, body.error]).toEqual([401, 'unauthorized']);
    expect(await stored(String(doc._id))).toBe(false);
    const admin = await fetch(`${env.baseUrl}/_all_dbs`, { headers });
    await admin.arrayBuffer();
    expect(admin.status).toBe(401);
  });
});
