/**
 * Scaling out: 3 schedulers, 3 workers, 2 retriers and 2 publishers (separate processes) against
 * one database take 5,000 files to done and published exactly once: every file done with exactly
 * one successful attempt and in exactly one finished transfer job; exactly one catalogue file and
 * one replica per transfer, in closed blocks whose counts match. Instant backend (no storage: this
 * pins down coordination; the data path is covered by test/system/lifecycle).
 */
import * as fs from 'fs';
import { configure, makeStorage, startAgent, waitFor, type AgentProcess, type Storage } from '../support/agents';
import { createTestEnv, type TestEnv } from '../support/env';
import { seedTransfers } from '../scripts/ops/support';
import type { TransferDoc } from '../../views/schema';
import { fileIdOf, replicaIdOf } from '../../views/lib/catalog-ids';
import { waitPublished } from '../agents/publisher/support';

const PER_BLOCK = 100;

jest.setTimeout(900_000);

describe('scale: 3 schedulers + 3 workers + 2 retriers + 2 publishers, 5,000 files', () => {
  let env: TestEnv;
  let storage: Storage;
  let agents: AgentProcess[] = [];
  beforeAll(async () => {
    env = await createTestEnv();
    storage = makeStorage(['T2_CH_CERN', 'T2_IT_Pisa']);
    await configure(
      env,
      storage,
      { max_files_per_transfer: 100, lease_seconds: 30, max_files_per_block: PER_BLOCK, block_closure_timeout: 3600 },
      [{ source: 'T2_CH_CERN', destination: 'T2_IT_Pisa', max_active: 1000 }],
    );
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    if (process.env.COUCHSTAGE_TEST_DUMP)
      for (const [i, a] of agents.entries()) fs.writeFileSync(`/tmp/i6-scale-${a.name}-${i}.log`, a.output.join(''));
    await env?.cleanup();
    storage?.cleanup();
  });

  it('processes every file exactly once', async () => {
    const ids = await seedTransfers(env, 5000, () => ({
      source: 'T2_CH_CERN',
      destination: 'T2_IT_Pisa',
      publish: true,
      dataset: `/Scale/${env.names.owner}-v1/USER`,
    }));
    const worker = (i: number) => startAgent(env, 'worker', ['--backend', 'instant', '--instance', `worker-${i}`]);
    agents = [
      startAgent(env, 'scheduler', ['--instance', 'scheduler-0']),
      startAgent(env, 'scheduler', ['--instance', 'scheduler-1']),
      startAgent(env, 'scheduler', ['--instance', 'scheduler-2']),
      worker(0),
      worker(1),
      worker(2),
      startAgent(env, 'retrier', ['--instance', 'retrier-0']),
      startAgent(env, 'retrier', ['--instance', 'retrier-1']),
      startAgent(env, 'publisher', ['--instance', 'publisher-0']),
      startAgent(env, 'publisher', ['--instance', 'publisher-1']),
    ];
    const docs: TransferDoc[] = await waitFor(env, ids, { ms: 800_000 });
    expect(docs.filter((d) => d.state !== 'done').map((d) => `${d._id} ${d.state}`)).toEqual([]);
    const bad = docs.filter((d) => (d.attempts || []).filter((a) => !a.error).length !== 1);
    expect(bad.map((d) => d._id)).toEqual([]);
    // Every file is in exactly one finished transfer job.
    const jobs = await env.admin
      .use(env.dbs.transfers)
      .find({ selector: { type: 'transfer_job' }, limit: 100_000 } as never);
    const perFile = new Map<string, number>();
    for (const j of jobs.docs as unknown as { state: string; files: { id: string }[] | string[] }[]) {
      if (j.state !== 'done') continue;
      for (const f of j.files) {
        const id = typeof f === 'string' ? f : f.id;
        perFile.set(id, (perFile.get(id) || 0) + 1);
      }
    }
    expect(ids.filter((id) => perFile.get(id) !== 1)).toEqual([]);
    // Published exactly once: one file and one replica per transfer, in closed blocks of at most
    // PER_BLOCK files whose counts match their files (the workflow has nothing pending: all close).
    const { transfers, catalog } = await waitPublished(env, ids, {
      ms: 600_000,
      until: (c) => c.blocks.length > 0 && c.blocks.every((b) => !b.open),
    });
    expect(catalog.files).toHaveLength(ids.length);
    expect(catalog.replicas).toHaveLength(ids.length);
    for (const t of transfers) {
      expect(catalog.docs.get(fileIdOf(t.destination_lfn))).toMatchObject({ block: t.block });
      expect(catalog.docs.get(replicaIdOf(t.destination_lfn, t.destination))).toMatchObject({ block: t.block });
    }
    const filesPerBlock = new Map<string, number>();
    for (const f of catalog.files) filesPerBlock.set(f.block, (filesPerBlock.get(f.block) || 0) + 1);
    expect(new Set(catalog.blocks.map((b) => b.name))).toEqual(new Set(filesPerBlock.keys()));
    for (const b of catalog.blocks) {
      expect(b.file_count).toBe(filesPerBlock.get(b.name));
      expect(b.file_count).toBeLessThanOrEqual(PER_BLOCK);
    }
    expect(catalog.docs.size).toBe(1 + catalog.blocks.length + 2 * ids.length); // one dataset
    expect(agents.every((a) => a.child.exitCode === null)).toBe(true);
  });
});
