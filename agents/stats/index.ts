/**
 * The stats agent: keeps the monitoring page's roll-up (`monitor-stats`) current from the
 * transfers feed, so the page's overview is one small read instead of reduces over every row
 * (the embedded server recomputes a reduce on every query: ~7 s per 100k rows).
 *
 * Loads every transfer once from `_all_docs` (like the scheduler's tracker), then applies the
 * feed; each change replaces that document's contribution, so a replay changes nothing. Writes
 * the summary at most every WRITE_MS while things change, and every REFRESH_MS regardless (the
 * time windows slide). Several instances may run: each writes the same snapshot.
 */
import { loadPrefix } from '../platform/docs';
import { seqNumber } from '../lib/checkpoint';
import type { Agent, AgentContext } from '../lib/runner';
import { Rollup } from './decide';
import { SummaryWriter } from './effects';

/** Why 2 s: the page refreshes at most that often on changes; faster writes would only cost CPU. */
export const WRITE_MS = 2_000;
/** Why 30 s: the minute chart's window moves on even when nothing changes. */
export const REFRESH_MS = 30_000;
const PAGE = 2000;

export function statsAgent(): Agent {
  const rollup = new Rollup();
  let writer: SummaryWriter | null = null;
  let dirty = true;
  let lastWrite = 0;
  let seq = 0;
  let writes = 0;
  return {
    name: 'stats',
    feed: 'transfers',
    tickMs: 1_000,
    async load(ctx: AgentContext) {
      const db = ctx.db('transfers');
      const info = await db.info();
      seq = seqNumber(info.update_seq as string | number);
      // Its own roll-up document is in the list too: not a transfer, so it counts for nothing.
      await loadPrefix(db, { pageSize: PAGE, skipDesign: true, signal: ctx.signal }, (doc) => rollup.apply(doc));
      if (ctx.signal.aborted) return;
      ctx.log.info('stats loaded', { transfers: rollup.size });
    },
    async onChanges(changes) {
      for (const c of changes) {
        if (c.doc) dirty = rollup.apply(c.doc) || dirty;
        else if (c.deleted) dirty = rollup.apply({ _id: c.id, _deleted: true }) || dirty;
        seq = Math.max(seq, seqNumber(c.seq));
      }
    },
    async tick(ctx: AgentContext) {
      const now = ctx.now();
      const since = now.getTime() - lastWrite;
      if ((dirty && since >= WRITE_MS) || since >= REFRESH_MS) {
        writer ||= new SummaryWriter(ctx.db('transfers'));
        dirty = false;
        try {
          await writer.write(rollup.summary(now, seq));
        } catch (err) {
          dirty = true;
          throw err;
        }
        lastWrite = now.getTime();
        writes++;
        ctx.log.debug('stats written', { transfers: rollup.size, seq });
      }
      return false;
    },
    status: () => ({ transfers: rollup.size, writes }),
  };
}
