/**
 * The worker: claims transfer jobs (Mango queue, lease in the job), runs them through a storage
 * backend, and records each file's result. Several instances share the queue; a dead instance's
 * jobs are taken over when their lease expires.
 */
import type { TransferBackend } from '../backends/types';
import type { Agent, AgentContext } from '../lib/runner';
import { JOB_ID_PREFIX, type TransferJobDoc } from '../../views/schema';
import { fetchDocs } from '../lib/bulk';
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
    // Only transfer jobs matter here, and their ids say so: read the feed without documents
    // and fetch just the jobs (saves reading every transfer update once per worker).
    feedDocs: false,
    onChanges: async (changes, ctx) => {
      const ids = changes.filter((c) => c.id.startsWith(JOB_ID_PREFIX)).map((c) => c.id);
      const gone = changes.filter((c) => c.deleted && c.id.startsWith(JOB_ID_PREFIX));
      for (const c of gone) tracker.jobs.delete(c.id);
      if (!ids.length) return;
      const docs = await fetchDocs<TransferJobDoc>(ctx.db('transfers'), ids);
      for (const d of docs.values()) tracker.apply(d as never);
    },
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
