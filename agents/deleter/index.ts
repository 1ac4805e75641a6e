/**
 * The deleter: runs delete requests (views/schema DataRequestDoc, kind delete). Removes the
 * physical copies through the storage backend (PFNs from the sites' TFC rules), deletes their
 * ReplicaDocs and marks files and datasets that lost their last replica. A lease in the request
 * lets several instances share the work and a dead instance's request be taken over.
 */
import type { TransferBackend } from '../backends/types';
import type { Agent, AgentContext } from '../lib/runner';
import { DataRequestBook } from '../lib/data-request-book';
import { claim, claimable, runPass } from './effects';

export function deleterAgent(backend: TransferBackend): Agent {
  const book = new DataRequestBook(['delete']);
  const totals = { passes: 0 };
  return {
    name: 'deleter',
    feed: 'transfers',
    feedDocs: false,
    // New requests arrive as changes; the timer covers lease takeovers and retry cooloffs.
    tickMs: 2_000,
    load: (ctx) => book.load(ctx.db('transfers')),
    onChanges: (changes, ctx) => book.applyChanges(ctx.db('transfers'), changes),
    async tick(ctx: AgentContext): Promise<boolean> {
      const now = ctx.now();
      const todo = [...book.requests.values()]
        .filter((r) => claimable(r, ctx.instance, now))
        .sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a._id < b._id ? -1 : 1));
      if (!todo.length) return false;
      const claimed = await claim(ctx, book, todo[0]);
      if (claimed) {
        await runPass(ctx, book, claimed, backend);
        totals.passes++;
      }
      return todo.length > 1 || !!claimed;
    },
    status: () => ({ backend: backend.name, open: book.requests.size, ...totals }),
  };
}
