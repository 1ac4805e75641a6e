/**
 * validate_doc_update of `config` (sites, links, settings: operators only) and `catalog`
 * (agents and operators only), deployed on the server. A refused write answers 403 with a reason
 * that starts with the field it is about, and stores nothing.
 */
import { DEFAULT_SETTINGS } from '../../views/schema';
import { createTestEnv, type Actor, type TestEnv } from '../support/env';

type Doc = Record<string, unknown> & { _id: string };

const SITE: Doc = {
  _id: 'site:T2_CH_CERN',
  type: 'site',
  name: 'T2_CH_CERN',
  endpoints: { root: 'root://127.0.0.1:1094' },
  tfc: [{ protocol: 'root', path_match: '/+(.*)', result: 'root://127.0.0.1:1094//data/$1' }],
};
const LINK: Doc = { _id: 'link:A:B', type: 'link', source: 'A', destination: 'B', max_active: 10 };
const SETTINGS: Doc = { _id: 'settings', type: 'settings', max_retry: 5 };

let env: TestEnv;
let counter = 0;

beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(() => env?.cleanup());

interface Outcome { status: number; reason: string }

async function write(actor: Actor, dbName: string, doc: Doc): Promise<Outcome> {
  try {
    await env.as(actor).use<Doc>(dbName).insert(doc as never);
    return { status: 201, reason: '' };
  } catch (e) {
    const err = e as { statusCode?: number; reason?: string };
    return { status: err.statusCode ?? 0, reason: err.reason ?? String(e) };
  }
}

async function stored(dbName: string, id: string): Promise<Doc | { missing: number }> {
  return env.admin.use<Doc>(dbName).get(id).catch((e) => ({ missing: (e as { statusCode: number }).statusCode }));
}

/**
 * Refused with 403, a reason naming `field`, and the database unchanged for that id. A write over
 * a stored document carries its current `_rev`: without it CouchDB answers 409 before
 * validate_doc_update runs.
 */
async function expectRefused(actor: Actor, dbName: string, doc: Doc, field: string): Promise<void> {
  const before = await stored(dbName, doc._id);
  const rev = '_rev' in before && doc._rev === undefined ? { _rev: before._rev } : {};
  const outcome = await write(actor, dbName, { ...doc, ...rev });
  expect(outcome.status).toBe(403);
  expect(outcome.reason).toMatch(new RegExp('^' + field.replace(/[.[\]]/g, '\\$&') + ': '));
  expect(await stored(dbName, doc._id)).toEqual(before);
}

/** A fresh site document named T2_XX_<n>, so that each case writes its own id. */
function freshSite(changes: Record<string, unknown> = {}): Doc {
  const name = `T2_XX_${++counter}`;
  return { ...SITE, _id: 'site:' + name, name, ...changes };
}

