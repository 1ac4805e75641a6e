/**
 * The publisher's writes, in the order that makes a crash at any point harmless:
 *   0. reserve  room in blocks, in the ledger `_local/publisher-blocks` (service database)
 *   1. assign   transfers: block + publication_state publishing (+1 publication_attempts)
 *   2. publish  catalogue: dataset, then file and replica docs (deterministic ids: a 409 on an
 *               identical document is "already there"), then the block doc with its counts
 *   3. confirm  transfers: published (or, after publication_max_retry failed passes,
 *               publication_failed, block cleared)
 *   4. close    block docs: open -> closed when full, timed out, or nothing more can come
 * A replay of any step finds its work done and writes nothing new.
 *
 * Why the ledger: a killed publisher's last `_bulk_docs` is not cancelled with it. CouchDB goes on
 * applying a request whose client has gone, so the 20 assignments a dead leader sent may land
 * after its successor has read the transfers, and the successor, seeing room, filled the same block
 * with 20 others (a 59-file block of 50 was seen on CouchDB 3.4 under SIGKILL). Room is taken in
 * one document before any transfer names the block, and that document's revision makes the
 * writers take turns: a reservation that was in flight either landed before we read the ledger, or
 * makes our write of it a 409 (re-read, plan again). A pass killed between the two leaves room
 * reserved and unused: the block closes short, never over.
 */
import { datasetOwnerProblem } from '../../views/lib/namespace';
import {
  CatalogId,
  PublicationMachine,
  PublicationState,
  type BlockDoc,
  ofTransfer,
  type TransferDoc,
} from '../../views/schema';
import { fetchDocs, saveAll } from '../platform/bulk';
import { statusOf, type Db } from '../platform/couch';
import { get, loadPrefix, put, type AnyDoc } from '../platform/docs';
import type { AgentContext } from '../lib/runner';
import {
  blockDocOf,
  catalogDocsOf,
  closureReason,
  datasetDocOf,
  groupKey,
  isCandidate,
  isPendingTransfer,
  isPublishing,
  planAssignments,
  sameEntry,
  slimOf,
  type BlockInfo,
  type PubSlim,
} from './decide';

/**
 * Files handled per pass (the next pass takes the rest): two blocks' worth. A pass is ~6 bulk
 * requests of this size; small passes keep each one short (~1 s on a busy embedded server), so a
 * restart loses little and closure decisions are taken often.
 */
export const PASS_LIMIT = 200;

export interface PublisherState {
  readonly transfers: Map<string, PubSlim>;
  readonly blocks: Map<string, BlockInfo>;
  /** The ledger as last read or written; null: read it before the next reservation. */
  ledger?: Ledger | null;
}

