/**
 * The worker: claims transfer jobs (Mango queue, lease in the job), runs them through a storage
 * backend, and records each file's result. Several instances share the queue; a dead instance's
 * jobs are taken over when their lease expires.
 */
import type { TransferBackend } from '../backends/types';
import type { Agent, AgentContext } from '../lib/runner';
import { Tracker } from '../lib/tracker';
import { claimJob, runJob } from './effects';

export function workerAgent(backend: TransferBackend): Agent {
  const totals: Record<string, number> = { jobs: 0 };
  const tracker = new Tracker({ transfers: false, jobs: true });
  return {
    name: 'worker',
    feed: 'transfers',
    // New jobs arrive as changes; the tick interval only matters for lease takeovers.
    tickMs: 5_000,
    load: (ctx) => tracker.load(ctx.db('transfers'), ctx.signal),
    onChanges: async (changes) => tracker.applyChanges(changes),
    async tick(ctx: AgentContext): Promise<boolean> {
      const job = await claimJob(ctx, tracker);
      if (!job) return false;
      const summary = await runJob(ctx, job, backend);
      tracker.jobs.delete(job._id);
      totals.jobs++;
      for (const [k, v] of Object.entries(summary)) totals[k] = (totals[k] || 0) + v;
      ctx.log.info('transfer job finished', { job: job._id, files: job.files.length, ...summary });
      return true;
    },
    status: () => ({ backend: backend.name, ...totals }),
  };
}
