/**
 * Every catalogue query against known data (test/agents/publisher/fixture.ts) on the deployed views, as a
 * plain user (users read the catalogue), through the query module and through the CLI with
 * --json. A file whose block document is missing is never shown (queries join through blocks).
 */
import { createTestEnv, type TestEnv } from '../../support/env';
import * as q from '../../../scripts/client/catalog';
import { main as cli } from '../../../scripts/cli/main';
import { guidOf } from '../../../views/lib/catalog-ids';
import { formatSize } from '../../../scripts/cli/commands/format';
import {
  A,
  A1,
  A2,
  B,
  B1,
  F1,
  F2,
  F3,
  G1,
  GHOST,
  GHOST_BLOCK,
  R1,
  RAW,
  writeFixture,
} from '../../agents/publisher/fixture';

let env: TestEnv;
let c: q.Catalog;

beforeAll(async () => {
  env = await createTestEnv();
  await writeFixture(env);
  const user = env.as('owner');
  c = { catalog: user.use(env.dbs.catalog), config: user.use(env.dbs.config) };
});
afterAll(() => env?.cleanup());

async function runCli(args: string[]): Promise<{ code: number; json: unknown }> {
  const saved = { url: process.env.COUCHDB_URL, prefix: process.env.COUCHSTAGE_DB_PREFIX };
  process.env.COUCHDB_URL = env.urlAs('owner');
  process.env.COUCHSTAGE_DB_PREFIX = env.prefix;
  const out: string[] = [];
  try {
    const code = await cli(
      ['catalog', ...args, '--json'],
      (l) => out.push(l),
      (l) => out.push(l),
    );
    return { code, json: code === 2 ? out.join('\n') : JSON.parse(out.join('\n')) };
  } finally {
    process.env.COUCHDB_URL = saved.url;
    process.env.COUCHSTAGE_DB_PREFIX = saved.prefix;
  }
}

/** The CLI's text output (no --json). */
async function runText(args: string[]): Promise<{ code: number; out: string }> {
  const saved = { url: process.env.COUCHDB_URL, prefix: process.env.COUCHSTAGE_DB_PREFIX };
  process.env.COUCHDB_URL = env.urlAs('owner');
  process.env.COUCHSTAGE_DB_PREFIX = env.prefix;
  const out: string[] = [];
  try {
    const code = await cli(
      ['catalog', ...args],
      (l) => out.push(l),
      (l) => out.push(l),
    );
    return { code, out: out.join('\n') };
  } finally {
    process.env.COUCHDB_URL = saved.url;
    process.env.COUCHSTAGE_DB_PREFIX = saved.prefix;
  }
}

const sorted = <T>(xs: T[]) => [...xs].sort();

