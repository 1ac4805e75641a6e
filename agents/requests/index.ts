/**
 * The `requests` agent: runs replicate and upload requests (views/schema DataRequestDoc). Copies
 * themselves are ordinary transfers: the scheduler and the workers run them in parallel under the
 * link limits. The backend is only used to verify uploaded files at their site.
 */
import { DataRequestKind, DataRequestState } from '../../views/schema';
import type { TransferBackend } from '../backends/types';
import type { Agent, AgentContext } from '../lib/runner';
import { DataRequestBook } from '../lib/data-request-book';
import { filesOfDataRequests, followReplicate, startReplicate } from './effects';
import { runUpload } from './upload';

export function requestsAgent(backend: TransferBackend): Agent {
  const book = new DataRequestBook([DataRequestKind.replicate, DataRequestKind.upload]);
  /** Transfers whose replica this process has recorded (a restart records again: createOnce). */
  const recorded = new Set<string>();
  const totals = { planned: 0, uploads: 0, updates: 0 };
  return {
    name: 'requests',
    feed: 'transfers',
    // Requests and their transfers are picked out by id; the feed is read without documents.
    feedDocs: false,
    // Progress is driven by changes; the timer covers cooloffs of retried uploads.
    tickMs: 2_000,
    load: (ctx) => book.load(ctx.db('transfers')),
    onChanges: (changes, ctx) => book.applyChanges(ctx.db('transfers'), changes),
    async tick(ctx: AgentContext): Promise<boolean> {
      const now = ctx.now().getTime();
      const todo = [...book.requests.values()].sort((a, b) =>
        a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a._id < b._id ? -1 : 1,
      );
      const fresh = todo.filter((r) => r.kind === DataRequestKind.replicate && r.state === DataRequestState.new);
      const files = fresh.length ? await filesOfDataRequests(ctx, fresh) : new Map();
      for (const req of todo) {
        if (ctx.signal.aborted) break;
        if (req.next_attempt_at && Date.parse(req.next_attempt_at) > now) continue;
        if (req.kind === DataRequestKind.replicate && req.state === DataRequestState.new) {
          await startReplicate(ctx, book, req, files.get(req._id)!);
          totals.planned++;
        } else if (req.kind === DataRequestKind.replicate && req.state === DataRequestState.running) {
          if (await followReplicate(ctx, book, req, recorded)) totals.updates++;
        } else if (req.kind === DataRequestKind.upload && req.state === DataRequestState.new) {
          await runUpload(ctx, book, req, backend);
          totals.uploads++;
        }
      }
      return false;
    },
    status: () => ({ backend: backend.name, open: book.requests.size, ...totals }),
  };
}