/** Files reserved per open block (with when), never fewer than the transfers that name it. */
interface Ledger {
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

async function readLedger(ctx: AgentContext): Promise<Ledger> {
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
async function writeLedger(ctx: AgentContext, ledger: Ledger): Promise<Ledger | null> {
  try {
    const saved = await put(ctx.db('service'), { ...ledger, updated_at: ctx.now().toISOString() });
    return { ...ledger, _rev: saved._rev };
  } catch (err) {
    if (statusOf(err) === 409) return null;
    throw err;
  }
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

function members(state: PublisherState): Map<string, PubSlim[]> {
  const out = new Map<string, PubSlim[]>();
  for (const t of state.transfers.values()) {
    if (!t.block || !(t.publication_state && PublicationMachine.inGroup('inBlock', t.publication_state))) continue;
    const list = out.get(t.block);
    if (list) list.push(t);
    else out.set(t.block, [t]);
  }
  return out;
}

/** Steps 0 and 1: room reserved in the ledger, then done files into blocks. */
export async function assignPass(
  ctx: AgentContext,
  state: PublisherState,
): Promise<{ assigned: number; more: boolean }> {
  const all = [...state.transfers.values()].filter(isCandidate);
  if (!all.length) return { assigned: 0, more: false };
  const candidates = all.slice(0, PASS_LIMIT);
  const ledger = state.ledger || (await readLedger(ctx));
  const now = ctx.now();
  // A block's room is what neither its members nor the ledger have taken: a reservation whose
  // transfers have not arrived (or never will) still counts.
  const used = new Map([...members(state)].map(([k, v]) => [k, v.length]));
  for (const [name, r] of Object.entries(ledger.blocks)) if (r.n > (used.get(name) || 0)) used.set(name, r.n);
  // Blocks only the ledger knows (reserved by a pass whose transfers have not arrived) are full
  // or filling: offered like any other, so a new block never takes one's name.
  const blocks = new Map(state.blocks);
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
  const plan = planAssignments(candidates, blocks, used, ctx.config.settings, now);
  const target = new Map(plan.assignments.map((a) => [a.id, a.block]));
  // The next ledger: open blocks with what they use, plus this pass; closed ones leave it, and so do
  // reservations for blocks nothing names once they are old.
  const next: Ledger = { _id: LEDGER_ID, _rev: ledger._rev, blocks: {} };
  const stamp = now.toISOString();
  for (const [name, r] of Object.entries(ledger.blocks)) {
    const b = state.blocks.get(name);
    if (b ? b.open : now.getTime() - Date.parse(r.at) < STALE_RESERVATION_MS)
      next.blocks[name] = { ...r, n: used.get(name) ?? r.n };
  }
  const owners = new Map([...blocks.values(), ...plan.created].map((b) => [b.name, b.owner]));
  for (const a of plan.assignments) {
    const r = next.blocks[a.block];
    next.blocks[a.block] = { n: (r ? r.n : used.get(a.block) || 0) + 1, at: stamp, owner: owners.get(a.block)! };
  }
  const written = await writeLedger(ctx, next);
  state.ledger = written;
  if (!written) {
    ctx.log.warn("block ledger changed under this pass (a dead instance's write landing?): planning again", {});
    return { assigned: 0, more: true };
  }
  const db = ctx.db('transfers');
  const docs = await fetchDocs<TransferDoc>(db, [...target.keys()]);
  const assign = (d: TransferDoc): TransferDoc | null => {
    if (!isCandidate(slimOf(d))) return null;
    return PublicationMachine.transition(d, PublicationState.publishing, ctx.now(), {
      block: target.get(d._id)!,
      publication_attempts: (d.publication_attempts || 0) + 1,
    });
  };
  const updates = [...docs.values()].map(assign).filter((d): d is TransferDoc => d !== null);
  const res = await saveAll(db, updates, assign, ctx.log);
  for (const d of res.saved) state.transfers.set(d._id, slimOf(d));
  const planned = new Map([...blocks, ...plan.created.map((b) => [b.name, b] as const)]);
  for (const d of res.saved) if (!state.blocks.has(d.block!)) state.blocks.set(d.block!, planned.get(d.block!)!);
  return { assigned: res.saved.length, more: all.length > candidates.length };
}

type BulkResult = { id?: string; rev?: string; error?: string; reason?: string };

/** Creates documents that must exist once; returns the ids that exist as wanted, and the clashes. */
async function createEntries(
  db: Db,
  docs: readonly (ReturnType<typeof catalogDocsOf>['file'] | ReturnType<typeof catalogDocsOf>['replica'])[],
): Promise<{ ok: Set<string>; bad: Map<string, string> }> {
  const ok = new Set<string>();
  const bad = new Map<string, string>();
  if (!docs.length) return { ok, bad };
  const res = (await db.bulk({ docs: [...docs] })) as BulkResult[];
  const existed: string[] = [];
  for (const r of res) {
    if (!r.error) ok.add(r.id!);
    else if (r.error === 'conflict') existed.push(r.id!);
    else bad.set(r.id!, `${r.error}: ${r.reason}`);
  }
  const stored = await fetchDocs<Record<string, unknown> & { _id: string }>(db, existed);
  const wanted = new Map(docs.map((d) => [d._id, d]));
  for (const id of existed) {
    const s = stored.get(id);
    if (s && sameEntry(s, wanted.get(id)!)) ok.add(id);
    else
      bad.set(
        id,
        s ? `${id} is already in the catalogue with other content (block ${String(s.block)})` : `${id}: conflict`,
      );
  }
  return { ok, bad };
}

/** Steps 2 and 3: catalogue documents of the publishing files, their blocks, then `published`. */
export async function publishPass(
  ctx: AgentContext,
  state: PublisherState,
): Promise<{ published: number; failed: number; more: boolean }> {
  const all = [...state.transfers.values()].filter(isPublishing);
  if (!all.length) return { published: 0, failed: 0, more: false };
  const batch = all.slice(0, PASS_LIMIT);
  const tdb = ctx.db('transfers');
  const cdb = ctx.db('catalog');
  const fetched = [
    ...(
      await fetchDocs<TransferDoc>(
        tdb,
        batch.map((t) => t.id),
      )
    ).values(),
  ].filter((d) => isPublishing(slimOf(d)));
  // A dataset is its owner's (views/lib/namespace.ts): validation held users to it when they wrote
  // the transfer; checked again here, since operators' writes are not, before anything is catalogued.
  const refused = new Map<string, string>();
  for (const d of fetched) {
    const p = datasetOwnerProblem('dataset', d.dataset, d.user, d.group || null);
    if (p) refused.set(d._id, 'refused: ' + p);
  }
  const docs = fetched.filter((d) => !refused.has(d._id));
  const now = ctx.now();
  // Datasets first (a dataset with no block yet is harmless; a block without its dataset is not).
  const datasets = new Map<string, TransferDoc>();
  for (const d of docs) if (!datasets.has(d.dataset!)) datasets.set(d.dataset!, d);
  const dres = (await cdb.bulk({ docs: [...datasets.values()].map((d) => datasetDocOf(d, now)) })) as BulkResult[];
  const badDataset = dres.find((r) => r.error && r.error !== 'conflict');
  if (badDataset)
    ctx.log.error('dataset refused', { id: badDataset.id, error: badDataset.error, reason: badDataset.reason });
  const entries = docs.map((d) => ({ t: d, ...catalogDocsOf(d) }));
  const files = await createEntries(
    cdb,
    entries.map((e) => e.file),
  );
  const replicas = await createEntries(
    cdb,
    entries.filter((e) => files.ok.has(e.file._id)).map((e) => e.replica),
  );
  const good = entries.filter((e) => files.ok.has(e.file._id) && replicas.ok.has(e.replica._id));
  const failures = new Map(
    entries
      .filter((e) => !good.includes(e))
      .map((e) => [e.t._id, files.bad.get(e.file._id) || replicas.bad.get(e.replica._id) || 'not written']),
  );
  // Block docs, counting the files confirmed before and in this pass.
  const goodIds = new Set(good.map((e) => e.t._id));
  const byBlock = members(state);
  const touched = [...new Set(good.map((e) => e.t.block!))];
  const existing = await fetchDocs<BlockDoc>(
    cdb,
    touched.map((b) => CatalogId.block(b)),
  );
  const blockDocs: BlockDoc[] = [];
  for (const name of touched) {
    const info = state.blocks.get(name);
    const prev = existing.get(CatalogId.block(name)) || null;
    if (!info || (prev && !prev.open)) {
      ctx.log.error('files assigned to a closed or unknown block', { block: name });
      continue;
    }
    const list = (byBlock.get(name) || []).filter(
      (t) => t.publication_state === PublicationState.published || goodIds.has(t.id),
    );
    blockDocs.push(
      blockDocOf(
        info,
        list.map((t) => ({ size: t.size, site: t.destination })),
        prev,
        now,
        null,
      ),
    );
  }
  const written = await writeBlocks(cdb, blockDocs, ctx);
  // Confirm: published where the block doc counts the file; failed passes are counted.
  const max = ctx.config.settings.publication_max_retry;
  const confirm = (d: TransferDoc): TransferDoc | null => {
    if (!isPublishing(slimOf(d))) return null;
    const no = refused.get(d._id);
    if (no)
      return PublicationMachine.transition(d, PublicationState.failed, ctx.now(), {
        block: null,
        publication_attempts: (d.publication_attempts || 0) + 1,
        failure_reason: no,
      });
    if (goodIds.has(d._id) && written.has(d.block!))
      return PublicationMachine.transition(d, PublicationState.published, ctx.now());
    if (!failures.has(d._id)) return null; // its block doc is not written yet: the next pass
    const attempts = (d.publication_attempts || 0) + 1;
    if (attempts >= max)
      return PublicationMachine.transition(d, PublicationState.failed, ctx.now(), {
        block: null,
        publication_attempts: attempts,
        failure_reason: failures.get(d._id)!.slice(0, 4000),
      });
    return { ...d, publication_attempts: attempts, last_update: ctx.now().toISOString() };
  };
  const res = await saveAll(
    tdb,
    fetched.map(confirm).filter((d): d is TransferDoc => d !== null),
    confirm,
    ctx.log,
  );
  for (const d of res.saved) state.transfers.set(d._id, slimOf(d));
  const failed = res.saved.filter((d) => d.publication_state === PublicationState.failed).length;
  if (failures.size)
    ctx.log.warn('publication failed for some files', { files: failures.size, first: [...failures.values()][0] });
  if (refused.size)
    ctx.log.warn('publication refused: datasets of another owner', {
      files: refused.size,
      first: [...refused.values()][0],
    });
  return {
    published: res.saved.filter((d) => d.publication_state === PublicationState.published).length,
    failed,
    more: all.length > batch.length,
  };
}

/**
 * Writes block docs; a 409 re-reads and rewrites unless the stored block is closed or counts more
 * files than ours. Two leaders can overlap (a pass outlasting its lease on a loaded machine: a
 * 5,000-file run on CouchDB left blocks that never closed), each counting the members it knows:
 * the last writer used to win with the smaller count. Ours stays unwritten instead, its files stay
 * publishing, and the next pass counts them with what the feed has brought by then.
 */
async function writeBlocks(db: Db, docs: readonly BlockDoc[], ctx: AgentContext): Promise<Set<string>> {
  const written = new Set<string>();
  let pending = [...docs];
  for (let round = 0; pending.length && round < 5; round++) {
    const res = (await db.bulk({ docs: pending })) as BulkResult[];
    const retry: BlockDoc[] = [];
    const fresh = await fetchDocs<BlockDoc>(
      db,
      res.filter((r) => r.error === 'conflict').map((r) => r.id!),
    );
    for (const r of res) {
      const doc = pending.find((d) => d._id === r.id)!;
      if (!r.error) written.add(doc.name);
      else if (r.error === 'conflict') {
        const cur = fresh.get(doc._id);
        if (cur && cur.open && cur.file_count <= doc.file_count)
          retry.push({ ...doc, _rev: cur._rev, created_at: cur.created_at, origin_site: cur.origin_site });
        else if (cur && !cur.open && cur.file_count === doc.file_count) written.add(doc.name);
      } else ctx.log.error('block refused', { id: r.id, error: r.error, reason: r.reason });
    }
    pending = retry;
  }
  return written;
}

/** Step 4: close the blocks that are full, timed out, or can get nothing more. */
export async function closePass(ctx: AgentContext, state: PublisherState): Promise<number> {
  const settings = ctx.config.settings;
  const now = ctx.now();
  const pending = new Map<string, number>();
  const waiting = new Map<string, number>();
  for (const t of state.transfers.values()) {
    if (isPendingTransfer(t))
      pending.set(t.user + '\u0000' + t.workflow, (pending.get(t.user + '\u0000' + t.workflow) || 0) + 1);
    if (isCandidate(t)) waiting.set(groupKey(t.user, t.dataset!), (waiting.get(groupKey(t.user, t.dataset!)) || 0) + 1);
  }
  const byBlock = members(state);
  const closing: { info: BlockInfo; reason: NonNullable<BlockDoc['closed_by']>; members: PubSlim[] }[] = [];
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
  if (!closing.length) return 0;
  const cdb = ctx.db('catalog');
  const stored = await fetchDocs<BlockDoc>(
    cdb,
    closing.map((c) => CatalogId.block(c.info.name)),
  );
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

export { statusOf };
