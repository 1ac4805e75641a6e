/**
 * What the publisher keeps in memory (a slim copy of every transfer, the blocks they name, the
 * ledger as last seen), how the feed and the start-up load fill it, and the blocks' members read
 * from it. Separate from the passes: every pass reads it, only these functions build it.
 */
import { CatalogId, PublicationMachine, type BlockDoc, ofTransfer } from '../../views/schema';
import { fetchDocs } from '../platform/bulk';
import { loadPrefix, type AnyDoc } from '../platform/docs';
import type { AgentContext } from '../lib/runner';
import { slimOf, type BlockInfo, type PubSlim } from './decide';
import type { Ledger } from './ledger';

export interface PublisherState {
  readonly transfers: Map<string, PubSlim>;
  readonly blocks: Map<string, BlockInfo>;
  /** The ledger as last read or written; null: read it before the next reservation. */
  ledger?: Ledger | null;
}

export function applyDoc(state: PublisherState, doc: AnyDoc): void {
  if (doc._deleted) state.transfers.delete(doc._id);
  else if (ofTransfer(doc)) {
    const t = slimOf(doc);
    state.transfers.set(doc._id, t);
    // A block this instance did not plan (another's pass, landing late): known from its first
    // member; loadState replaces it with what the catalogue says.
    if (t.block && t.dataset && !state.blocks.has(t.block)) {
      state.blocks.set(t.block, {
        name: t.block,
        dataset: t.dataset,
        owner: t.user,
        open: true,
        createdAt: Date.parse(t.last_update || '') || Date.now(),
      });
    }
  }
}

/** Every transfer (pages of 2000 by id), then the blocks they name, from the catalogue. */
export async function loadState(ctx: AgentContext, state: PublisherState): Promise<void> {
  const db = ctx.db('transfers');
  await loadPrefix(db, { pageSize: 2000, skipDesign: true }, (doc) => applyDoc(state, doc));
  const names = new Map<string, string[]>();
  for (const t of state.transfers.values())
    if (t.block) names.set(t.block, [...(names.get(t.block) || []), t.last_update || '']);
  const docs = await fetchDocs<BlockDoc>(
    ctx.db('catalog'),
    [...names.keys()].map((n) => CatalogId.block(n)),
  );
  for (const [name, stamps] of names) {
    const doc = docs.get(CatalogId.block(name));
    const owner = [...state.transfers.values()].find((t) => t.block === name)!;
    // A block planned but never written: it was opened when its first member was assigned.
    const firstAssigned = stamps.filter(Boolean).sort()[0];
    state.blocks.set(name, {
      name,
      dataset: owner.dataset!,
      owner: owner.user,
      open: doc ? doc.open : true,
      createdAt: doc ? Date.parse(doc.created_at) : firstAssigned ? Date.parse(firstAssigned) : ctx.now().getTime(),
    });
  }
}

/** The transfers in each block (publishing or published), by block name. */
export function members(state: PublisherState): Map<string, PubSlim[]> {
  const out = new Map<string, PubSlim[]>();
  for (const t of state.transfers.values()) {
    if (!t.block || !(t.publication_state && PublicationMachine.inGroup('inBlock', t.publication_state))) continue;
    const list = out.get(t.block);
    if (list) list.push(t);
    else out.set(t.block, [t]);
  }
  return out;
}
