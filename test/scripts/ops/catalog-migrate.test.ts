/**
 * Local -> global migration on the deployed server: closed blocks move with their files,
 * replicas and datasets; open blocks stay; a re-run changes nothing; a migration interrupted
 * after the files but before the block document shows nothing of that block in the global
 * catalogue, and the next run completes it.
 */
import { createTestEnv, type TestEnv } from '../../support/env';
import { connect } from '../../../agents/platform/couch';
import * as q from '../../../scripts/client/catalog';
import { migrate, type Endpoint } from '../../../scripts/ops/catalog-migrate';
import { main as cli } from '../../../scripts/cli/main';
import { CatalogId, uuidFromHex } from '../../../views/schema';
import { fileIdOf, guidOf, replicaIdOf } from '../../../views/lib/catalog-ids';
import { A, A1, AT, B, F1, writeFixture } from '../../agents/publisher/fixture';
import { snapshot } from '../../agents/publisher/support';

const OPEN = A + '#' + uuidFromHex('0e'.repeat(16));
const A3 = A + '#' + uuidFromHex('a3'.repeat(16));
const OPEN_F = '/store/user/alice/a/open/o1.root';
const A3_FILES = ['/store/user/alice/a/3/h1.root', '/store/user/alice/a/3/h2.root'];

let env: TestEnv;
let global: string;

function endpoint(db: string, url = env.adminUrl): Endpoint {
  return { server: connect(url), url, db };
}

function catalogAt(db: string): q.Catalog {
  return { catalog: env.admin.use(db), config: env.admin.use(env.dbs.config) };
}

function docsOfBlock(name: string, lfns: string[], open: boolean) {
  const files = lfns.map((lfn) => ({
    _id: fileIdOf(lfn),
    type: 'file',
    lfn,
    guid: guidOf(lfn),
    size: 10,
    adler32: '0badcafe',
    valid: true,
    block: name,
    dataset: A,
    owner: 'alice',
    created_at: AT,
  }));
  const replicas = lfns.map((lfn) => ({
    _id: replicaIdOf(lfn, 'T2_CH_CERN'),
    type: 'replica',
    lfn,
    site: 'T2_CH_CERN',
    block: name,
    dataset: A,
    size: 10,
    created_at: AT,
    owner: 'alice',
  }));
  const block = {
    _id: CatalogId.block(name),
    type: 'block',
    name,
    dataset: A,
    owner: 'alice',
    open,
    origin_site: 'T2_CH_CERN',
    file_count: lfns.length,
    total_size: 10 * lfns.length,
    created_at: AT,
    closed_at: open ? null : AT,
  };
  return { files, replicas, block };
}

beforeAll(async () => {
  env = await createTestEnv();
  global = env.prefix + 'global_catalog';
  await writeFixture(env);
  const o = docsOfBlock(OPEN, [OPEN_F], true);
  await env
    .as('agent')
    .use(env.dbs.catalog)
    .bulk({ docs: [...o.files, ...o.replicas, o.block] as never[] });
});
afterAll(async () => {
  for (const db of [global]) await env.admin.db.destroy(db).catch(() => undefined);
  await env?.cleanup();
});

