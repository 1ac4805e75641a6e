/**
 * The worker: claims transfer jobs (kept in memory from `_all_docs` at start and the feed after,
 * claimed by a lease in the job document), runs them through a storage backend, and records each
 * file's result. Several instances see the same jobs; the lease decides who runs one, and a dead
 * instance's jobs are taken over when their lease expires.
 */
import type { TransferBackend } from '../backends/types';
import type { Agent, AgentContext } from '../lib/runner';
import { JOB_ID_PREFIX, type TransferJobDoc } from '../../views/schema';
import { fetchDocs } from '../platform/bulk';
import { Tracker } from '../lib/tracker';
import { runJob } from './effects';
import { claimJob } from './job';

export interface WorkerOptions {
  /**
   * Transfer jobs this process runs at once (`--jobs N`, default 1). One process with N jobs in
   * flight reads the feed once, where N processes read it N times: on the embedded server each
   * extra feed reader cost ~15% of the control plane's throughput (bench:lifecycle).
   */
  readonly jobs?: number;
}

export function workerAgent(backend: TransferBackend, opts: WorkerOptions = {}): Agent {
  const totals: Record<string, number> = { jobs: 0 };
  const tracker = new Tracker({ transfers: false, jobs: true });
  const slots = Math.max(1, Math.floor(opts.jobs || 1));
  /** Jobs in flight; each promise settles (never rejects) once its job is over. */
  const running = new Map<string, Promise<void>>();
  /** Errors of jobs that ended while the runner was elsewhere: thrown by the next tick (backoff). */
  const failures: Error[] = [];
  const start = (ctx: AgentContext, job: TransferJobDoc): void => {
    const done = runJob(ctx, job, backend)
      .then(
        (summary) => {
          totals.jobs++;
          for (const [k, v] of Object.entries(summary)) totals[k] = (totals[k] || 0) + v;
          ctx.log.info('transfer job finished', { job: job._id, files: job.files.length, ...summary });
        },
        (err: Error) => {
          // The job stays active under this instance's lease: it is taken over when the lease expires.
          failures.push(err);
        },
      )
      .finally(() => {
        tracker.jobs.delete(job._id);
        running.delete(job._id);
      });
    running.set(job._id, done);
  };
  return {
    name: 'worker',
    feed: 'transfers',
    // New jobs arrive as changes; the tick interval only matters for lease takeovers.
    tickMs: 5_000,
    load: (ctx) => tracker.load(ctx.db('transfers'), ctx.signal),
    // Only transfer jobs matter here, and their ids say so: read the feed without documents
    // and fetch just the jobs (saves reading every transfer update once per worker).
    feedDocs: false,
    onChanges: async (changes, ctx) => {
      const ids = changes.filter((c) => c.id.startsWith(JOB_ID_PREFIX) && !running.has(c.id)).map((c) => c.id);
      const gone = changes.filter((c) => c.deleted && c.id.startsWith(JOB_ID_PREFIX));
      for (const c of gone) tracker.jobs.delete(c.id);
      if (!ids.length) return;
      const docs = await fetchDocs<TransferJobDoc>(ctx.db('transfers'), ids);
      for (const d of docs.values()) tracker.apply(d);
    },
    /**
     * Fills the free slots with claimed jobs. With every slot busy, waits until one job ends and
     * says more may be waiting; with a slot left, no job was waiting: returns false at once, and
     * the runner waits on the feed (a new job, or the end of a running one, wakes it).
     */
    async tick(ctx: AgentContext): Promise<boolean> {
      if (failures.length) throw failures.shift();
      while (running.size < slots) {
        const job = await claimJob(ctx, tracker);
        if (!job) break;
        start(ctx, job);
      }
      if (running.size < slots) return false;
      await Promise.race(running.values());
      if (failures.length) throw failures.shift();
      return true;
    },
    async close() {
      await Promise.all(running.values());
    },
    status: () => ({ backend: backend.name, jobs_in_flight: running.size, slots, ...totals }),
  };
}
