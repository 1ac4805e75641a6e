/**
 * Scheduler leadership: one instance leads through a lease in `lock:scheduler`; a cleanly stopped
 * leader releases it, so its successor schedules at once instead of waiting out the lease.
 */
import { configure, makeStorage, startAgent, submitFiles, waitFor, type Storage } from '../../support/agents';
import { createTestEnv, type TestEnv } from '../../support/env';

describe('scheduler leadership', () => {
  let env: TestEnv;
  let storage: Storage;

  beforeAll(async () => {
    env = await createTestEnv();
    storage = makeStorage(['T2_A', 'T2_B']);
    // A long lease: without the release, the successor would wait five minutes.
    await configure(env, storage, { lease_seconds: 300 });
  });
  afterAll(async () => {
    await env?.cleanup();
    storage?.cleanup();
  });

  it('a stopped leader releases the lock and the next instance schedules at once', async () => {
    const first = startAgent(env, 'scheduler', ['--instance', 'sched-first']);
    const db = env.admin.use<{ lease: { owner: string } | null }>(env.dbs.transfers);
    const deadline = Date.now() + 30_000;
    let lock = null;
    while (Date.now() < deadline) {
      lock = await db.get('lock:scheduler').catch(() => null);
      if (lock?.lease?.owner === 'sched-first') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(lock?.lease?.owner).toBe('sched-first');
    expect(await first.stop('SIGTERM')).toBe(0);
    expect((await db.get('lock:scheduler')).lease).toBeNull();

    const second = startAgent(env, 'scheduler', ['--instance', 'sched-second']);
    try {
      const docs = await submitFiles(env, storage, 3);
      const acquired = await waitFor(
        env,
        docs.map((d) => d._id),
        { ms: 20_000, until: (ds) => ds.length === 3 && ds.every((d) => d.state === 'acquired') },
      );
      expect(acquired.every((d) => !!d.transfer_job)).toBe(true);
      expect((await db.get('lock:scheduler')).lease?.owner).toBe('sched-second');
    } finally {
      await second.stop();
    }
  });
});
