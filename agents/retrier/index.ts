/**
 * The retrier: user flags (kill, retry), cooloffs, expiry, files orphaned by a crashed
 * worker, and conflicted documents (agents/lib/conflicts.ts). Idempotent per document (write
 * conflicts re-decide), so several instances may run.
 */
import type { Agent, AgentContext } from '../lib/runner';
import { Tracker } from '../lib/tracker';
import { ConflictScan, noteConflicts } from '../lib/conflict-effects';
import { conflictPass, retrierPass } from './effects';

export function retrierAgent(tracker = new Tracker({ transfers: true, jobs: false })): Agent {
  const totals: Record<string, number> = {};
  /** Ids of documents with conflict revisions, from the feed (read with conflicts=true). */
  const conflicted = new Set<string>();
  /** Finds the conflicts that are already there when the agent starts, a page per tick. */
  const scan = new ConflictScan();
  let scanned = false;
  return {
    name: 'retrier',
    feed: 'transfers',
    // Cooloffs end on the clock, not on a change: look every second (a pass over memory is cheap).
    tickMs: 1_000,
    feedConflicts: true,
    load: (ctx) => tracker.load(ctx.db('transfers'), ctx.signal),
    onChanges: async (changes) => {
      tracker.applyChanges(changes);
      noteConflicts(changes, conflicted);
    },
    async tick(ctx: AgentContext): Promise<boolean> {
      const scanning = await scan.step(ctx.db('transfers'), conflicted);
      if (scan.done && !scanned) {
        scanned = true;
        ctx.log.info('conflict scan done', { conflicted: conflicted.size });
      }
      const c = await conflictPass(ctx, tracker, conflicted);
      const { counts, more: pending } = await retrierPass(ctx, tracker);
      if (c.resolved) counts.conflicts = c.resolved;
      const more = pending || c.more || scanning;
      const acted = Object.values(counts).reduce((a, b) => a + b, 0);
      for (const [k, v] of Object.entries(counts)) totals[k] = (totals[k] || 0) + v;
      if (acted) ctx.log.info('retrier pass', counts);
      return more;
    },
    status: () => ({ ...totals }),
  };
}
