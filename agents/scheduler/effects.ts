/**
 * The scheduler's reads and writes. Reads come from the in-memory tracker (every transfer's
 * state, link and user, kept current from `_changes`), then the chosen files' current documents.
 * Writes, in this order so that a crash anywhere is harmless: the files new -> acquired naming
 * their job (a file that changed meanwhile is re-decided or dropped), then the transfer jobs with
 * the files actually acquired (deterministic ids, so a replay finds them; a crash in between
 * leaves acquired files without a job, which the retrier returns to new), then the files that
 * cannot be scheduled -> failed.
 */
import { TransferMachine, TransferState, type TransferDoc } from '../../views/schema';
import { createOnce, saveAll } from '../platform/bulk';
import type { AgentContext } from '../lib/runner';
import { linkKey, linkOfKey } from '../../views/lib/link-key';
import type { SlimTransfer, Tracker } from '../lib/tracker';
import type { LinkQueue, SchedulePlan } from './decide';

/** Most files read per user per pass: a user's share rarely exceeds a few jobs' worth. */
const MAX_PER_USER = 1000;

/** Queue order: higher priority first, then older first. */
function before(a: SlimTransfer, b: SlimTransfer): boolean {
  return a.priority !== b.priority
    ? a.priority > b.priority
    : a.created_at < b.created_at || (a.created_at === b.created_at && a.id < b.id);
}

/** The first `k` of `items` in queue order, without sorting them all (k is small, items many). */
export function head(items: readonly SlimTransfer[], k: number): SlimTransfer[] {
  if (items.length <= k) return [...items].sort((a, b) => (before(a, b) ? -1 : 1));
  const best: SlimTransfer[] = [];
  for (const it of items) {
    if (best.length === k && !before(it, best[k - 1])) continue;
    let i = best.length;
    while (i > 0 && before(it, best[i - 1])) i--;
    best.splice(i, 0, it);
    if (best.length > k) best.pop();
  }
  return best;
}

export async function readQueues(ctx: AgentContext, tracker: Tracker): Promise<LinkQueue[]> {
  const active = new Map<string, number>();
  const waiting = new Map<string, Map<string, SlimTransfer[]>>();
  for (const t of tracker.transfers.values()) {
    const k = linkKey(t.source, t.destination);
    if (TransferMachine.inGroup('active', t.state)) active.set(k, (active.get(k) || 0) + 1);
    else if (t.state === TransferState.new && !t.kill_requested) {
      const users = waiting.get(k) || new Map<string, SlimTransfer[]>();
      const list = users.get(t.user) || [];
      list.push(t);
      users.set(t.user, list);
      waiting.set(k, users);
    }
  }
  const queues: LinkQueue[] = [];
  for (const [k, users] of waiting) {
    const { source, destination } = linkOfKey(k);
    const maxActive = ctx.config.maxActive(source, destination);
    const busy = active.get(k) || 0;
    const free = maxActive - busy;
    if (free <= 0) continue;
    const limit = Math.min(MAX_PER_USER, free);
    const chosen = new Map<string, SlimTransfer[]>();
    const truncated = new Set<string>();
    for (const [user, list] of users) {
      chosen.set(user, head(list, limit));
      if (list.length > limit) truncated.add(user);
    }
    // The documents come from the feed: no read. If one changed since, its write gets a 409 and
    // saveAll re-reads it and decides again.
    const perUser = new Map<string, TransferDoc[]>();
    for (const [user, list] of chosen) {
      perUser.set(
        user,
        list.map((t) => tracker.waitingDocs.get(t.id)).filter((d): d is TransferDoc => !!d && !d.kill_requested),
      );
    }
    queues.push({
      source,
      destination,
      users: perUser,
      active: busy,
      maxActive,
      mode: ctx.config.link(source, destination)?.mode || 'stream',
      truncated,
    });
  }
  return queues;
}

export async function applyPlan(
  ctx: AgentContext,
  tracker: Tracker,
  plan: SchedulePlan,
): Promise<{ acquired: number; failed: number }> {
  const db = ctx.db('transfers');
  const jobOf = new Map(plan.acquire.map((d) => [d._id, d.transfer_job]));
  const now = ctx.now();
  const acquired = await saveAll(
    db,
    plan.acquire,
    (fresh) =>
      fresh.state === TransferState.new && !fresh.kill_requested
        ? TransferMachine.transition(fresh, TransferState.acquired, now, { transfer_job: jobOf.get(fresh._id) })
        : null,
    ctx.log,
  );
  // Jobs only now, listing only the files actually acquired: a worker that sees a job finds all
  // its files ready. (Written first, a job could be claimed and finished before its files were
  // acquired, leaving them orphaned until the retrier noticed a lease later.)
  const got = new Set(acquired.saved.map((d) => d._id));
  const jobs = plan.jobs
    .map((j) => ({ ...j, files: j.files.filter((f) => got.has(f.id)) }))
    .filter((j) => j.files.length);
  await createOnce(db, jobs);
  for (const j of jobs) tracker.apply(j);
  const planned = new Map(plan.fail.map((d) => [d._id, d]));
  const failed = await saveAll(
    db,
    plan.fail,
    (fresh) => {
      const p = planned.get(fresh._id)!;
      return fresh.state === TransferState.new
        ? TransferMachine.transition(fresh, TransferState.failed, now, {
            failure_reason: p.failure_reason,
            finished_at: p.finished_at,
            attempts: p.attempts,
          })
        : null;
    },
    ctx.log,
  );
  for (const d of [...acquired.saved, ...failed.saved]) tracker.apply(d);
  return { acquired: acquired.saved.length, failed: failed.saved.length };
}
