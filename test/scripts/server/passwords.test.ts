/**
 * Users' passwords on whichever server the suite runs (embedded or CouchDB 3.4): stored as
 * CouchDB 3.4 stores them (pbkdf2 with sha256 and 600,000 iterations; the plain password never
 * kept), and a remembered verification never outlives the password it verified.
 */
import { createTestEnv, randomName, type TestEnv } from '../../support/env';

let env: TestEnv;
const users: string[] = [];

function basic(name: string, pw: string): Record<string, string> {
  return { Authorization: 'Basic ' + Buffer.from(`${name}:${pw}`).toString('base64') };
}

function adminHeaders(): Record<string, string> {
  const u = new URL(env.adminUrl);
  return {
    ...basic(decodeURIComponent(u.username), decodeURIComponent(u.password)),
    'Content-Type': 'application/json',
  };
}

async function putUser(name: string, password: string, rev?: string): Promise<string> {
  const res = await fetch(`${env.baseUrl}/_users/org.couchdb.user:${name}`, {
    method: 'PUT',
    headers: adminHeaders(),
    body: JSON.stringify({ name, password, roles: [], type: 'user', ...(rev ? { _rev: rev } : {}) }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { rev: string }).rev;
}

const sessionName = async (name: string, pw: string) =>
  (
    (await (await fetch(`${env.baseUrl}/_session`, { headers: basic(name, pw) })).json()) as {
      userCtx?: { name?: string };
    }
  ).userCtx?.name ?? null;

beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  for (const name of users) {
    const doc = await fetch(`${env.baseUrl}/_users/org.couchdb.user:${name}`, { headers: adminHeaders() }).then(
      (r) => r.json() as Promise<{ _rev?: string }>,
    );
    if (doc._rev)
      await fetch(`${env.baseUrl}/_users/org.couchdb.user:${name}?rev=${doc._rev}`, {
        method: 'DELETE',
        headers: adminHeaders(),
      });
  }
  await env?.cleanup();
});

it('a user document holds pbkdf2-sha256 with 600,000 iterations, a 16-byte salt and a 32-byte key, never the password', async () => {
  const name = randomName('pwtest_');
  users.push(name);
  await putUser(name, 'secret-one');
  const doc = (await (
    await fetch(`${env.baseUrl}/_users/org.couchdb.user:${name}`, { headers: adminHeaders() })
  ).json()) as Record<string, unknown>;
  expect(doc).toMatchObject({
    password_scheme: 'pbkdf2',
    pbkdf2_prf: 'sha256',
    iterations: 600000,
    salt: expect.stringMatching(/^[0-9a-f]{32}$/),
    derived_key: expect.stringMatching(/^[0-9a-f]{64}$/),
  });
  expect(doc.password).toBeUndefined();
  expect(JSON.stringify(doc)).not.toContain('secret-one');
});

/**
 * Polls until `fn` holds: CouchDB's auth cache learns of a changed user document from `_users`'
 * changes feed, a moment later.
 */
async function eventually(what: string, fn: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

it('after a password change the old password is refused, though it was verified (and remembered) just before', async () => {
  const name = randomName('pwtest_');
  users.push(name);
  const rev = await putUser(name, 'first-pw');
  for (let i = 0; i < 3; i++) expect(await sessionName(name, 'first-pw')).toBe(name);
  expect(await sessionName(name, 'wrong')).toBeNull();
  await putUser(name, 'second-pw', rev);
  await eventually('the old password is refused', async () => (await sessionName(name, 'first-pw')) === null);
  expect(await sessionName(name, 'second-pw')).toBe(name);
  expect(await sessionName(name, 'second-pw')).toBe(name);
});
