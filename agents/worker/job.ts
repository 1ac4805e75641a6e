/**
 * The worker's writes to a transfer job document itself: the claim (queued, or active with an
 * expired lease -> active with this instance's lease), the lease renewals while the copy runs,
 * and the job -> done at the end. Separate from the files' steps (agents/worker/effects.ts): the
 * revision checks here are what make a job one worker's at a time.
 */
import { TransferJobMachine, TransferJobState, type TransferJobDoc } from '../../views/schema';
import { fetchDocs } from '../platform/bulk';
import { ConflictsExhausted, update } from '../platform/docs';
import { leaseHeld, leaseHeldByOther, newLease } from '../lib/lease';
import type { Tracker } from '../lib/tracker';
import type { AgentContext } from '../lib/runner';

/**
 * Jobs tried per claim, oldest first. Each try reads one job document (up to ~30 KB with its
 * PFNs), so a worker does not read a page of jobs every time it looks; two workers racing for the
 * oldest job cost the loser one 409 and it takes the next. (Starting instances at different
 * offsets instead starved the oldest jobs: a worker that always won its first pick never looked
 * at the ones before it.)
 */
const TRIES = 5;

/**
 * Claims one job, oldest first: queued ones, else active ones whose worker stopped renewing its
 * lease (a takeover). The revision check makes the claim exclusive.
 */
export async function claimJob(ctx: AgentContext, tracker: Tracker): Promise<TransferJobDoc | null> {
  const now = ctx.now();
  const open = [...tracker.jobs.values()].sort((a, b) =>
    a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id < b.id ? -1 : 1,
  );
  const queued = open.filter((j) => j.state === TransferJobState.queued);
  const stale = open.filter((j) => j.state === TransferJobState.active && !leaseHeld(j.lease, now));
  const candidates = queued.length ? queued : stale;
  if (!candidates.length) return null;
  for (let i = 0; i < Math.min(TRIES, candidates.length); i++) {
    const id = candidates[i].id;
    const job = (await fetchDocs<TransferJobDoc>(ctx.db('transfers'), [id])).get(id);
    if (!job || TransferJobMachine.isTerminal(job.state) || leaseHeldByOther(job.lease, ctx.instance, now)) {
      if (job) tracker.apply(job);
      else tracker.jobs.delete(id);
      continue;
    }
    const claimed = TransferJobMachine.transition(job, TransferJobState.active, now, {
      lease: newLease(ctx.instance, now, ctx.config.settings.lease_seconds),
      claims: (job.claims || 0) + 1,
    });
    // A 409: another worker claimed it first; try the next one.
    const mine = await update<TransferJobDoc>(ctx.db('transfers'), id, () => claimed, {
      from: job,
      onConflict: 'stop',
    });
    if (mine) {
      tracker.apply(mine);
      return mine;
    }
  }
  return null;
}

/** Renews the job's lease every third of its length; reports a lost lease. */
export function keepLease(ctx: AgentContext, job: { doc: TransferJobDoc }, lost: AbortController): () => void {
  const seconds = ctx.config.settings.lease_seconds;
  const timer = setInterval(
    async () => {
      try {
        const renewed = await update<TransferJobDoc>(
          ctx.db('transfers'),
          job.doc._id,
          (current) => ({ ...current!, lease: newLease(ctx.instance, ctx.now(), seconds) }),
          { from: job.doc, onConflict: 'stop' },
        );
        if (renewed) job.doc = renewed;
        else {
          // A 409: the job changed under us (another worker took it over); its new owner decides.
          ctx.log.warn('lost the lease of a transfer job', { job: job.doc._id });
          lost.abort();
        }
      } catch {
        /* a failed renewal (the server restarting) is tried again at the next interval */
      }
    },
    Math.max(1000, (seconds * 1000) / 3),
  );
  return () => clearInterval(timer);
}

/** The job -> done with its summary, unless it finished already or another worker took it over. */
export async function finishJob(
  ctx: AgentContext,
  job: { doc: TransferJobDoc },
  summary: Record<string, number>,
): Promise<void> {
  const db = ctx.db('transfers');
  const mine = job.doc;
  try {
    await update<TransferJobDoc>(
      db,
      job.doc._id,
      (current) => {
        // Re-read after a 409: finished already, or taken over by another worker: theirs stands.
        if (
          current !== mine &&
          (!current ||
            TransferJobMachine.isTerminal(current.state) ||
            leaseHeldByOther(current.lease, ctx.instance, ctx.now()))
        )
          return null;
        job.doc = current!;
        return TransferJobMachine.transition(current!, TransferJobState.done, ctx.now(), { summary });
      },
      { from: mine },
    );
  } catch (err) {
    // Still in conflict after five writes: the job stays active, its lease expires, and the worker
    // that takes it over finishes it.
    if (!(err instanceof ConflictsExhausted)) throw err;
  }
}
