/**
 * The block ledger `_local/publisher-blocks` (service database): room reserved in each open block
 * before any transfer names it (agents/publisher/effects.ts says why). Here its reading and
 * writing, and the arithmetic of a pass over it: the room it says is taken, the blocks only it
 * knows, and the next ledger a pass writes. Separate from the passes so the reservation rule reads
 * in one place.
 */
import { statusOf } from '../platform/couch';
import { get, put } from '../platform/docs';
import type { AgentContext } from '../lib/runner';
import type { Assignment, BlockInfo, PubSlim } from './decide';

/** Files reserved per open block (with when), never fewer than the transfers that name it. */
export interface Ledger {
  _id: string;
  _rev?: string;
  blocks: Record<string, Reservation>;
  updated_at?: string;
}

interface Reservation {
  readonly n: number;
  /** When room was last taken in it (the block's age, for one no transfer names yet). */
  readonly at: string;
  readonly owner: string;
}

/**
 * A reservation for a block no transfer names after this long was made by a pass killed before
 * it wrote its transfers: no request of a dead process is still being applied an hour later.
 */
const STALE_RESERVATION_MS = 3_600_000;

export const LEDGER_ID = '_local/publisher-blocks';

export async function readLedger(ctx: AgentContext): Promise<Ledger> {
  const doc = await get<Ledger>(ctx.db('service'), LEDGER_ID);
  if (!doc) return { _id: LEDGER_ID, blocks: {} };
  const blocks: Ledger['blocks'] = {};
  for (const [name, r] of Object.entries(doc.blocks && typeof doc.blocks === 'object' ? doc.blocks : {})) {
    if (r && Number.isInteger(r.n) && r.n >= 0 && typeof r.at === 'string' && typeof r.owner === 'string')
      blocks[name] = { n: r.n, at: r.at, owner: r.owner };
  }
  return { _id: LEDGER_ID, _rev: doc._rev, blocks };
}

/** Writes the ledger; false when another writer got there first (409: read it again next pass). */
export async function writeLedger(ctx: AgentContext, ledger: Ledger): Promise<Ledger | null> {
  try {
    const saved = await put(ctx.db('service'), { ...ledger, updated_at: ctx.now().toISOString() });
    return { ...ledger, _rev: saved._rev };
  } catch (err) {
    if (statusOf(err) === 409) return null;
    throw err;
  }
}

/**
 * A block's room is what neither its members nor the ledger have taken: a reservation whose
 * transfers have not arrived (or never will) still counts.
 */
export function roomUsed(members: ReadonlyMap<string, PubSlim[]>, ledger: Ledger): Map<string, number> {
  const used = new Map([...members].map(([k, v]) => [k, v.length]));
  for (const [name, r] of Object.entries(ledger.blocks)) if (r.n > (used.get(name) || 0)) used.set(name, r.n);
  return used;
}

/**
 * Blocks only the ledger knows (reserved by a pass whose transfers have not arrived) are full
 * or filling: offered like any other, so a new block never takes one's name.
 */
export function withReservedBlocks(known: ReadonlyMap<string, BlockInfo>, ledger: Ledger): Map<string, BlockInfo> {
  const blocks = new Map(known);
  for (const [name, r] of Object.entries(ledger.blocks)) {
    if (!blocks.has(name))
      blocks.set(name, {
        name,
        dataset: name.slice(0, name.lastIndexOf('#')),
        owner: r.owner,
        open: true,
        createdAt: Date.parse(r.at),
      });
  }
  return blocks;
}

/**
 * The next ledger: open blocks with what they use, plus this pass; closed ones leave it, and so do
 * reservations for blocks nothing names once they are old. `known`: the blocks the transfers
 * name; `offered`: those and the ledger's own, as the plan saw them.
 */
export function nextLedger(
  ledger: Ledger,
  known: ReadonlyMap<string, BlockInfo>,
  offered: ReadonlyMap<string, BlockInfo>,
  used: ReadonlyMap<string, number>,
  plan: { readonly assignments: readonly Assignment[]; readonly created: readonly BlockInfo[] },
  now: Date,
): Ledger {
  const next: Ledger = { _id: LEDGER_ID, _rev: ledger._rev, blocks: {} };
  const stamp = now.toISOString();
  for (const [name, r] of Object.entries(ledger.blocks)) {
    const b = known.get(name);
    if (b ? b.open : now.getTime() - Date.parse(r.at) < STALE_RESERVATION_MS)
      next.blocks[name] = { ...r, n: used.get(name) ?? r.n };
  }
  const owners = new Map([...offered.values(), ...plan.created].map((b) => [b.name, b.owner]));
  for (const a of plan.assignments) {
    const r = next.blocks[a.block];
    next.blocks[a.block] = { n: (r ? r.n : used.get(a.block) || 0) + 1, at: stamp, owner: owners.get(a.block)! };
  }
  return next;
}
