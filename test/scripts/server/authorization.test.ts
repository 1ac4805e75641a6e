/**
 * Authorisation equals CouchDB 3.4's on every endpoint: one table (authorization-cases.ts) of
 * requests x actors, run against the server under test (the embedded server, or CouchDB 3.4 with
 * COUCHDB_URL, where the table's answers were measured). A refused request changes nothing: the
 * security objects, documents (design documents included) and users are compared before and after.
 */
import { createTestEnv, type TestEnv } from '../../support/env';
import { ACTORS, CASES, type ActorName, type Case } from './authorization-cases';

let env: TestEnv;
let db: string;
let pub: string;
const names = {} as Record<ActorName, string | null>;
const SECURITY = () => ({ members: { names: [names.member] }, admins: { names: [names.dbadmin] } });

async function call(
  method: string,
  path: string,
  opts: { actor?: ActorName | 'wrong'; body?: unknown; type?: string; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { ...(opts.headers || {}) };
  const actor = opts.actor ?? 'admin';
  if (actor === 'admin')
    headers.Authorization =
      'Basic ' +
      Buffer.from(new URL(env.adminUrl).username + ':' + decodeURIComponent(new URL(env.adminUrl).password)).toString(
        'base64',
      );
  else if (actor === 'wrong')
    headers.Authorization = 'Basic ' + Buffer.from(`${names.member}:wrong`).toString('base64');
  else if (actor !== 'anonymous')
    headers.Authorization = 'Basic ' + Buffer.from(`${names[actor]}:${env.password}`).toString('base64');
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers['Content-Type'] = opts.type || 'application/json';
    body = typeof opts.body === 'string' && opts.type ? opts.body : JSON.stringify(opts.body);
  }
  const res = await fetch(env.baseUrl + path, { method, headers, body });
  const text = await res.text();
  let json: Record<string, unknown> & unknown[] = {} as never;
  try {
    json = JSON.parse(text);
  } catch {
    /* attachments */
  }
  return { status: res.status, json };
}

async function revOf(path: string): Promise<string> {
  const r = await call(
    'GET',
    '/' + path.split('/').map(encodeURIComponent).join('/').replace('_design%2F', '_design/'),
  );
  return String(r.json._rev ?? '');
}

async function fill(text: string, actor: ActorName): Promise<string> {
  let out = text
    .replace(/\{db\}/g, db)
    .replace(/\{pub\}/g, pub)
    .replace(/\{actor\}/g, actor + '_' + db.slice(5, 12))
    .replace(/\{(plain|member|dbadmin)\}/g, (_m, a: ActorName) => String(names[a]));
  for (const m of [...out.matchAll(/\{rev:([^}]+)\}/g)])
    out = out.replace(m[0], await revOf(m[1].startsWith('_users/') ? m[1] : `${db}/${m[1]}`));
  return out;
}

/** What a refused request must not change. */
async function snapshot() {
  const docs = async (d: string) => (await call('GET', `/${d}/_all_docs`)).json.rows;
  const users = await Promise.all(
    Object.values(env.names).map(async (n) => (await call('GET', `/_users/org.couchdb.user:${n}`)).json._rev),
  );
  return {
    security: (await call('GET', `/${db}/_security`)).json,
    pubSecurity: (await call('GET', `/${pub}/_security`)).json,
    usersSecurity: (await call('GET', '/_users/_security')).json,
    docs: await docs(db),
    pubDocs: await docs(pub),
    users,
    // Only this file's: the suite's other files create and drop databases of their own meanwhile
    // (seen as a flake in CI), and every database a case could create is named after {db}.
    allDbs: ((await call('GET', '/_all_dbs')).json as unknown as string[]).filter((n) => n.startsWith(env.prefix)),
  };
}

beforeAll(async () => {
  env = await createTestEnv();
  db = env.prefix + 'authz';
  pub = env.prefix + 'authzpub';
  Object.assign(names, {
    anonymous: null,
    plain: env.names.other,
    member: env.names.owner,
    dbadmin: env.names.agent,
    admin: 'admin',
  });
  for (const d of [db, pub]) {
    expect((await call('PUT', '/' + d)).status).toBe(201);
    const put = await call('PUT', `/${d}/doc1`, { body: { a: 1 } });
    await call('PUT', `/${d}/doc1/att.txt?rev=${put.json.rev}`, { body: 'hello', type: 'text/plain' });
    await call('PUT', `/${d}/_design/d`, {
      body: { views: { v: { map: 'function (doc) { emit(doc._id, null); }' } } },
    });
    await call('PUT', `/${d}/_local/l1`, { body: { a: 1 } });
    await call('POST', `/${d}/_index`, { body: { index: { fields: ['b'] }, ddoc: 'idx0', name: 'idx0' } });
  }
  expect((await call('PUT', `/${db}/_security`, { body: SECURITY() })).status).toBe(200);
  expect((await call('PUT', `/${pub}/_security`, { body: {} })).status).toBe(200);
}, 60_000);

afterAll(async () => {
  for (const d of [db, pub]) await call('DELETE', '/' + d);
  await env?.cleanup();
});