describe('local -> global migration', () => {
  it('moves closed blocks with files, replicas and datasets; open blocks stay local', async () => {
    const report = await migrate({ source: endpoint(env.dbs.catalog), target: endpoint(global) });
    expect(report).toMatchObject({
      method: 'bulk',
      closed_blocks: 3,
      already_there: 0,
      blocks: 3,
      files: 4,
      replicas: 5,
      datasets: 2,
      failed_blocks: [],
    });
    const g = catalogAt(global);
    const l = catalogAt(env.dbs.catalog);
    for (const ds of [A, B]) {
      expect(await q.files(g, ds)).toEqual((await q.files(l, ds)).filter((f) => f.block !== OPEN));
      expect((await q.blocks(g, ds)).map((b) => b.name)).toEqual(
        (await q.blocks(l, ds)).filter((b) => !b.open).map((b) => b.name),
      );
    }
    expect(await q.replicas(g, F1)).toEqual(await q.replicas(l, F1));
    expect(await q.blockLocations(g, A1)).toEqual(await q.blockLocations(l, A1));
    expect(await q.ls(g, '/store/user')).toEqual(
      (await q.ls(l, '/store/user')).map((e) => (e.name === 'alice/' ? { ...e, files: 3, bytes: 600 } : e)),
    );
    expect(await q.lfnToGuid(g, OPEN_F)).toBeNull();
    const s = await snapshot(env, global);
    expect(s.docs.has(CatalogId.block(OPEN))).toBe(false);
    expect(s.docs.has(fileIdOf(OPEN_F))).toBe(false);
    // The global catalogue is validated like the local one (its design documents were deployed).
    await expect(
      env
        .as('owner')
        .use(global)
        .insert({ _id: 'x', type: 'file' } as never),
    ).rejects.toMatchObject({ statusCode: 403 });
  });

  it('a re-run through the CLI (as ops) changes nothing', async () => {
    const before = await snapshot(env, global);
    const saved = { url: process.env.COUCHDB_URL, prefix: process.env.COUCHSTAGE_DB_PREFIX };
    process.env.COUCHDB_URL = env.urlAs('ops');
    process.env.COUCHSTAGE_DB_PREFIX = env.prefix;
    const out: string[] = [];
    try {
      expect(
        await cli(
          ['catalog', 'migrate', '--to', global, '--json'],
          (l) => out.push(l),
          (l) => out.push(l),
        ),
      ).toBe(0);
    } finally {
      process.env.COUCHDB_URL = saved.url;
      process.env.COUCHSTAGE_DB_PREFIX = saved.prefix;
    }
    expect(JSON.parse(out.join('\n'))).toMatchObject({ closed_blocks: 3, already_there: 3, blocks: 0, files: 0 });
    const after = await snapshot(env, global);
    expect([...after.docs].map(([id, d]) => [id, d._rev])).toEqual([...before.docs].map(([id, d]) => [id, d._rev]));
  });

  it('a block interrupted before its block document is invisible globally; the next run completes it', async () => {
    const a3 = docsOfBlock(A3, A3_FILES, false);
    await env
      .as('agent')
      .use(env.dbs.catalog)
      .bulk({ docs: [...a3.files, ...a3.replicas, a3.block] as never[] });
    // The state a crash between "files and replicas" and "block document" leaves behind.
    await env
      .as('agent')
      .use(global)
      .bulk({ docs: [...a3.files, ...a3.replicas] as never[] });
    const g = catalogAt(global);
    expect((await q.files(g, A)).some((f) => f.block === A3)).toBe(false);
    expect(await q.lfnToGuid(g, A3_FILES[0])).toBeNull();
    expect(await q.replicas(g, A3_FILES[0])).toEqual([]);
    expect((await q.ls(g, '/store/user/alice/a')).map((e) => e.name).sort()).toEqual(['1/', '2/']);
    const report = await migrate({ source: endpoint(env.dbs.catalog), target: endpoint(global) });
    expect(report).toMatchObject({ closed_blocks: 4, already_there: 3, blocks: 1, files: 2, failed_blocks: [] });
    expect((await q.files(g, A)).filter((f) => f.block === A3).map((f) => f.lfn)).toEqual(A3_FILES);
    expect(await q.lfnToGuid(g, A3_FILES[1])).toEqual({ lfn: A3_FILES[1], guid: guidOf(A3_FILES[1]), block: A3 });
  });

  it('refuses a target that is the local catalogue itself', async () => {
    const saved = { url: process.env.COUCHDB_URL, prefix: process.env.COUCHSTAGE_DB_PREFIX };
    process.env.COUCHDB_URL = env.urlAs('ops');
    process.env.COUCHSTAGE_DB_PREFIX = env.prefix;
    const out: string[] = [];
    try {
      expect(
        await cli(
          ['catalog', 'migrate', '--to', env.dbs.catalog],
          (l) => out.push(l),
          (l) => out.push(l),
        ),
      ).toBe(2);
    } finally {
      process.env.COUCHDB_URL = saved.url;
      process.env.COUCHSTAGE_DB_PREFIX = saved.prefix;
    }
    expect(out.join('\n')).toMatch(/local catalogue itself/);
  });
});
