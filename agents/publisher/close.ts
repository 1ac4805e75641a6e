/**
 * Step 4 of the publisher (agents/publisher/effects.ts has the order): close the blocks that are
 * full, timed out, or can get nothing more. Separate from the assign and publish passes: it only
 * reads memory and block docs, and writes block docs, never transfers.
 */
import { CatalogId, PublicationState, type BlockDoc, type Settings } from '../../views/schema';
import { fetchDocs } from '../platform/bulk';
import type { AgentContext } from '../lib/runner';
import {
  blockDocOf,
  closureReason,
  groupKey,
  isCandidate,
  isPendingTransfer,
  type BlockInfo,
  type PubSlim,
} from './decide';
import type { BulkResult } from './catalogue-writes';
import { members, type PublisherState } from './state';

/** A block this pass would close, why, and its members as this instance has seen them. */
interface Closing {
  readonly info: BlockInfo;
  readonly reason: NonNullable<BlockDoc['closed_by']>;
  readonly members: PubSlim[];
}

export async function closePass(ctx: AgentContext, state: PublisherState): Promise<number> {
  const now = ctx.now();
  const closing = closingBlocks(state, ctx.config.settings, now);
  if (!closing.length) return 0;
  const cdb = ctx.db('catalog');
  const stored = await fetchDocs<BlockDoc>(
    cdb,
    closing.map((c) => CatalogId.block(c.info.name)),
  );
  const docs = closingDocs(ctx, closing, stored, now);
  if (!docs.length) return 0;
  const res = (await cdb.bulk({ docs: docs })) as BulkResult[];
  let closed = 0;
  for (const r of res) {
    const doc = docs.find((d) => d._id === r.id)!;
    if (!r.error) {
      state.blocks.get(doc.name)!.open = false;
      closed++;
    } else if (r.error !== 'conflict')
      ctx.log.error('block close refused', { id: r.id, error: r.error, reason: r.reason });
  }
  return closed;
}

/** The open blocks with a closure reason, from what is in memory. */
function closingBlocks(state: PublisherState, settings: Settings, now: Date): Closing[] {
  const pending = new Map<string, number>();
  const waiting = new Map<string, number>();
  for (const t of state.transfers.values()) {
    if (isPendingTransfer(t))
      pending.set(t.user + '\u0000' + t.workflow, (pending.get(t.user + '\u0000' + t.workflow) || 0) + 1);
    if (isCandidate(t)) waiting.set(groupKey(t.user, t.dataset!), (waiting.get(groupKey(t.user, t.dataset!)) || 0) + 1);
  }
  const byBlock = members(state);
  const closing: Closing[] = [];
  for (const b of state.blocks.values()) {
    if (!b.open) continue;
    const list = byBlock.get(b.name) || [];
    const published = list.filter((t) => t.publication_state === PublicationState.published).length;
    const publishing = list.length - published;
    const workflows = new Set(list.map((t) => t.user + '\u0000' + t.workflow));
    const pendingWf = [...workflows].reduce((a, w) => a + (pending.get(w) || 0), 0);
    const reason = closureReason(
      b,
      published,
      publishing,
      waiting.get(groupKey(b.owner, b.dataset)) || 0,
      pendingWf,
      settings,
      now,
    );
    if (reason) closing.push({ info: b, reason, members: list });
  }
  return closing;
}

/** The closing writes of the blocks whose stored doc is open and counts no more than their members. */
function closingDocs(
  ctx: AgentContext,
  closing: readonly Closing[],
  stored: ReadonlyMap<string, BlockDoc>,
  now: Date,
): BlockDoc[] {
  const docs: BlockDoc[] = [];
  for (const c of closing) {
    const cur = stored.get(CatalogId.block(c.info.name));
    if (!cur) continue; // its first files are not confirmed yet
    if (!cur.open) {
      c.info.open = false;
      continue;
    }
    // A reason means every member is published (none publishing, none waiting in what this
    // instance has seen), so the members are the block's files. A block doc counting more: the
    // feed has not brought the last confirmations yet (next pass). Counting fewer: an overlapping
    // leader's write won with what it knew, and no publish pass will touch the block again, so the
    // counts are put right in the closing write itself.
    if (cur.file_count > c.members.length) continue;
    if (cur.file_count === c.members.length)
      docs.push({
        ...cur,
        open: false,
        closed_at: now.toISOString(),
        closed_by: c.reason,
        last_update: now.toISOString(),
      });
    else {
      ctx.log.warn('block doc counted fewer files than its published members: counts corrected as it closes', {
        block: c.info.name,
        counted: cur.file_count,
        members: c.members.length,
      });
      docs.push(
        blockDocOf(
          c.info,
          c.members.map((t) => ({ size: t.size, site: t.destination })),
          cur,
          now,
          c.reason,
        ),
      );
    }
  }
  return docs;
}