describe('config database', () => {
  describe('operators write valid configuration', () => {
    it.each([
      ['the site document', SITE],
      ['a link document', LINK],
      ['the settings document', SETTINGS],
    ])('ops writes %s and it is stored as written', async (_label, doc) => {
      expect(await write('ops', env.dbs.config, doc)).toEqual({ status: 201, reason: '' });
      const { _rev, ...rest } = (await stored(env.dbs.config, doc._id)) as Doc;
      expect(_rev).toMatch(/^1-/);
      expect(rest).toEqual(doc);
    });

    it('ops updates a stored site (a second TFC rule, cleanup_source)', async () => {
      const current = (await stored(env.dbs.config, SITE._id)) as Doc;
      const updated = {
        ...current,
        endpoints: { root: 'root://127.0.0.1:1094', file: 'file:///data' },
        tfc: [...(SITE.tfc as object[]), { protocol: 'file', chain: 'root', path_match: 'root://[^/]+/(.*)', result: 'file:///$1' }],
        cleanup_source: true,
      };
      expect(await write('ops', env.dbs.config, updated)).toEqual({ status: 201, reason: '' });
      expect(await stored(env.dbs.config, SITE._id)).toMatchObject({ cleanup_source: true, _rev: expect.stringMatching(/^2-/) });
    });

    it('every setting of DEFAULT_SETTINGS may be set by ops', async () => {
      const current = (await stored(env.dbs.config, 'settings')) as Doc;
      expect(await write('ops', env.dbs.config, { ...current, ...DEFAULT_SETTINGS })).toEqual({ status: 201, reason: '' });
    });

    it('the server admin may write configuration too', async () => {
      const link = { _id: 'link:B:A', type: 'link', source: 'B', destination: 'A', max_active: 0, mode: 'tpc' };
      expect(await write('admin', env.dbs.config, link)).toEqual({ status: 201, reason: '' });
    });
  });

  describe('only operators change configuration', () => {
    it.each([
      ['a user writes a site', 'owner', freshSite()],
      ['a user writes a link', 'other', { ...LINK, _id: 'link:C:D', source: 'C', destination: 'D' }],
      ['an agent writes a site', 'agent', freshSite()],
      ['an agent writes a link', 'agent', { ...LINK, _id: 'link:E:F', source: 'E', destination: 'F' }],
      ['an agent writes the settings', 'agent', SETTINGS],
    ] as const)('%s: refused naming type', async (_label, actor, doc) => {
      await expectRefused(actor, env.dbs.config, doc as Doc, 'type');
    });

    it('a user cannot change the stored settings document', async () => {
      const current = (await stored(env.dbs.config, 'settings')) as Doc;
      await expectRefused('owner', env.dbs.config, { ...current, max_retry: 100 }, 'type');
    });

    it('an agent cannot delete the stored site document', async () => {
      const current = (await stored(env.dbs.config, SITE._id)) as Doc;
      await expectRefused('agent', env.dbs.config, { _id: current._id, _rev: current._rev, _deleted: true }, 'type');
    });

    it('an anonymous write is refused (401) and stores nothing', async () => {
      const doc = freshSite();
      expect((await write('anonymous', env.dbs.config, doc)).status).toBe(401);
      expect(await stored(env.dbs.config, doc._id)).toEqual({ missing: 404 });
    });
  });

  describe('malformed configuration is refused naming the field, even for ops', () => {
    it.each([
      ['an unknown document type', 'type', { _id: 'thing', type: 'thing' }],
      ['a site without a type', 'type', { ...freshSite(), type: undefined }],
      ['a TFC rule with a bad regular expression', 'tfc[0].path_match', freshSite({ tfc: [{ protocol: 'root', path_match: '/+(.*', result: 'root://h//$1' }] })],
      ['the second TFC rule malformed', 'tfc[1].result', freshSite({ tfc: (SITE.tfc as object[]).concat([{ protocol: 'root', path_match: '.*' }]) })],
      ['a TFC rule with an unknown field', 'tfc[0].destination_match', freshSite({ tfc: [{ protocol: 'root', path_match: '.*', result: 'x', destination_match: '.*' }] })],
      ['a TFC rule chaining to itself', 'tfc[0].chain', freshSite({ tfc: [{ protocol: 'root', chain: 'root', path_match: '.*', result: 'x' }] })],
      ['tfc not an array', 'tfc', freshSite({ tfc: {} })],
      ['a bad site name', 'name', { ...SITE, _id: 'site:T2 CH', name: 'T2 CH' }],
      ['an endpoint that is not a URL', 'endpoints.root', freshSite({ endpoints: { root: '127.0.0.1:1094' } })],
      ['cleanup_source not a boolean', 'cleanup_source', freshSite({ cleanup_source: 'yes' })],
      ['a site whose _id is not site:<name>', '_id', { ...SITE, _id: 'site:T2_CH_CERN_2' }],
      ['a site with a random _id', '_id', { ...SITE, _id: 'cern' }],
      ['a link whose _id is not link:<source>:<destination>', '_id', { ...LINK, _id: 'link:A:C' }],
      ['a link with a negative max_active', 'max_active', { ...LINK, _id: 'link:G:H', source: 'G', destination: 'H', max_active: -1 }],
      ['a link with an unknown mode', 'mode', { ...LINK, _id: 'link:G:H', source: 'G', destination: 'H', mode: 'fast' }],
      ['a link with a bad site name', 'source', { ...LINK, _id: 'link:G/1:H', source: 'G/1', destination: 'H' }],
      ['settings under another _id', '_id', { ...SETTINGS, _id: 'settings2' }],
      ['an unknown setting (a typo)', 'max_retries', { _id: 'settings', type: 'settings', max_retries: 5 }],
      ['a negative setting', 'cooloff', { _id: 'settings', type: 'settings', cooloff: -1 }],
      ['a setting as a string', 'lease_seconds', { _id: 'settings', type: 'settings', lease_seconds: '300' }],
    ])('%s: refused naming %s', async (_label, field, doc) => {
      await expectRefused('ops', env.dbs.config, JSON.parse(JSON.stringify(doc)) as Doc, field);
    });
  });
});

