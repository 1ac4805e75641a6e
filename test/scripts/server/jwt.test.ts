/**
 * Bearer tokens on whichever server the suite runs (embedded or CouchDB 3.4.3), with the test
 * issuer's keys (test/support/issuer.ts, deployed as `deploy --jwt-jwks` deploys them): each
 * token is accepted or refused with the same status and reason on both engines, and a refused
 * write stores nothing.
 */
import { spawnSync } from 'child_process';
import { generateKeyPairSync } from 'crypto';
import * as path from 'path';
import { connect } from '../../../agents/platform/couch';
import { configureTokens } from '../../../scripts/ops/jwt-config';
import { Role } from '../../../views/schema';
import { createTestEnv, transferFixture, type TestEnv } from '../../support/env';
import { claimsFor, jwksFile, KIDS, publicKeyPem, sign, TEST_ISSUER, tokenFor } from '../../support/issuer';

let env: TestEnv;
let mapped: TestEnv;
const nowS = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  env = await createTestEnv();
  mapped = await createTestEnv({ tokenGroups: { opsGroup: '/cstest/couchstage-ops', userGroup: '/cstest' } });
});
afterAll(async () => {
  await env?.cleanup();
  await mapped?.cleanup();
});

async function putAs(e: TestEnv, token: string, doc: Record<string, unknown>) {
  const res = await fetch(`${e.baseUrl}/${e.dbs.transfers}/${doc._id}`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(doc),
  });
  return { status: res.status, body: (await res.json()) as { error?: string; reason?: string } };
}

async function stored(e: TestEnv, id: string): Promise<boolean> {
  const res = await fetch(`${e.adminUrl.replace(/\/\/.*@/, '//')}/${e.dbs.transfers}/${id}`, {
    headers: { Authorization: 'Basic ' + Buffer.from(adminCreds(e)).toString('base64') },
  });
  await res.arrayBuffer();
  return res.status === 200;
}

function adminCreds(e: TestEnv): string {
  const u = new URL(e.adminUrl);
  return `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
}

const user = () => env.names.owner;
const valid = () => claimsFor(user(), [Role.user]);

type Case = [string, () => Promise<string>, number, string, string];
const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

const REFUSED: Case[] = [
  ['expired', () => sign({ ...valid(), exp: nowS() - 60 }), 401, 'unauthorized', 'exp not in future'],
  ['not yet valid', () => sign({ ...valid(), nbf: nowS() + 600 }), 401, 'unauthorized', 'nbf not in past'],
  ['wrong issuer', () => sign({ ...valid(), iss: 'https://evil.test' }), 400, 'bad_request', 'Invalid iss claim'],
  ['no issuer', () => sign({ ...valid(), iss: undefined }), 400, 'bad_request', 'Missing iss claim'],
  ['no nbf', () => sign({ ...valid(), nbf: undefined }), 400, 'bad_request', 'Missing nbf claim'],
  ['unknown kid', () => sign(valid(), { kid: 'nobody', key: otherKey }), 400, 'bad_request', 'Unknown kid'],
  ['bad signature', () => sign(valid(), { kid: KIDS.rsa1, key: otherKey }), 400, 'bad_request', 'Bad signature'],
  [
    'alg: none',
    async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(valid())}.`,
    400,
    'bad_request',
    'Invalid alg header parameter',
  ],
  [
    'HS256 with the public key as secret',
    () => sign(valid(), { alg: 'HS256', kid: KIDS.rsa1, key: new TextEncoder().encode(publicKeyPem(KIDS.rsa1)) }),
    400,
    'bad_request',
    'Unknown kid',
  ],
  [
    'an EC key named as an RSA one',
    () => sign(valid(), { alg: 'RS256', kid: KIDS.ec, key: otherKey }),
    400,
    'bad_request',
    'Unknown kid',
  ],
  ['missing sub', () => sign({ ...valid(), sub: undefined }), 401, 'unauthorized', 'Token missing sub claim.'],
  [
    'no groups claim',
    () => sign({ ...valid(), 'wlcg.groups': undefined }),
    404,
    'not_found',
    'missing json key: wlcg.groups',
  ],
  ['not a token', async () => 'abc.def', 400, 'bad_request', 'Malformed token'],
];

describe('tokens refused: status and reason as CouchDB 3.4 answers, nothing stored', () => {
  test.each(REFUSED)('%s', async (_name, make, status, error, reason) => {
    const doc = transferFixture(user());
    const r = await putAs(env, await make(), doc);
    expect(r).toEqual({ status, body: { error, reason } });
    expect(await stored(env, doc._id as string)).toBe(false);
  });
});

