/**
 * The scheduler: `new` transfers -> transfer jobs per user and link, under each link's
 * max_active, shared fairly between users. One instance leads (a lease in `lock:scheduler`), the
 * others stand by, so link limits hold with several instances running.
 */
import { performance } from 'perf_hooks';
import { Leadership } from '../lib/leader';
import type { Agent, AgentContext } from '../lib/runner';
import { Tracker } from '../lib/tracker';
import { planSchedule } from './decide';
import { applyPlan, readQueues } from './effects';
import { QuotaGuard } from './quota';
import { lifecycleMetrics, observeTracker } from '../lib/lifecycle-metrics';

export function schedulerAgent(tracker = new Tracker()): Agent {
  let scheduled = 0;
  let failed = 0;
  let leading = false;
  let leadership: Leadership | null = null;
  const quotas = new QuotaGuard();
  let observed = 0;
  return {
    name: 'scheduler',
    feed: 'transfers',
    // Slots free up through changes (which trigger a tick); the timer covers lease takeovers.
    tickMs: 2_000,
    load: (ctx) => tracker.load(ctx.db('transfers'), ctx.signal),
    onChanges: async (changes) => tracker.applyChanges(changes),
    async tick(ctx: AgentContext): Promise<boolean> {
      const settings = ctx.config.settings;
      leadership ||= new Leadership(ctx.db('transfers'), 'scheduler', ctx.instance);
      leading = await leadership.hold(ctx.now(), settings.lease_seconds);
      // A pass over every tracked transfer: at most once a second (100k transfers ~ a few ms).
      if (Date.now() - observed >= 1000) {
        observeTracker(lifecycleMetrics(ctx.metrics.registry), tracker);
        observed = Date.now();
      }
      if (!leading) return false;
      failed += await quotas.enforce(ctx, tracker);
      const t0 = performance.now();
      const queues = await readQueues(ctx, tracker);
      const plan = planSchedule(queues, ctx.config.sites, settings, ctx.now());
      const t1 = performance.now();
      const res = await applyPlan(ctx, tracker, plan);
      if (plan.jobs.length)
        ctx.log.debug('scheduling timing', {
          decide_ms: Math.round(t1 - t0),
          write_ms: Math.round(performance.now() - t1),
          tracked: tracker.transfers.size,
        });
      scheduled += res.acquired;
      failed += res.failed;
      if (res.acquired || res.failed)
        ctx.log.info('scheduled', { jobs: plan.jobs.length, acquired: res.acquired, failed: res.failed });
      return plan.more;
    },
    // A cleanly stopped leader hands over at once instead of after its lease (lease_seconds).
    close: async () => {
      await leadership?.release();
    },
    status: () => ({ leading, scheduled, failed, tracked: tracker.transfers.size }),
  };
}
