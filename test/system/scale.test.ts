/**
 * Scaling out: 3 schedulers, 3 workers, 2 retriers and 2 publishers (separate processes) against
 * one database take 5,000 files to done and published exactly once: every file done with exactly
 * one successful attempt and in exactly one finished transfer job; exactly one catalogue file and
 * one replica per transfer, in closed blocks whose counts match. Instant backend (no storage: this
 * pins down coordination; the data path is covered by test/system/lifecycle).
 */
import * as fs from 'fs';
import { configure, makeStorage, startAgent, type AgentProcess, type Storage } from '../support/agents';
import { createTestEnv, type TestEnv } from '../support/env';
import { seedTransfers } from '../scripts/ops/support';
import { expectScaleInvariants } from '../support/scale-invariants';

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
    await expectScaleInvariants(env, ids, { perBlock: PER_BLOCK, doneMs: 800_000, publishedMs: 600_000 });
    expect(agents.every((a) => a.child.exitCode === null)).toBe(true);
  });
});
