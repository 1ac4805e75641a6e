/**
 * One worker process running several transfer jobs at once (`couchstage agent worker --jobs N`),
 * on real processes, a real server and real files (native backend): jobs overlap in time, every
 * file is copied and verified once, and the process stops cleanly with jobs in flight.
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
import type { TransferJobDoc } from '../../../views/schema';

describe('a worker with several jobs in flight', () => {
  let env: TestEnv;
  let storage: Storage;
  let agents: AgentProcess[] = [];

  beforeAll(async () => {
    env = await createTestEnv();
    storage = makeStorage(['T2_CH_CERN', 'T1_US_FNAL']);
    await configure(env, storage, { max_files_per_transfer: 4 });
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await env?.cleanup();
    storage?.cleanup();
  });

  it('runs jobs concurrently in one process and copies every file once', async () => {
    // Files first, agents after: the scheduler makes all the jobs in one pass, so the worker
    // finds more queued jobs than slots at once.
    const docs = await submitFiles(env, storage, 24, { size: 6 * 1024 * 1024 });
    agents = [
      startAgent(env, 'scheduler'),
      startAgent(env, 'retrier'),
      startAgent(env, 'worker', ['--backend', 'native', '--jobs', '3', '--instance', 'slots-1']),
    ];
    const done = await waitFor(
      env,
      docs.map((d) => d._id),
      { ms: 120_000 },
    );
    expect(done.map((d) => d.state)).toEqual(done.map(() => 'done'));
    for (const d of done) {
      expect(adler32Hex(fs.readFileSync(destinationPath(storage, d.destination, d.destination_lfn)))).toBe(
        d.checksums.adler32,
      );
      expect(d.attempts).toHaveLength(1);
    }
    // Every file's copy interval; intervals of files of different jobs overlap when jobs ran at once.
    const byJob = new Map<string, { start: number; end: number }>();
    for (const d of done) {
      const j = byJob.get(d.transfer_job!) || { start: Infinity, end: -Infinity };
      j.start = Math.min(j.start, Date.parse(d.started_at!));
      j.end = Math.max(j.end, Date.parse(d.finished_at!));
      byJob.set(d.transfer_job!, j);
    }
    const jobs = [...byJob.values()];
    // The most jobs copying at one instant: at some job's start, the jobs that started by then and
    // had not ended. (Counting every job that overlaps one job's interval counts jobs that ran one
    // after the other beside a long one: 5 were seen with 3 slots.)
    let maxOverlap = 0;
    for (const j of jobs)
      maxOverlap = Math.max(maxOverlap, jobs.filter((k) => k.start <= j.start && j.start < k.end).length);
    expect(jobs.length).toBe(6);
    expect(maxOverlap).toBeGreaterThanOrEqual(2);
    expect(maxOverlap).toBeLessThanOrEqual(3);
    // All jobs ran in this one process, and each finished once.
    const jobDocs = await env.admin.use(env.dbs.transfers).fetch({ keys: [...byJob.keys()] });
    for (const r of jobDocs.rows) {
      const j = (r as unknown as { doc: TransferJobDoc }).doc;
      expect(j.state).toBe('done');
      expect(j.claims).toBe(1);
    }
    const beat = (await env.admin.use(env.dbs.transfers).get('heartbeat:worker:slots-1')) as unknown as {
      slots: number;
      jobs: number;
    };
    expect(beat.slots).toBe(3);
  });
});
