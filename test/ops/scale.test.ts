/**
 * Scaling out: 3 schedulers, 3 workers and 2 retriers (separate processes) against one database
 * take 5,000 files to done exactly once: every file done with exactly one successful attempt and
 * in exactly one finished transfer job. Instant backend (no storage: this pins down coordination;
 * the data path is covered by test/lifecycle). The lead adds 2 publishers once they exist.
 */
import { configure, makeStorage, startAgent, waitFor, type AgentProcess, type Storage } from '../support/agents';
import { createTestEnv, type TestEnv } from '../support/env';
import { seedTransfers } from './support';
import type { TransferDoc } from '../../views/schema';

jest.setTimeout(900_000);

describe('scale: 3 schedulers + 3 workers + 2 retriers, 5,000 files', () => {
  let env: TestEnv;
  let storage: Storage;
  let agents: AgentProcess[] = [];
  beforeAll(async () => {
    env = await createTestEnv();
    storage = makeStorage(['T2_CH_CERN', 'T2_IT_Pisa']);
    await configure(env, storage, { max_files_per_transfer: 100, lease_seconds: 30 }, [{ source: 'T2_CH_CERN', destination: 'T2_IT_Pisa', max_active: 1000 }]);
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    if (process.env.COUCHSTAGE_TEST_DUMP) for (const [i, a] of agents.entries()) require('fs').writeFileSync(`/tmp/i6-scale-${a.name}-${i}.log`, a.output.join(''));
    await env?.cleanup();
    storage?.cleanup();
  });

  it('processes every file exactly once', async () => {
    const ids = await seedTransfers(env, 5000, () => ({ source: 'T2_CH_CERN', destination: 'T2_IT_Pisa' }));
    const worker = (i: number) => startAgent(env, 'worker', ['--backend', 'instant', '--instance', `worker-${i}`]);
    agents = [
      startAgent(env, 'scheduler', ['--instance', 'scheduler-0']), startAgent(env, 'scheduler', ['--instance', 'scheduler-1']), startAgent(env, 'scheduler', ['--instance', 'scheduler-2']),
      worker(0), worker(1), worker(2),
      startAgent(env, 'retrier', ['--instance', 'retrier-0']), startAgent(env, 'retrier', ['--instance', 'retrier-1']),
    ];
    const docs: TransferDoc[] = await waitFor(env, ids, { ms: 800_000 });
    expect(docs.filter((d) => d.state !== 'done').map((d) => `${d._id} ${d.state}`)).toEqual([]);
    const bad = docs.filter((d) => (d.attempts || []).filter((a) => !a.error).length !== 1);
    expect(bad.map((d) => d._id)).toEqual([]);
    // Every file is in exactly one finished transfer job.
    const jobs = await env.admin.use(env.dbs.transfers).find({ selector: { type: 'transfer_job' }, limit: 100_000 } as never);
    const perFile = new Map<string, number>();
    for (const j of jobs.docs as unknown as { state: string; files: { id: string }[] | string[] }[]) {
      if (j.state !== 'done') continue;
      for (const f of j.files) {
        const id = typeof f === 'string' ? f : f.id;
        perFile.set(id, (perFile.get(id) || 0) + 1);
      }
    }
    expect(ids.filter((id) => perFile.get(id) !== 1)).toEqual([]);
    expect(agents.every((a) => a.child.exitCode === null)).toBe(true);
  });
});