describe('tokens accepted', () => {
  test.each([
    ['RS256, first key', () => sign(valid())],
    ['RS256, second kid', () => sign(valid(), { kid: KIDS.rsa2 })],
    ['ES256', () => sign(valid(), { kid: KIDS.ec })],
    // Neither engine checks aud: CouchDB 3.4's jwtf has no such check (SECURITY.md).
    ['another audience (aud is not checked)', () => sign({ ...valid(), aud: 'https://other.service' })],
  ])('%s: the transfer is stored as the token’s sub', async (_n, make) => {
    const doc = transferFixture(user());
    const r = await putAs(env, await make(), doc);
    expect(r.status).toBe(201);
    expect(await stored(env, doc._id as string)).toBe(true);
  });

  test('_session names the sub and the groups as roles, authenticated by jwt', async () => {
    const res = await fetch(`${env.baseUrl}/_session`, { headers: { Authorization: `Bearer ${await sign(valid())}` } });
    const body = (await res.json()) as {
      userCtx: unknown;
      info: { authenticated: string; authentication_handlers: string[] };
    };
    expect(res.status).toBe(200);
    expect(body.userCtx).toEqual({ name: user(), roles: [Role.user] });
    expect(body.info.authenticated).toBe('jwt');
    expect(body.info.authentication_handlers).toContain('jwt');
  });

  test('a token is an ordinary client credential: nano with COUCHSTAGE_TOKEN from the environment', async () => {
    process.env.COUCHSTAGE_TOKEN = await sign(valid());
    try {
      const doc = transferFixture(user());
      await connect(env.baseUrl).use(env.dbs.transfers).insert(doc);
      expect(await stored(env, doc._id as string)).toBe(true);
    } finally {
      delete process.env.COUCHSTAGE_TOKEN;
    }
  });
});

describe('tokens and the document rules', () => {
  test("a user's token cannot write another user's transfer", async () => {
    const doc = transferFixture(env.names.other);
    const r = await putAs(env, await tokenFor(user(), [Role.user]), doc);
    expect(r.status).toBe(403);
    expect(r.body.error).toBe('forbidden');
    expect(r.body.reason).toMatch(/user/);
    expect(await stored(env, doc._id as string)).toBe(false);
  });

  test('a token without a couchstage role or mapped group is not a member', async () => {
    const doc = transferFixture(user());
    const r = await putAs(env, await tokenFor(user(), ['/cms']), doc);
    expect(r).toEqual({ status: 403, body: { error: 'forbidden', reason: 'You are not allowed to access this db.' } });
    expect(await stored(env, doc._id as string)).toBe(false);
  });

  test('deploy --jwt-user-group: the group is a member and writes its own transfers', async () => {
    const doc = transferFixture('tokenuser');
    const r = await putAs(mapped, await tokenFor('tokenuser', ['/cstest']), doc);
    expect(r.status).toBe(201);
  });

  test('deploy --jwt-ops-group: the group is a database admin (ops); the user group is not', async () => {
    const ddoc = (id: string) => ({ _id: `_design/${id}`, views: {} });
    const asOps = await putAs(mapped, await tokenFor('tokenops', ['/cstest/couchstage-ops']), ddoc('byops'));
    expect(asOps.status).toBe(201);
    const asUser = await putAs(mapped, await tokenFor('tokenuser', ['/cstest']), ddoc('byuser'));
    expect(asUser.status).toBe(403);
    expect(await stored(mapped, '_design/byuser')).toBe(false);
  });
});

test('deploy with the same JWKS and issuer again changes nothing', async () => {
  const lines: string[] = [];
  const changed = await configureTokens(env.adminUrl, { jwksFile: jwksFile(), issuer: TEST_ISSUER }, (l) =>
    lines.push(l),
  );
  expect(changed).toEqual([]);
  expect(lines[0]).toMatch(/already set/);
});

test('couchstage deploy --jwt-jwks FILE --jwt-issuer ISS from the command line; the issuer is required', () => {
  const cli = (args: string[]) =>
    spawnSync(process.execPath, [path.resolve(__dirname, '../../../dist/cli.js'), 'deploy', ...args], {
      env: { ...process.env, COUCHDB_URL: env.adminUrl, COUCHSTAGE_DB_PREFIX: env.prefix },
      encoding: 'utf8',
    });
  const ok = cli(['--jwt-jwks', jwksFile(), '--jwt-issuer', TEST_ISSUER]);
  expect(ok.status).toBe(0);
  expect(ok.stdout).toMatch(/token settings: keys, issuer and roles claim already set/);
  const bad = cli(['--jwt-jwks', jwksFile()]);
  expect(bad.status).not.toBe(0);
  expect(bad.stderr).toMatch(/--jwt-jwks needs --jwt-issuer/);
});
