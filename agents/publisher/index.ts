/**
 * The publisher (ASO's publication, seeds 002 and 004): done transfers with `publish: true` ->
 * datasets, blocks, files and replicas in the catalogue. One instance leads (a lease in
 * `lock:publisher`), because block filling must have one writer; the others stand by.
 * Memory: a slim copy of every transfer (closure needs the pending ones) and the blocks they name.
 */
import { Leadership } from '../lib/leader';
import type { Agent, AgentContext } from '../lib/runner';
import { closePass } from './close';
import { assignPass, publishPass } from './effects';
import { applyDoc, loadState, type PublisherState } from './state';

export function publisherAgent(): Agent {
  const state: PublisherState = { transfers: new Map(), blocks: new Map() };
  const totals = { assigned: 0, published: 0, publication_failed: 0, blocks_closed: 0 };
  let leading = false;
  let leadership: Leadership | null = null;
  return {
    name: 'publisher',
    feed: 'transfers',
    // Closure timeouts run on the clock: look every second (a pass over memory is cheap).
    tickMs: 1_000,
    load: (ctx) => loadState(ctx, state),
    onChanges: async (changes) => {
      for (const c of changes) if (c.doc) applyDoc(state, c.doc);
    },
    async tick(ctx: AgentContext): Promise<boolean> {
      leadership ||= new Leadership(ctx.db('transfers'), 'publisher', ctx.instance);
      leading = await leadership.hold(ctx.now(), ctx.config.settings.lease_seconds);
      if (!leading) return false;
      const t0 = Date.now();
      const a = await assignPass(ctx, state);
      const t1 = Date.now();
      const p = await publishPass(ctx, state);
      const t2 = Date.now();
      const closed = await closePass(ctx, state);
      const ms = { assign: t1 - t0, publish: t2 - t1, close: Date.now() - t2 };
      totals.assigned += a.assigned;
      totals.published += p.published;
      totals.publication_failed += p.failed;
      totals.blocks_closed += closed;
      if (a.assigned || p.published || p.failed || closed)
        ctx.log.info('publisher pass', { assigned: a.assigned, published: p.published, failed: p.failed, closed, ms });
      return a.more || p.more || a.assigned > 0;
    },
    close: async () => {
      await leadership?.release();
    },
    status: () => ({ leading, ...totals, tracked: state.transfers.size, blocks: state.blocks.size }),
  };
}
