/**
 * The publisher on real processes, a real server and real files (native backend): done files
 * with publish=true land in closed blocks of max_files_per_block; the tail block closes when the
 * workflow has nothing pending, or on block_closure_timeout when it still has; failed and killed
 * files are never published; a replay of the whole feed from 0 changes nothing in the catalogue.
 */
import * as fs from 'fs';
import {
  configure,
  makeStorage,
  readTransfers,
  startAgent,
  submitFiles,
  waitFor,
  type AgentProcess,
  type Storage,
} from '../../support/agents';
import { createTestEnv, type TestEnv } from '../../support/env';
import { fileIdOf, guidOf, replicaIdOf } from '../../../views/lib/catalog-ids';
import { uuidFromHex } from '../../../views/schema';
import { snapshot, waitPublished } from './support';

/** The owner's dataset (its processed name starts with the owner's name); set once the users exist. */
let DATASET = '';

describe('publisher', () => {
  let env: TestEnv;
  let storage: Storage;
  let agents: AgentProcess[] = [];

  beforeAll(async () => {
    env = await createTestEnv();
    DATASET = `/GenericTTbar/${env.names.owner}-pub-v1/USER`;
    storage = makeStorage(['T2_CH_CERN', 'T2_IT_Pisa', 'T1_US_FNAL']);
    await configure(
      env,
      storage,
      { max_files_per_transfer: 10, max_retry: 2, max_files_per_block: 10, block_closure_timeout: 4 },
      [
        { source: 'T2_CH_CERN', destination: 'T1_US_FNAL', max_active: 0 }, // a link held shut: its files stay pending
      ],
    );
    agents = [
      startAgent(env, 'scheduler'),
      startAgent(env, 'worker', ['--backend', 'native']),
      startAgent(env, 'retrier'),
      startAgent(env, 'publisher', ['--instance', 'publisher-1']),
    ];
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    if (process.env.COUCHSTAGE_TEST_DUMP)
      for (const a of agents) fs.writeFileSync(`/tmp/pub-agent-${a.name}.log`, a.output.join(''));
    await env?.cleanup();
    storage?.cleanup();
  });

  it('publishes 25 files into closed blocks of 10, 10 and 5 with files, replicas and the dataset', async () => {
    const parents = ['/store/data/Run2026A/RAW/000/a.root'];
    const docs = await submitFiles(env, storage, 25, {
      workflow: 'wf_blocks',
      over: () => ({ publish: true, dataset: DATASET, inputdataset: '/Run2026A/Raw-v1/RAW', parents }),
    });
    const ids = docs.map((d) => d._id);
    const { transfers, catalog } = await waitPublished(env, ids, {
      until: (s) => s.blocks.filter((b) => b.dataset === DATASET).length === 3 && s.blocks.every((b) => !b.open),
    });
    const blocks = catalog.blocks.filter((b) => b.dataset === DATASET);
    expect(blocks.map((b) => b.file_count).sort()).toEqual([10, 10, 5]);
    expect(blocks.every((b) => b.open === false && b.owner === env.names.owner && b.origin_site === 'T2_IT_Pisa')).toBe(
      true,
    );
    expect(blocks.find((b) => b.file_count === 5)!.closed_by).toBe('workflow');
    for (const t of transfers) {
      const f = catalog.docs.get(fileIdOf(t.destination_lfn)) as never as Record<string, unknown>;
      expect(f).toMatchObject({
        lfn: t.destination_lfn,
        guid: guidOf(t.destination_lfn),
        size: t.size,
        adler32: t.checksums.adler32,
        block: t.block,
        dataset: DATASET,
        valid: true,
        parents,
      });
      expect(catalog.docs.get(replicaIdOf(t.destination_lfn, t.destination))).toMatchObject({
        site: 'T2_IT_Pisa',
        block: t.block,
      });
      expect(t.publication_attempts).toBe(1);
    }
    for (const b of blocks) {
      const members = catalog.files.filter((f) => f.block === b.name);
      expect(members).toHaveLength(b.file_count);
      expect(b.total_size).toBe(members.reduce((a, f) => a + f.size, 0));
    }
    expect(catalog.docs.get('dataset:' + DATASET)).toMatchObject({
      name: DATASET,
      data_tier: 'USER',
      access_type: 'VALID',
      owner: env.names.owner,
      parents: ['/Run2026A/Raw-v1/RAW'],
    });
  });

  it('closes the tail block on block_closure_timeout while its workflow still has a pending file', async () => {
    const ds = `/GenericTTbar/${env.names.owner}-tail-v1/USER`;
    // Same workflow, on the held link: stays `new`, so only the timeout can close the block.
    // (Submitted first: submitFiles writes source files by index, the done ones must win.)
    const held = await submitFiles(env, storage, 1, {
      workflow: 'wf_tail',
      source: 'T2_CH_CERN',
      destination: 'T1_US_FNAL',
      over: (i) => ({
        publish: true,
        dataset: ds,
        source_lfn: `/store/temp/user/${env.names.owner}/wf_tail/held_${i}.root`,
        destination_lfn: `/store/user/${env.names.owner}/wf_tail/held_${i}.root`,
      }),
    });
    const done = await submitFiles(env, storage, 3, {
      workflow: 'wf_tail',
      over: () => ({ publish: true, dataset: ds }),
    });
    const { catalog } = await waitPublished(
      env,
      done.map((d) => d._id),
      { until: (s) => s.blocks.some((b) => b.dataset === ds && !b.open) },
    );
    const blocks = catalog.blocks.filter((b) => b.dataset === ds);
    expect(blocks).toHaveLength(1);
    expect(blocks[0]).toMatchObject({ open: false, closed_by: 'timeout', file_count: 3 });
    expect(Date.parse(blocks[0].closed_at!) - Date.parse(blocks[0].created_at)).toBeGreaterThanOrEqual(4000);
    const [h] = await readTransfers(env, [held[0]._id]);
    expect(h.state).toBe('new');
  });

  it('never publishes a failed or a killed file', async () => {
    const ds = `/GenericTTbar/${env.names.owner}-bad-v1/USER`;
    const bad = await submitFiles(env, storage, 2, {
      workflow: 'wf_bad',
      over: () => ({ publish: true, dataset: ds, checksums: { adler32: '00000001' } }),
    });
    const killed = await submitFiles(env, storage, 1, {
      workflow: 'wf_bad',
      source: 'T2_CH_CERN',
      destination: 'T1_US_FNAL',
      over: (i) => ({
        publish: true,
        dataset: ds,
        source_lfn: `/store/temp/user/${env.names.owner}/wf_bad/k_${i}.root`,
        destination_lfn: `/store/user/${env.names.owner}/wf_bad/k_${i}.root`,
      }),
    });
    const owner = env.as('owner').use(env.dbs.transfers);
    const k = await owner.get(killed[0]._id);
    await owner.insert({ ...k, kill_requested: true } as never);
    const ended = await waitFor(
      env,
      [...bad, ...killed].map((d) => d._id),
    );
    expect(ended.map((d) => d.state).sort()).toEqual(['failed', 'failed', 'killed']);
    // Give the publisher several passes to (wrongly) act on them.
    await new Promise((r) => setTimeout(r, 3000));
    const again = await readTransfers(
      env,
      ended.map((d) => d._id),
    );
    expect(again.every((d) => d.publication_state === undefined && !d.block)).toBe(true);
    const s = await snapshot(env);
    expect(s.files.filter((f) => f.dataset === ds)).toEqual([]);
    expect(s.docs.has('dataset:' + ds)).toBe(false);
  });

  it('counts failed publication passes in the transfer and gives up after publication_max_retry', async () => {
    const ds = `/GenericTTbar/${env.names.owner}-clash-v1/USER`;
    const lfn = `/store/user/${env.names.owner}/wf_clash/out_0.root`;
    // Someone else's file is already catalogued under the same LFN, with other content.
    const other = ds + '#' + uuidFromHex('cc'.repeat(16));
    await env
      .as('ops')
      .use(env.dbs.catalog)
      .insert({
        _id: fileIdOf(lfn),
        type: 'file',
        lfn,
        guid: guidOf(lfn),
        size: 1,
        adler32: '00000001',
        valid: true,
        block: other,
        dataset: ds,
        owner: 'someone',
        created_at: '2026-11-26T06:00:00Z',
      } as never);
    const [d] = await submitFiles(env, storage, 1, {
      workflow: 'wf_clash',
      over: () => ({ publish: true, dataset: ds }),
    });
    const [t] = await waitFor(env, [d._id], {
      ms: 90_000,
      until: (ts) => ts[0]?.publication_state === 'publication_failed',
    });
    expect(t.state).toBe('done');
    expect(t.publication_attempts).toBe(3); // DEFAULT_SETTINGS.publication_max_retry
    expect(t.block).toBeNull();
    expect(t.failure_reason).toMatch(/already in the catalogue with other content/);
    const s = await snapshot(env);
    expect(s.docs.get(fileIdOf(lfn))).toMatchObject({ owner: 'someone', block: other });
    expect(s.replicas.filter((r) => r.lfn === lfn)).toEqual([]);
    expect(s.blocks.filter((b) => b.dataset === ds)).toEqual([]);
  });

  it('a replay of the whole feed from 0 changes nothing in the catalogue', async () => {
    const pub = agents.find((a) => a.name === 'publisher')!;
    expect(await pub.stop()).toBe(0);
    const before = await snapshot(env);
    const tdb = env.admin.use(env.dbs.transfers);
    const sdb = env.admin.use(env.dbs.service);
    const cp = await sdb.get('_local/publisher');
    await sdb.destroy('_local/publisher', cp._rev);
    const transfersBefore = await tdb.list({ include_docs: false });
    const once = startAgent(env, 'publisher', ['--once', '--instance', 'publisher-1']);
    expect(await once.exited).toBe(0);
    const after = await snapshot(env);
    expect([...after.docs.entries()].map(([id, d]) => [id, d._rev]).sort()).toEqual(
      [...before.docs.entries()].map(([id, d]) => [id, d._rev]).sort(),
    );
    const transfersAfter = await tdb.list({ include_docs: false });
    expect(
      transfersAfter.rows
        .filter((r) => r.id.startsWith('heartbeat') === false && r.id.startsWith('lock') === false)
        .map((r) => [r.id, r.value.rev]),
    ).toEqual(
      transfersBefore.rows
        .filter((r) => r.id.startsWith('heartbeat') === false && r.id.startsWith('lock') === false)
        .map((r) => [r.id, r.value.rev]),
    );
    // The checkpoint is back at the end of the feed.
    expect(await sdb.get('_local/publisher')).toBeTruthy();
    agents = agents.filter((a) => a !== pub);
  });
});