describe('catalog database', () => {
  const DATASET: Doc = { _id: 'dataset:/GenericTTbar/alice-crab_test-v1/USER', type: 'dataset', name: '/GenericTTbar/alice-crab_test-v1/USER' };

  it('an agent writes a dataset with a valid name', async () => {
    expect(await write('agent', env.dbs.catalog, DATASET)).toEqual({ status: 201, reason: '' });
    expect(await stored(env.dbs.catalog, DATASET._id)).toMatchObject({ name: DATASET.name });
  });

  it('ops writes a dataset too', async () => {
    expect(await write('ops', env.dbs.catalog, { ...DATASET, _id: 'dataset:ops', name: '/Prim/ops-v1/USER' })).toEqual({ status: 201, reason: '' });
  });

  it.each([
    ['a user writes a dataset', 'owner', { ...DATASET, _id: 'dataset:user' }],
    ['a user writes a file record', 'other', { _id: 'file:x', type: 'file' }],
  ] as const)('%s: refused naming type', async (_label, actor, doc) => {
    await expectRefused(actor, env.dbs.catalog, doc as Doc, 'type');
  });

  it('a user cannot change a stored dataset', async () => {
    const current = (await stored(env.dbs.catalog, DATASET._id)) as Doc;
    await expectRefused('owner', env.dbs.catalog, { ...current, name: '/Other/x-v1/USER' }, 'type');
  });

  it.each([
    ['not /primary/processed/TIER', 'GenericTTbar'],
    ['a lowercase tier', '/GenericTTbar/alice-v1/user'],
    ['missing', undefined],
  ])('an agent writes a dataset whose name is %s: refused naming name', async (_label, name) => {
    const doc = JSON.parse(JSON.stringify({ _id: `dataset:bad${++counter}`, type: 'dataset', name })) as Doc;
    await expectRefused('agent', env.dbs.catalog, doc, 'name');
  });

  it('an agent writes a document of a type that does not belong in the catalogue: refused naming type', async () => {
    await expectRefused('agent', env.dbs.catalog, SITE, 'type');
  });

  it('a closed block never changes for agents, but ops may still fix it', async () => {
    const block = { _id: 'block:1', type: 'block', dataset: DATASET.name, open: true, files: [] as string[] };
    expect(await write('agent', env.dbs.catalog, block)).toEqual({ status: 201, reason: '' });
    let current = (await stored(env.dbs.catalog, 'block:1')) as Doc;
    expect(await write('agent', env.dbs.catalog, { ...current, open: false })).toEqual({ status: 201, reason: '' });
    current = (await stored(env.dbs.catalog, 'block:1')) as Doc;
    await expectRefused('agent', env.dbs.catalog, { ...current, files: ['f1'] }, 'open');
    expect(await write('ops', env.dbs.catalog, { ...current, files: ['f1'] })).toEqual({ status: 201, reason: '' });
  });
});
