/**
 * Chaos: SIGKILL schedulers and workers at random moments during a 2,000-file run, with two of
 * each running at once, and restart them. Afterwards every file is terminal, every one is done
 * exactly once (one successful attempt) with a verified copy, no file is left acquired or
 * submitted, and every transfer job is done.
 */
import * as fs from 'fs';
import { adler32Hex } from '../../support/adler32';
import {
  configure,
  destinationPath,
  makeStorage,
  startAgent,
  submitFiles,
  waitFor,
  type AgentProcess,
  type Storage,
} from '../../support/agents';
import { createTestEnv, type TestEnv } from '../../support/env';

const FILES = 2000;

describe('chaos: agents killed at random points', () => {
  let env: TestEnv;
  let storage: Storage;
  const running = new Map<string, AgentProcess>();
  let kills = 0;

  const start = (slot: string) => {
    const [name] = slot.split('#');
    running.set(
      slot,
      startAgent(
        env,
        name,
        name === 'worker'
          ? ['--backend', 'native', '--instance', slot + '-' + Date.now()]
          : ['--instance', slot + '-' + Date.now()],
      ),
    );
  };

  beforeAll(async () => {
    env = await createTestEnv();
    storage = makeStorage(['T2_CH_CERN', 'T2_IT_Pisa', 'T1_US_FNAL']);
    // Short leases so that a killed worker's job is taken over within seconds; retries are
    // generous because every kill during a copy costs the files of that job an attempt.
    await configure(env, storage, {
      lease_seconds: 3,
      max_files_per_transfer: 50,
      max_retry: 20,
      cooloff: 1,
      max_cooloff: 1,
    });
  });
  afterAll(async () => {
    await Promise.all([...running.values()].map((a) => a.stop('SIGKILL')));
    await env?.cleanup();
    storage?.cleanup();
  });

  it('every file ends done exactly once with a verified copy', async () => {
    for (const slot of ['scheduler#1', 'scheduler#2', 'worker#1', 'worker#2', 'retrier#1']) start(slot);
    const docs = [
      ...(await submitFiles(env, storage, FILES / 2, {
        user: 'owner',
        source: 'T2_CH_CERN',
        destination: 'T2_IT_Pisa',
        size: 512,
      })),
      ...(await submitFiles(env, storage, FILES / 2, {
        user: 'other',
        source: 'T2_IT_Pisa',
        destination: 'T1_US_FNAL',
        size: 512,
      })),
    ];
    const ids = docs.map((d) => d._id);
    // Kill a random scheduler or worker every 0.5-2 s while the run is in progress.
    let chaos = true;
    const chaosLoop = (async () => {
      let rounds = 0;
      while (chaos && rounds++ < 40) {
        await new Promise((r) => setTimeout(r, 500 + Math.random() * 1500));
        const slots = ['scheduler#1', 'scheduler#2', 'worker#1', 'worker#2'];
        const slot = slots[Math.floor(Math.random() * slots.length)];
        await running.get(slot)!.stop('SIGKILL');
        kills++;
        await new Promise((r) => setTimeout(r, 200 + Math.random() * 500));
        if (chaos) start(slot);
      }
    })();
    let ended;
    try {
      ended = await waitFor(env, ids, { ms: 240_000 });
    } finally {
      chaos = false;
      await chaosLoop;
    }
    expect(kills).toBeGreaterThan(3);
    const states: Record<string, number> = {};
    for (const d of ended) states[d.state] = (states[d.state] || 0) + 1;
    expect(states).toEqual({ done: FILES });
    for (const d of ended) {
      expect((d.attempts || []).filter((a) => a.error === null)).toHaveLength(1);
      expect(adler32Hex(fs.readFileSync(destinationPath(storage, d.destination, d.destination_lfn)))).toBe(
        d.checksums.adler32,
      );
    }
    // Nothing left in flight: all jobs finish once their files are settled.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const jobs = await env.admin
        .use(env.dbs.transfers)
        .find({ selector: { type: 'transfer_job', state: { $ne: 'done' } }, limit: 10000 } as never);
      if (!jobs.docs.length) break;
      if (Date.now() > deadline) throw new Error(`${jobs.docs.length} transfer jobs never finished`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }, 400_000);
});
