/**
 * What an edge account (Role.edge with a `couchstage-edge-site-<site>` role) may write to central
 * `transfers`, written as its push replication writes (`_bulk_docs` with `new_edits: false`): its
 * site's users' new transfers and their kill and retry requests, nothing else; on the server, so
 * each refusal is CouchDB's (or the embedded server's) answer and stores nothing.
 */
import { randomBytes } from 'crypto';
import { withCredentials } from '../../agents/platform/config';
import { EDGE_SITE_ROLE_PREFIX, Role } from '../../views/schema';
import { createTestEnv, transferFixture, type TestEnv } from '../support/env';

type Row = { id?: string; error?: string; reason?: string };
type Doc = Record<string, unknown>;

const hash = () => randomBytes(16).toString('hex');

describe('transfers validate_doc_update: writes of an edge', () => {
  let env: TestEnv;
  const accounts: string[] = [];
  let edge: string;
  let siteless: string;

  async function account(roles: string[]): Promise<string> {
    const name = `edge_${hash().slice(0, 10)}`;
    await env.admin
      .use('_users')
      .insert({ _id: 'org.couchdb.user:' + name, name, type: 'user', roles, password: env.password } as never);
    accounts.push(name);
    return withCredentials(env.baseUrl, name, env.password);
  }

  beforeAll(async () => {
    env = await createTestEnv();
    edge = await account([Role.edge, EDGE_SITE_ROLE_PREFIX + 'T2_CH_CERN']);
    siteless = await account([Role.edge]);
  });
  afterAll(async () => {
    const users = env.admin.use<{ _rev: string }>('_users');
    for (const n of accounts) {
      const d = await users.get('org.couchdb.user:' + n);
      await users.destroy(d._id, d._rev);
    }
    await env?.cleanup();
  });

  /** A replicated write of `doc` as `url`: null when stored, else the refusal's error and reason. */
  async function replicate(url: string, doc: Doc, db = env.dbs.transfers): Promise<Row | null> {
    const u = new URL(url);
    const auth = Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64');
    const res = await fetch(`${env.baseUrl}/${db}/_bulk_docs`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: 'Basic ' + auth },
      body: JSON.stringify({ docs: [doc], new_edits: false }),
    });
    const body = (await res.json()) as Row[] | Row;
    if (res.status !== 201) return { error: (body as Row).error || String(res.status), reason: (body as Row).reason };
    return (body as Row[]).find((r) => r.error) || null;
  }

  /** `doc` as revision `n` of a path of its own (no stored ancestor). */
  function firstWrite(doc: Doc, n = 1): Doc {
    const ids = Array.from({ length: n }, hash);
    return { ...doc, _rev: `${n}-${ids[0]}`, _revisions: { start: n, ids } };
  }

  /** `doc` extending the stored revision `rev`. */
  function extending(doc: Doc, rev: string): Doc {
    const h = hash();
    const n = Number(rev.split('-')[0]);
    return { ...doc, _rev: `${n + 1}-${h}`, _revisions: { start: n + 1, ids: [h, rev.slice(rev.indexOf('-') + 1)] } };
  }

  async function stored(doc: Doc): Promise<string> {
    return (
      await env
        .as('owner')
        .use(env.dbs.transfers)
        .insert(doc as never)
    ).rev;
  }

  const owners = () => transferFixture(env.names.owner);

  it('forwards a new transfer of its site, also as a later revision (a kill asked before the push)', async () => {
    expect(await replicate(edge, firstWrite(owners()))).toBeNull();
    expect(await replicate(edge, firstWrite({ ...owners(), kill_requested: true }, 2))).toBeNull();
  });

  it('forwards the owner’s kill request on a stored transfer', async () => {
    const doc = owners();
    const rev = await stored(doc);
    expect(await replicate(edge, extending({ ...doc, kill_requested: true }, rev))).toBeNull();
  });

  it.each([
    ['another site', () => ({ ...owners(), source: 'T2_US_MIT' }), /^source: /],
    ['a transfer already done', () => ({ ...owners(), state: 'done' }), /^state: /],
    ['a service field', () => ({ ...owners(), attempts: [] }), /^attempts: /],
    ['an id that is not the hash of source_lfn', () => ({ ...owners(), _id: hash() }), /^_id: /],
    [
      "a file in another user's area",
      () => ({ ...owners(), user: env.names.other }),
      /^(source_lfn|destination_lfn|user): /,
    ],
    ['a data request', () => ({ _id: 'request:' + hash(), type: 'request', user: env.names.owner }), /^type: /],
    ['a heartbeat', () => ({ _id: 'heartbeat:x', type: 'heartbeat', source: 'T2_CH_CERN' }), /^type: /],
  ])('refuses %s', async (_name, make, reason) => {
    const doc = firstWrite(make());
    const refused = await replicate(edge, doc);
    expect(refused?.error).toBe('forbidden');
    expect(refused?.reason).toMatch(reason);
    await expect(env.admin.use(env.dbs.transfers).get(String(doc._id))).rejects.toMatchObject({ statusCode: 404 });
  });

  it.each([
    ['a changed checksum', (d: Doc) => ({ ...d, checksums: { adler32: 'deadbeef' } }), /^checksums: /],
    ['a state change', (d: Doc) => ({ ...d, state: 'done' }), /^state: /],
    ['a deletion', (d: Doc) => ({ _id: d._id, _deleted: true }), /^_deleted: /],
    ['another owner', (d: Doc) => ({ ...d, user: env.names.other }), /^user: /],
  ])('refuses %s of a stored transfer', async (_name, change, reason) => {
    const doc = owners();
    const rev = await stored(doc);
    const refused = await replicate(edge, extending(change(doc), rev));
    expect(refused?.error).toBe('forbidden');
    expect(refused?.reason).toMatch(reason);
    const now = (await env.admin.use(env.dbs.transfers).get(String(doc._id))) as { _rev: string };
    expect(now._rev).toBe(rev);
  });

  it('refuses everything to an edge account without a site role', async () => {
    const refused = await replicate(siteless, firstWrite(owners()));
    expect(refused).toMatchObject({ error: 'forbidden', reason: expect.stringMatching(/^source: .*no site/) });
  });

  it('leaves a plain user the rule that a replicated revision must extend a stored one', async () => {
    const refused = await replicate(env.urlAs('owner'), firstWrite({ ...owners(), kill_requested: true }, 2));
    expect(refused).toMatchObject({ error: 'forbidden', reason: expect.stringMatching(/^_revisions: /) });
  });

  it('is no member of the other databases', async () => {
    for (const db of [env.dbs.config, env.dbs.catalog, env.dbs.service]) {
      const doc = firstWrite({ _id: 'x' + hash(), type: 'site', name: 'T2_CH_CERN' });
      expect((await replicate(edge, doc, db))?.error).toMatch(/forbidden|unauthorized/);
    }
  });
});
