/**
 * The retrier: user requests (kill, resubmit), cooloffs, expiry and files orphaned by a crashed
 * worker. Idempotent per document (conflicts re-decide), so several instances may run.
 */
import type { Agent, AgentContext } from '../lib/runner';
import { Tracker } from '../lib/tracker';
import { retrierPass } from './effects';

export function retrierAgent(): Agent {
  const totals: Record<string, number> = {};
  const tracker = new Tracker({ transfers: true, jobs: false });
  return {
    name: 'retrier',
    feed: 'transfers',
    // Cooloffs end on the clock, not on a change: look every second (a pass over memory is cheap).
    tickMs: 1_000,
    load: (ctx) => tracker.load(ctx.db('transfers'), ctx.signal),
    onChanges: async (changes) => tracker.applyChanges(changes),
    async tick(ctx: AgentContext): Promise<boolean> {
      const { counts, more } = await retrierPass(ctx, tracker);
      const acted = Object.values(counts).reduce((a, b) => a + b, 0);
      for (const [k, v] of Object.entries(counts)) totals[k] = (totals[k] || 0) + v;
      if (acted) ctx.log.info('retrier pass', counts);
      return more;
    },
    status: () => ({ ...totals }),
  };
}
