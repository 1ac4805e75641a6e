/**
 * Content types of request bodies, as Apache CouchDB 3.4.3 answers them (measured on the shared
 * node): a PUT body is parsed as JSON whatever its Content-Type, so a job's `curl -X PUT -d @doc`
 * (curl says application/x-www-form-urlencoded) or a PUT with no Content-Type at all stores the
 * document it carries; a POST with a JSON body and another Content-Type is refused with
 * 415 bad_content_type and changes nothing; the login form on `_session` stays a form. Both engines.
 */
import * as http from 'http';
import { createTestEnv, transferFixture, type TestEnv } from '../../support/env';

let env: TestEnv;

/** A raw request: fetch would add `text/plain;charset=UTF-8` to a body without a Content-Type. */
function raw(
  method: string,
  url: string,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const u = new URL(url);
  const auth = u.username
    ? {
        Authorization:
          'Basic ' +
          Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64'),
      }
    : {};
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        method,
        hostname: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        headers: { ...auth, ...headers, 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          try {
            resolve({ status: res.statusCode!, json: JSON.parse(text) });
          } catch {
            reject(new Error(`not JSON (${res.statusCode}): ${text.slice(0, 200)}`));
          }
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  await env?.cleanup();
});

describe('a transfer PUT by a job', () => {
  it.each([
    ['no Content-Type', {}],
    ['curl -d (application/x-www-form-urlencoded)', { 'Content-Type': 'application/x-www-form-urlencoded' }],
    ['text/plain', { 'Content-Type': 'text/plain' }],
  ] as const)('with %s is validated and stored as the document it carries', async (_n, headers) => {
    const doc = transferFixture(env.names.owner);
    const url = `${env.urlAs('owner')}/${env.dbs.transfers}/${doc._id}`;
    const res = await raw('PUT', url, JSON.stringify(doc), headers);
    expect(res).toMatchObject({ status: 201, json: { ok: true, id: doc._id } });
    const stored = (await env.admin.use(env.dbs.transfers).get(doc._id as string)) as unknown as Record<
      string,
      unknown
    >;
    expect(stored).toMatchObject({ type: 'transfer', user: env.names.owner, source_lfn: doc.source_lfn, state: 'new' });
  });

  it('with a body that is not JSON is refused as bad JSON, not as a document of no type', async () => {
    const doc = transferFixture(env.names.owner);
    const res = await raw('PUT', `${env.urlAs('owner')}/${env.dbs.transfers}/${doc._id}`, 'source_lfn=/store/x', {
      'Content-Type': 'application/x-www-form-urlencoded',
    });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: 'bad_request' });
    expect(String(res.json.reason)).not.toMatch(/type: must be/);
    await expect(env.admin.use(env.dbs.transfers).get(doc._id as string)).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe('a POST with a JSON body and another Content-Type', () => {
  const docId = () => transferFixture(env.names.owner)._id as string;
  it.each([
    ['_bulk_docs', () => ({ docs: [transferFixture(env.names.owner)] })],
    ['_find', () => ({ selector: { type: 'transfer' } })],
    ['_all_docs', (id: string) => ({ keys: [id] })],
    ['_bulk_get', (id: string) => ({ docs: [{ id }] })],
    ['_revs_diff', (id: string) => ({ [id]: ['1-abc'] })],
    ['_explain', () => ({ selector: { type: 'transfer' } })],
    ['(create a document)', () => transferFixture(env.names.owner)],
  ] as const)('POST /db/%s is refused with 415 bad_content_type, nothing written', async (endpoint, body) => {
    const id = docId();
    const before = (await env.admin.use(env.dbs.transfers).info()).doc_count;
    for (const ctype of ['text/plain', 'application/x-www-form-urlencoded']) {
      const res = await raw(
        'POST',
        `${env.urlAs('owner')}/${env.dbs.transfers}${endpoint.startsWith('_') ? '/' + endpoint : ''}`,
        JSON.stringify(body(id)),
        { 'Content-Type': ctype },
      );
      expect(res).toEqual({
        status: 415,
        json: { error: 'bad_content_type', reason: 'Content-Type must be application/json' },
      });
    }
    expect((await env.admin.use(env.dbs.transfers).info()).doc_count).toBe(before);
    // The same body as application/json is served.
    const ok = await raw(
      'POST',
      `${env.urlAs('owner')}/${env.dbs.transfers}${endpoint.startsWith('_') ? '/' + endpoint : ''}`,
      JSON.stringify(body(id)),
      { 'Content-Type': 'application/json; charset=utf-8' },
    );
    expect(ok.status).toBeLessThan(300);
  });

  it('the login form on _session stays a form', async () => {
    const res = await raw(
      'POST',
      `${env.baseUrl}/_session`,
      `name=${encodeURIComponent(env.names.owner)}&password=${encodeURIComponent(env.password)}`,
      { 'Content-Type': 'application/x-www-form-urlencoded' },
    );
    expect(res).toMatchObject({ status: 200, json: { ok: true, name: env.names.owner } });
  });
});
