/**
 * validate_doc_update of `config` (sites, links, settings: operators only) and `catalog`
 * (agents and operators only), deployed on the server. A refused write answers 403 with a reason
 * that starts with the field it is about, and stores nothing.
 */
import { DEFAULT_SETTINGS, uuidFromHex } from '../../views/schema';
import { fileIdOf, guidOf, replicaIdOf } from '../../views/lib/catalog-ids';
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

interface Outcome {
  status: number;
  reason: string;
}

async function write(actor: Actor, dbName: string, doc: Doc): Promise<Outcome> {
  try {
    await env
      .as(actor)
      .use<Doc>(dbName)
      .insert(doc as never);
    return { status: 201, reason: '' };
  } catch (e) {
    const err = e as { statusCode?: number; reason?: string };
    return { status: err.statusCode ?? 0, reason: err.reason ?? String(e) };
  }
}

async function stored(dbName: string, id: string): Promise<Doc | { missing: number }> {
  return env.admin
    .use<Doc>(dbName)
    .get(id)
    .catch((e) => ({ missing: (e as { statusCode: number }).statusCode }));
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
      [
        'a site with its own namespaces',
        {
          ...SITE,
          _id: 'site:T2_NS',
          name: 'T2_NS',
          namespaces: {
            source: ['/store/temp/user/{user}/'],
            destination: ['/store/user/{user}/crab/', '/store/group/{group}/'],
          },
        },
      ],
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
        tfc: [
          ...(SITE.tfc as object[]),
          { protocol: 'file', chain: 'root', path_match: 'root://[^/]+/(.*)', result: 'file:///$1' },
        ],
        cleanup_source: true,
      };
      expect(await write('ops', env.dbs.config, updated)).toEqual({ status: 201, reason: '' });
      expect(await stored(env.dbs.config, SITE._id)).toMatchObject({
        cleanup_source: true,
        _rev: expect.stringMatching(/^2-/),
      });
    });

    it('every setting of DEFAULT_SETTINGS may be set by ops', async () => {
      const current = (await stored(env.dbs.config, 'settings')) as Doc;
      expect(await write('ops', env.dbs.config, { ...current, ...DEFAULT_SETTINGS })).toEqual({
        status: 201,
        reason: '',
      });
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
      [
        'a TFC rule with a bad regular expression',
        'tfc[0].path_match',
        freshSite({ tfc: [{ protocol: 'root', path_match: '/+(.*', result: 'root://h//$1' }] }),
      ],
      [
        'the second TFC rule malformed',
        'tfc[1].result',
        freshSite({ tfc: (SITE.tfc as object[]).concat([{ protocol: 'root', path_match: '.*' }]) }),
      ],
      [
        'a TFC rule with an unknown field',
        'tfc[0].destination_match',
        freshSite({ tfc: [{ protocol: 'root', path_match: '.*', result: 'x', destination_match: '.*' }] }),
      ],
      [
        'a TFC rule chaining to itself',
        'tfc[0].chain',
        freshSite({ tfc: [{ protocol: 'root', chain: 'root', path_match: '.*', result: 'x' }] }),
      ],
      ['tfc not an array', 'tfc', freshSite({ tfc: {} })],
      ['a bad site name', 'name', { ...SITE, _id: 'site:T2 CH', name: 'T2 CH' }],
      ['an endpoint that is not a URL', 'endpoints.root', freshSite({ endpoints: { root: '127.0.0.1:1094' } })],
      ['cleanup_source not a boolean', 'cleanup_source', freshSite({ cleanup_source: 'yes' })],
      [
        'a namespace prefix with no owner in it',
        'namespaces.destination[0]',
        freshSite({ namespaces: { destination: ['/store/public/'] } }),
      ],
      [
        'a namespace prefix with a %2e%2e segment',
        'namespaces.source[0]',
        freshSite({ namespaces: { source: ['/store/%2e%2e/{user}/'] } }),
      ],
      [
        'namespaces with an unknown list',
        'namespaces.sources',
        freshSite({ namespaces: { sources: ['/store/temp/{user}/'] } }),
      ],
      ['a site whose _id is not site:<name>', '_id', { ...SITE, _id: 'site:T2_CH_CERN_2' }],
      ['a site with a random _id', '_id', { ...SITE, _id: 'cern' }],
      ['a link whose _id is not link:<source>:<destination>', '_id', { ...LINK, _id: 'link:A:C' }],
      [
        'a link with a negative max_active',
        'max_active',
        { ...LINK, _id: 'link:G:H', source: 'G', destination: 'H', max_active: -1 },
      ],
      [
        'a link with an unknown mode',
        'mode',
        { ...LINK, _id: 'link:G:H', source: 'G', destination: 'H', mode: 'fast' },
      ],
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
  const NAME = '/GenericTTbar/alice-crab_test-v1/USER';
  const BLOCK_NAME = NAME + '#' + uuidFromHex('ab'.repeat(16));
  const LFN = '/store/user/alice/GenericTTbar/crab_test/0000/out_1.root';
  const AT = '2026-11-26T06:00:00Z';
  const DATASET: Doc = {
    _id: 'dataset:' + NAME,
    type: 'dataset',
    name: NAME,
    data_tier: 'USER',
    access_type: 'VALID',
    owner: 'alice',
    created_at: AT,
    parents: ['/GenericTTbar/Raw-v1/RAW'],
    processing: { workflow: 'crab_test' },
  };
  const BLOCK: Doc = {
    _id: 'block:' + BLOCK_NAME,
    type: 'block',
    name: BLOCK_NAME,
    dataset: NAME,
    owner: 'alice',
    open: true,
    origin_site: 'T2_CH_CERN',
    file_count: 1,
    total_size: 10,
    created_at: AT,
    closed_at: null,
  };
  const FILE: Doc = {
    _id: fileIdOf(LFN),
    type: 'file',
    lfn: LFN,
    guid: guidOf(LFN),
    size: 10,
    adler32: '0badcafe',
    valid: true,
    block: BLOCK_NAME,
    dataset: NAME,
    owner: 'alice',
    parents: ['/store/data/raw/r1.root'],
    created_at: AT,
  };
  const REPLICA: Doc = {
    _id: replicaIdOf(LFN, 'T2_CH_CERN'),
    type: 'replica',
    lfn: LFN,
    site: 'T2_CH_CERN',
    block: BLOCK_NAME,
    dataset: NAME,
    size: 10,
    created_at: AT,
    owner: 'alice',
  };
  const QUOTA: Doc = { _id: 'quota:alice', type: 'quota', user: 'alice', max_bytes: 1e12, max_files: 100000 };

  it.each([
    ['a dataset', DATASET],
    ['an open block', BLOCK],
    ['a file', FILE],
    ['a replica', REPLICA],
    ['a quota', QUOTA],
  ])('an agent writes %s with its deterministic id, stored as written', async (_label, doc) => {
    expect(await write('agent', env.dbs.catalog, doc)).toEqual({ status: 201, reason: '' });
    const { _rev, ...rest } = (await stored(env.dbs.catalog, doc._id)) as Doc;
    expect(_rev).toMatch(/^1-/);
    expect(rest).toEqual(doc);
  });

  it('ops writes a dataset too', async () => {
    const name = '/Prim/ops-v1/USER';
    expect(await write('ops', env.dbs.catalog, { ...DATASET, _id: 'dataset:' + name, name })).toEqual({
      status: 201,
      reason: '',
    });
  });

  it.each([
    ['a user writes a dataset', 'owner', { ...DATASET, _id: 'dataset:/Prim/user-v1/USER', name: '/Prim/user-v1/USER' }],
    ['a user writes a file record', 'other', { _id: 'file:x', type: 'file' }],
    ['a user writes a quota for themselves', 'owner', { ...QUOTA, _id: 'quota:u', user: 'u' }],
  ] as const)('%s: refused naming type', async (_label, actor, doc) => {
    await expectRefused(actor, env.dbs.catalog, doc as Doc, 'type');
  });

  it('a user cannot change a stored dataset', async () => {
    const current = (await stored(env.dbs.catalog, DATASET._id)) as Doc;
    await expectRefused('owner', env.dbs.catalog, { ...current, access_type: 'INVALID' }, 'type');
  });

  const bad = (doc: Doc, changes: Record<string, unknown>): Doc => JSON.parse(JSON.stringify({ ...doc, ...changes }));
  it.each([
    [
      'a dataset not /primary/processed/TIER',
      bad(DATASET, { _id: 'dataset:GenericTTbar', name: 'GenericTTbar' }),
      'name',
    ],
    ['a dataset with a lowercase tier', bad(DATASET, { _id: 'dataset:/G/a-v1/user', name: '/G/a-v1/user' }), 'name'],
    ['a dataset without a name', bad(DATASET, { _id: 'dataset:x', name: undefined }), 'name'],
    ['a dataset whose data_tier is not its TIER', bad(DATASET, { data_tier: 'AOD' }), 'data_tier'],
    ['a dataset with an unknown access type', bad(DATASET, { access_type: 'GOOD' }), 'access_type'],
    ['a dataset with a bad parent', bad(DATASET, { parents: ['nope'] }), 'parents[0]'],
    ['a dataset whose processing holds an object', bad(DATASET, { processing: { a: { b: 1 } } }), 'processing.a'],
    ['a block name without a uuid', bad(BLOCK, { _id: 'block:' + NAME + '#1', name: NAME + '#1' }), 'name'],
    ['a block of another dataset than its name says', bad(BLOCK, { dataset: '/Other/x-v1/USER' }), 'dataset'],
    ['a closed block without closed_at', bad(BLOCK, { open: false }), 'closed_at'],
    ['a block with a negative file count', bad(BLOCK, { file_count: -1 }), 'file_count'],
    ['a block at a bad site name', bad(BLOCK, { origin_site: 'no site' }), 'origin_site'],
    ['a file with a bad GUID', bad(FILE, { guid: 'G-1' }), 'guid'],
    ['a file with a bad adler32', bad(FILE, { adler32: 'xyz' }), 'adler32'],
    ['a file in a block of another dataset', bad(FILE, { dataset: '/Other/x-v1/USER' }), 'block'],
    ['a file whose LFN has ..', bad(FILE, { lfn: '/store/../etc/passwd' }), 'lfn'],
    ['a file with a bad parent LFN', bad(FILE, { parents: ['relative/path'] }), 'parents[0]'],
    ['a replica at a bad site name', bad(REPLICA, { site: 'a b' }), 'site'],
    ['a replica without a size', bad(REPLICA, { size: undefined }), 'size'],
    ['a quota with negative bytes', bad(QUOTA, { max_bytes: -5 }), 'max_bytes'],
  ])('an agent writes %s: refused naming the field', async (_label, doc, field) => {
    await expectRefused('agent', env.dbs.catalog, doc, field);
  });

  it.each([
    ['a file under another id', bad(FILE, { _id: 'file:abc' })],
    ['a dataset under another id', bad(DATASET, { _id: 'dataset:/Other/x-v1/USER' })],
    ['a replica under the id of another site', bad(REPLICA, { _id: replicaIdOf(LFN, 'T2_IT_Pisa') })],
    ['a block under another id', bad(BLOCK, { _id: 'block:1' })],
    ["a quota under another user's id", bad(QUOTA, { _id: 'quota:bob' })],
  ])('an agent writes %s: refused naming _id (ids are deterministic)', async (_label, doc) => {
    await expectRefused('agent', env.dbs.catalog, doc, '_id');
  });

  it('an agent writes a document of a type that does not belong in the catalogue: refused naming type', async () => {
    await expectRefused('agent', env.dbs.catalog, SITE, 'type');
  });

  it("a file's GUID never changes; its validity may (data handling)", async () => {
    const current = (await stored(env.dbs.catalog, FILE._id)) as Doc;
    await expectRefused('agent', env.dbs.catalog, { ...current, guid: uuidFromHex('cd'.repeat(16)) }, 'guid');
    expect(await write('agent', env.dbs.catalog, { ...current, valid: false })).toEqual({ status: 201, reason: '' });
  });

  it('a closed block never changes nor goes away for agents; an identical re-write is accepted; ops may still fix it', async () => {
    let current = (await stored(env.dbs.catalog, BLOCK._id)) as Doc;
    expect(
      await write('agent', env.dbs.catalog, { ...current, open: false, closed_at: AT, closed_by: 'full' }),
    ).toEqual({ status: 201, reason: '' });
    current = (await stored(env.dbs.catalog, BLOCK._id)) as Doc;
    await expectRefused('agent', env.dbs.catalog, { ...current, file_count: 2 }, 'open');
    await expectRefused('agent', env.dbs.catalog, { ...current, open: true, closed_at: null }, 'open');
    await expectRefused('agent', env.dbs.catalog, { _id: current._id, _rev: current._rev, _deleted: true }, '_deleted');
    expect(await write('agent', env.dbs.catalog, { ...current })).toEqual({ status: 201, reason: '' });
    current = (await stored(env.dbs.catalog, BLOCK._id)) as Doc;
    expect(await write('ops', env.dbs.catalog, { ...current, file_count: 2, total_size: 20 })).toEqual({
      status: 201,
      reason: '',
    });
  });
});
