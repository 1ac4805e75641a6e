/**
 * Scaling out: 3 schedulers, 3 workers, 2 retriers and 2 publishers (separate processes) against
 * one database take 5,000 files to done and published exactly once: every file done with exactly
 * one successful attempt and in exactly one finished transfer job; exactly one catalogue file and
 * one replica per transfer, in closed blocks whose counts match. Instant backend (no storage: this
 * pins down coordination; the data path is covered by test/system/lifecycle).
 */
import { type AgentProcess, type Storage } from '../support/agents';
import { configureScale, startScaleAgents, stopScaleAgents } from '../support/scale-setup';
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
    storage = await configureScale(env, PER_BLOCK);
  });
  afterAll(async () => {
    await stopScaleAgents(agents, 'scale');
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
    agents = startScaleAgents(env);
    await expectScaleInvariants(env, ids, { perBlock: PER_BLOCK, doneMs: 800_000, publishedMs: 600_000 });
    expect(agents.every((a) => a.child.exitCode === null)).toBe(true);
  });
});