function check(expect_: string, r: { status: number; json: Record<string, unknown> }): string | null {
  const s = r.status;
  const refused = s === 401 || s === 403;
  switch (expect_) {
    case 'ok':
      return s >= 200 && s < 300 ? null : 'expected 2xx';
    case 'pass':
      return refused ? 'expected to be let through' : null;
    case '401':
      return s === 401 && r.json.error === 'unauthorized' ? null : 'expected 401 unauthorized';
    case '403':
      return s === 403 && r.json.error === 'forbidden' ? null : 'expected 403 forbidden';
    case 'den':
      return refused || s === 500 ? null : 'expected a refusal';
    case 'hid':
      return s === 403 || s === 404 ? null : 'expected 403 or 404';
    case 'inert':
      return null;
    case 'bulkerr':
      return s === 201 && Array.isArray(r.json) && (r.json as unknown[]).every((x) => (x as { error?: unknown }).error)
        ? null
        : 'expected 201 with an error per document';
  }
  return 'unknown expectation ' + expect_;
}

const label = (c: Case) => `${c.method} ${c.path}${c.headers ? ' ' + JSON.stringify(c.headers) : ''}`;

describe('the table of requests x actors', () => {
  it.each(CASES.map((c) => [label(c), c] as const))('%s', async (_l, c) => {
    const expected = c.expect.split(/\s+/);
    expect(expected).toHaveLength(ACTORS.length);
    const failures: string[] = [];
    for (const [i, actor] of ACTORS.entries()) {
      const want = expected[i];
      if (want === '-') continue;
      const before = await snapshot();
      const path = await fill(c.path, actor);
      const body =
        c.body === undefined
          ? undefined
          : c.type
            ? await fill(String(c.body), actor)
            : JSON.parse(await fill(JSON.stringify(c.body), actor));
      const headers = c.headers ? JSON.parse(await fill(JSON.stringify(c.headers), actor)) : undefined;
      const r = await call(c.method, path, { actor, body, type: c.type, headers });
      const wrong = check(want, r);
      if (wrong) failures.push(`${actor}: ${wrong}, got ${r.status} ${JSON.stringify(r.json).slice(0, 160)}`);
      if (want !== 'ok' && want !== 'pass') {
        const after = await snapshot();
        const changed = (Object.keys(after) as (keyof typeof after)[]).filter(
          (k) => JSON.stringify(after[k]) !== JSON.stringify(before[k]),
        );
        for (const k of changed)
          failures.push(
            `${actor}: ${r.status} but ${k} changed: ${JSON.stringify(before[k]).slice(0, 400)} -> ${JSON.stringify(after[k]).slice(0, 400)}`,
          );
      }
    }
    expect(failures).toEqual([]);
  });
});

describe('identity', () => {
  it('wrong credentials are 401 on every endpoint, public ones included', async () => {
    for (const p of ['/', `/${pub}`, `/${db}`, '/_session']) {
      const r = await call('GET', p, { actor: 'wrong' });
      expect([p, r.status, r.json.error]).toEqual([p, 401, 'unauthorized']);
    }
  });

  it('a cookie session is the user it was issued to, and is refused where the user is', async () => {
    const login = await fetch(env.baseUrl + '/_session', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: names.plain, password: env.password }),
    });
    expect(login.status).toBe(200);
    const cookie = (login.headers.get('set-cookie') || '').split(';')[0];
    expect(cookie).toMatch(/^AuthSession=./);
    const session = (await (await fetch(env.baseUrl + '/_session', { headers: { Cookie: cookie } })).json()) as {
      userCtx: { name: string };
    };
    expect(session.userCtx.name).toBe(names.plain);
    const r = await fetch(`${env.baseUrl}/${db}/doc1`, { headers: { Cookie: cookie } });
    expect(r.status).toBe(403);
    expect((await fetch(`${env.baseUrl}/${pub}/doc1`, { headers: { Cookie: cookie } })).status).toBe(200);
  });

  it('a membership change applies from the next request on (remembered users and security objects)', async () => {
    for (let i = 0; i < 3; i++) expect((await call('GET', `/${db}/doc1`, { actor: 'plain' })).status).toBe(403);
    const sec = { members: { names: [names.member, names.plain] }, admins: { names: [names.dbadmin] } };
    expect((await call('PUT', `/${db}/_security`, { body: sec })).status).toBe(200);
    expect((await call('GET', `/${db}/doc1`, { actor: 'plain' })).status).toBe(200);
    expect((await call('PUT', `/${db}/_security`, { body: SECURITY() })).status).toBe(200);
    expect((await call('GET', `/${db}/doc1`, { actor: 'plain' })).status).toBe(403);
  });

  /**
   * CouchDB's own auth cache follows `_users` a moment behind (measured: the restored password was
   * still refused right after the write), so the new answer is awaited for up to 3 s; the embedded
   * server remembers a user for 10 s, so without invalidation it would keep the old answer.
   */
  async function becomes(status: number): Promise<number> {
    let s = 0;
    for (let i = 0; i < 30 && s !== status; i++) {
      if (i) await new Promise((r) => setTimeout(r, 100));
      s = (await call('GET', `/${pub}`, { actor: 'plain' })).status;
    }
    return s;
  }

  it('a changed password applies within moments, not after the remembered user ends', async () => {
    expect(await becomes(200)).toBe(200);
    const id = `org.couchdb.user:${names.plain}`;
    const doc = (await call('GET', `/_users/${id}`)).json;
    expect((await call('PUT', `/_users/${id}`, { body: { ...doc, password: 'changed-' + env.password } })).status).toBe(
      201,
    );
    expect(await becomes(401)).toBe(401);
    const again = (await call('GET', `/_users/${id}`)).json;
    expect((await call('PUT', `/_users/${id}`, { body: { ...again, password: env.password } })).status).toBe(201);
    expect(await becomes(200)).toBe(200);
  });
});
