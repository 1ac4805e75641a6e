/**
 * Malformed and oversized request bodies, on whichever server the suite runs (embedded or CouchDB
 * 3.4): refused with a JSON error, nothing changed, no HTML or stack trace, the server still up.
 * The exact statuses the embedded server gives are pinned in embedded.test.ts; where CouchDB
 * itself answers differently (bad-input-cases.ts records its answer) that answer is allowed here.
 */
import { createTestEnv, type TestEnv } from '../../support/env';
import {
  BODY_CASES,
  LEAK,
  SECURITY_CASES,
  contentTypeOf,
  type BadInput,
} from '../../../scripts/server/test/bad-input-cases';

let env: TestEnv;
let db: string;

function adminHeaders(): Record<string, string> {
  const u = new URL(env.adminUrl);
  return {
    Authorization:
      'Basic ' + Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64'),
  };
}

async function send(
  method: string,
  path: string,
  body: string | undefined,
  headers: Record<string, string>,
): Promise<{ status: number; text: string; json: Record<string, unknown> | null }> {
  const res = await fetch(`${env.baseUrl}/${db}${path}`, { method, body, headers: { ...adminHeaders(), ...headers } });
  const text = await res.text();
  let json: Record<string, unknown> | null = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON: the assertions below say so */
  }
  return { status: res.status, text, json };
}

const security = async () => (await send('GET', '/_security', undefined, {})).json;
const info = async () => (await send('GET', '', undefined, {})).json as { doc_count: number };
const alive = async () => (await fetch(env.baseUrl + '/')).status;

/** A refusal as the rules want it: the allowed status, a JSON error object, nothing leaked. */
function expectRefused(c: BadInput, res: { status: number; text: string; json: Record<string, unknown> | null }): void {
  expect([400, c.couchdb ?? 400]).toContain(res.status);
  expect(res.text).not.toMatch(LEAK);
  expect(res.json).not.toBeNull();
  if (res.status >= 400) expect(res.json).toMatchObject({ error: expect.any(String), reason: expect.any(String) });
}

beforeAll(async () => {
  env = await createTestEnv();
  db = env.prefix + 'bad_input';
  expect((await fetch(`${env.baseUrl}/${db}`, { method: 'PUT', headers: adminHeaders() })).status).toBe(201);
});
afterAll(async () => {
  await fetch(`${env.baseUrl}/${db}`, { method: 'DELETE', headers: adminHeaders() });
  await env?.cleanup();
});

describe('PUT /db/_security', () => {
  const KEEP = { admins: { names: [], roles: ['keepers'] }, members: { names: ['keep'], roles: [] } };

  it.each([
    ['no Content-Type', {}],
    ['Content-Type: text/plain', { 'Content-Type': 'text/plain' }],
  ] as const)('with %s parses the body as CouchDB does: the object given is stored, not {}', async (_n, headers) => {
    const res = await send('PUT', '/_security', JSON.stringify(KEEP), headers);
    expect(res).toMatchObject({ status: 200, json: { ok: true } });
    expect(await security()).toEqual(KEEP);
    expect((await fetch(`${env.baseUrl}/${db}`)).status).toBe(401); // still not public
  });

  it.each(SECURITY_CASES.map((c) => [c.name, c] as const))('refuses %s and changes nothing', async (_n, c) => {
    expect((await send('PUT', '/_security', JSON.stringify(KEEP), { 'Content-Type': 'application/json' })).status).toBe(
      200,
    );
    expectRefused(c, await send(c.method, c.path, c.body, contentTypeOf(c)));
    expect(await security()).toEqual(KEEP);
    expect((await fetch(`${env.baseUrl}/${db}`)).status).toBe(401);
  });
});

describe('malformed bodies', () => {
  it.each(BODY_CASES.map((c) => [c.name, c] as const))(
    '%s: refused, nothing stored, the server still up',
    async (_n, c) => {
      const before = (await info()).doc_count;
      expectRefused(c, await send(c.method, c.path, c.body, contentTypeOf(c)));
      expect(await alive()).toBe(200);
      expect((await info()).doc_count).toBe(before);
      for (const id of ['bad-input-ok', 'bad-input-x', 'bad-input-doc'])
        expect((await send('GET', '/' + id, undefined, {})).status).toBe(404);
    },
  );
});

describe('[couchdb] max_document_size (8,000,000 bytes)', () => {
  const json = { 'Content-Type': 'application/json' };

  it('PUT of a larger document: 413 document_too_large, nothing stored', async () => {
    const res = await send('PUT', '/big-doc', JSON.stringify({ x: 'a'.repeat(8_100_000) }), json);
    expect(res).toMatchObject({ status: 413, json: { error: 'document_too_large' } });
    expect((await send('GET', '/big-doc', undefined, {})).status).toBe(404);
  });

  it('_bulk_docs with one larger document: 413 naming it, and no document of the batch stored', async () => {
    const res = await send(
      'POST',
      '/_bulk_docs',
      JSON.stringify({ docs: [{ _id: 'big', x: 'a'.repeat(8_100_000) }, { _id: 'small' }] }),
      json,
    );
    expect(res).toMatchObject({ status: 413, json: { error: 'document_too_large', reason: 'big' } });
    for (const id of ['big', 'small']) expect((await send('GET', '/' + id, undefined, {})).status).toBe(404);
    expect(await alive()).toBe(200);
  });

  it('a document just below the limit is stored', async () => {
    const res = await send('PUT', '/almost-big', JSON.stringify({ x: 'a'.repeat(7_900_000) }), json);
    expect(res.status).toBe(201);
  });
});