describe('catalogue queries on known data', () => {
  it('lists datasets by glob', async () => {
    expect(sorted((await q.datasets(c)).map((d) => d.name))).toEqual(sorted([RAW, A, B]));
    expect(sorted((await q.datasets(c, '/Prim/*')).map((d) => d.name))).toEqual(sorted([RAW, A]));
    expect((await q.datasets(c, '/*/*/AOD')).map((d) => d.name)).toEqual([B]);
    expect((await q.datasets(c, '/Prim/alice-?-v1/USER')).map((d) => d.name)).toEqual([A]);
    expect(await q.datasets(c, '/Nothing*')).toEqual([]);
  });

  it('lists the blocks and files of a dataset, and the files of a block; the ghost block is not there', async () => {
    expect(sorted((await q.blocks(c, A)).map((b) => b.name))).toEqual(sorted([A1, A2]));
    expect((await q.files(c, A)).map((f) => f.lfn).sort()).toEqual([F1, F2, F3].sort());
    expect((await q.files(c, A, A1)).map((f) => [f.lfn, f.size])).toEqual([
      [F1, 100],
      [F2, 200],
    ]);
    expect(await q.files(c, A, GHOST_BLOCK)).toEqual([]);
  });

  it('maps LFN -> GUID and GUID -> LFN', async () => {
    expect(await q.lfnToGuid(c, F2)).toEqual({ lfn: F2, guid: guidOf(F2), block: A1 });
    expect(await q.guidToLfn(c, guidOf(F3))).toEqual({ lfn: F3, guid: guidOf(F3), block: A2 });
    expect(await q.lfnToGuid(c, GHOST)).toBeNull();
    expect(await q.guidToLfn(c, guidOf(GHOST))).toBeNull();
    expect(await q.lfnToGuid(c, '/store/none.root')).toBeNull();
  });

  it('lists the replicas of a file with PFNs per protocol from the TFC rules', async () => {
    const reps = await q.replicas(c, F1);
    expect(reps.sort((a, b) => (a.site < b.site ? -1 : 1))).toEqual([
      {
        site: 'T2_CH_CERN',
        size: 100,
        pfns: {
          root: 'root://cern.example:1094//eos/cms/store/user/alice/a/1/f1.root',
          file: 'file:///data/cern/store/user/alice/a/1/f1.root',
        },
      },
      { site: 'T2_IT_Pisa', size: 100, pfns: { root: 'root://pisa.example:1094//store/user/alice/a/1/f1.root' } },
    ]);
    expect(await q.replicas(c, GHOST)).toEqual([]);
  });

  it('gives block locations: complete where a site holds every file', async () => {
    const locs = await q.blockLocations(c, A1);
    expect(locs.sort((a, b) => (a.site < b.site ? -1 : 1))).toEqual([
      { site: 'T2_CH_CERN', files: 2, bytes: 300, complete: true },
      { site: 'T2_IT_Pisa', files: 1, bytes: 100, complete: false },
    ]);
    expect(await q.blockLocations(c, GHOST_BLOCK)).toEqual([]);
  });

  it('gives parents and children of files and datasets', async () => {
    expect(await q.parentage(c, F1)).toEqual({ kind: 'file', name: F1, parents: [R1], children: [F3] });
    // R1 is not catalogued itself; its visible child is F1 (the ghost's parentage is not shown).
    expect(await q.parentage(c, R1)).toEqual({ kind: 'file', name: R1, parents: [], children: [F1] });
    expect(await q.parentage(c, A)).toEqual({ kind: 'dataset', name: A, parents: [RAW], children: [] });
    expect(await q.parentage(c, RAW)).toEqual({ kind: 'dataset', name: RAW, parents: [], children: [A] });
    expect(await q.parentage(c, GHOST)).toBeNull();
  });

  it('lists the datasets at a site', async () => {
    expect(await q.datasetsAtSite(c, 'T2_CH_CERN')).toEqual([
      { dataset: A, files: 2, bytes: 300, blocks: 1, complete_blocks: 1 },
    ]);
    expect(await q.datasetsAtSite(c, 'T2_IT_Pisa')).toEqual([
      { dataset: A, files: 2, bytes: 400, blocks: 2, complete_blocks: 1 },
    ]);
    expect(await q.datasetsAtSite(c, 'T1_US_FNAL')).toEqual([
      { dataset: B, files: 1, bytes: 50, blocks: 1, complete_blocks: 1 },
    ]);
  });

  it('lists an LFN directory AliEn-style, with sizes', async () => {
    const byName = (xs: q.LsEntry[]) => xs.sort((a, b) => (a.name < b.name ? -1 : 1));
    expect(byName(await q.ls(c, '/store/user/alice/a'))).toEqual([
      { name: '1/', directory: true, files: 2, bytes: 300 },
      { name: '2/', directory: true, files: 1, bytes: 300 },
    ]);
    expect(byName(await q.ls(c, '/store/user/alice/a/1/'))).toEqual([
      { name: 'f1.root', directory: false, files: 1, bytes: 100 },
      { name: 'f2.root', directory: false, files: 1, bytes: 200 },
    ]);
    expect(byName(await q.ls(c, '/store/user'))).toEqual([
      { name: 'alice/', directory: true, files: 3, bytes: 600 },
      { name: 'bob/', directory: true, files: 1, bytes: 50 },
    ]);
    expect(await q.ls(c, '/store/none')).toEqual([]);
  });

  it('gives usage per user from replicas beside the quota', async () => {
    expect(await q.usage(c, 'alice')).toEqual([
      {
        user: 'alice',
        files: 4,
        bytes: 700,
        quota: { max_files: 10, max_bytes: 10000 },
        by_site: { T2_CH_CERN: { files: 2, bytes: 300 }, T2_IT_Pisa: { files: 2, bytes: 400 } },
      },
    ]);
    expect((await q.usage(c)).map((u) => [u.user, u.files, u.bytes, u.quota])).toEqual([
      ['alice', 4, 700, { max_files: 10, max_bytes: 10000 }],
      ['bob', 1, 50, null],
    ]);
    expect(await q.usage(c, 'carol')).toEqual([{ user: 'carol', files: 0, bytes: 0, by_site: {}, quota: null }]);
  });

  it('answers the same through the CLI with --json, and explains bad usage', async () => {
    expect(await runCli(['files', A, '--block', A1])).toEqual({
      code: 0,
      json: [
        { lfn: F1, block: A1, size: 100 },
        { lfn: F2, block: A1, size: 200 },
      ],
    });
    expect(await runCli(['guid', F1])).toEqual({ code: 0, json: { lfn: F1, guid: guidOf(F1), block: A1 } });
    expect(await runCli(['lfn', guidOf(G1)])).toEqual({ code: 0, json: { lfn: G1, guid: guidOf(G1), block: B1 } });
    expect(await runCli(['guid', GHOST])).toEqual({ code: 1, json: null });
    expect((await runCli(['usage', '--user', 'alice'])).json).toEqual(await q.usage(c, 'alice'));
    expect((await runCli(['ls', '/store/user/alice/a'])).json).toEqual(await q.ls(c, '/store/user/alice/a'));
    expect((await runCli(['children', RAW])).json).toEqual({ kind: 'dataset', name: RAW, children: [A] });
    const bad = await runCli(['blocks']);
    expect(bad.code).toBe(2);
    expect(bad.json).toMatch(/needs a dataset name/);
  });

  it('tells a dataset, block, site or file that does not exist (exit 1, null) from one with no results (exit 0, [])', async () => {
    expect(await runCli(['blocks', RAW])).toEqual({ code: 0, json: [] });
    expect(await runCli(['files', RAW])).toEqual({ code: 0, json: [] });
    expect(await runCli(['blocks', '/No/such-v1/USER'])).toEqual({ code: 1, json: null });
    expect(await runCli(['files', '/No/such-v1/USER'])).toEqual({ code: 1, json: null });
    expect(await runCli(['files', A, '--block', GHOST_BLOCK])).toEqual({ code: 1, json: null });
    expect(await runCli(['files', A, '--block', B1])).toEqual({ code: 1, json: null });
    expect(await runCli(['locations', GHOST_BLOCK])).toEqual({ code: 1, json: null });
    expect(await runCli(['site', 'T2_XX_Nowhere'])).toEqual({ code: 1, json: null });
    expect(await runCli(['replicas', '/store/user/alice/none.root'])).toEqual({ code: 1, json: null });
    expect(await runText(['blocks', '/No/such-v1/USER'])).toEqual({
      code: 1,
      out: 'dataset /No/such-v1/USER: not in the catalogue',
    });
    expect(await runText(['files', A, '--block', B1])).toEqual({
      code: 1,
      out: `block ${B1}: not a block of ${A} (it is of ${B})`,
    });
    expect(await runText(['locations', GHOST_BLOCK])).toEqual({
      code: 1,
      out: `block ${GHOST_BLOCK}: not in the catalogue`,
    });
    expect(await runText(['site', 'T2_XX_Nowhere'])).toEqual({
      code: 1,
      out: 'site T2_XX_Nowhere: not configured (no site:T2_XX_Nowhere in the config database)',
    });
  });

  it("prints text answers in aligned columns, sizes in the CLI's one style", async () => {
    const loc = await runText(['locations', A1]);
    expect(loc.code).toBe(0);
    const lines = loc.out.split('\n');
    expect(lines[0]).toMatch(/^site +files +size +copy$/);
    expect(lines.slice(1).sort()).toEqual([
      `T2_CH_CERN      2  ${formatSize(300)}  complete`,
      `T2_IT_Pisa      1  ${formatSize(100)}  partial`,
    ]);
    const files = await runText(['files', A, '--block', A1]);
    expect(files.out.split('\n').slice(1)).toEqual([
      `${F1}  ${formatSize(100)}  ${A1}`,
      `${F2}  ${formatSize(200)}  ${A1}`,
    ]);
  });
});
