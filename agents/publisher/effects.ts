/**
 * The publisher's writes, in the order that makes a crash at any point harmless:
 *   1. assign   transfers: block + publication_state publishing (+1 publication_attempts)
 *   2. publish  catalogue: dataset, then file and replica docs (deterministic ids: a 409 on an
 *               identical document is "already there"), then the block doc with its counts
 *   3. confirm  transfers: published (or, after publication_max_retry failed passes,
 *               publication_failed, block cleared)
 *   4. close    block docs: open -> closed when full, timed out, or nothing more can come
 * A replay of any step finds its work done and writes nothing new.
 */
import { CatalogId, DocType, type BlockDoc, type TransferDoc } from '../../views/schema';
import { fetchDocs, saveAll } from '../lib/bulk';
import { statusOf, type Db } from '../lib/couch';
import type { AgentContext } from '../lib/runner';
import {
  blockDocOf, catalogDocsOf, closureReason, datasetDocOf, groupKey, isCandidate, isPendingTransfer, isPublishing,
  planAssignments, sameEntry, slimOf, type BlockInfo, type PubSlim,
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
}

export function applyDoc(state: PublisherState, doc: Record<string, unknown> & { _id: string; _deleted?: boolean }): void {
  if (doc._deleted) state.transfers.delete(doc._id);
  else if (doc.type === DocType.transfer) state.transfers.set(doc._id, slimOf(doc as unknown as TransferDoc));
}

/** Every transfer (pages of 2000 by id), then the blocks they name, from the catalogue. */
export async function loadState(ctx: AgentContext, state: PublisherState): Promise<void> {
  const db = ctx.db('transfers');
  let startkey: string | undefined;
  for (;;) {
    const res = await db.list({ include_docs: true, limit: 2000, ...(startkey ? { startkey, skip: 1 } : {}) } as never);
    for (const row of res.rows) if (row.doc && !row.id.startsWith('_design/')) applyDoc(state, row.doc as never);
    if (res.rows.length < 2000) break;
    startkey = res.rows[res.rows.length - 1].id;
  }
  const names = new Map<string, string[]>();
  for (const t of state.transfers.values()) if (t.block) names.set(t.block, [...(names.get(t.block) || []), t.last_update || '']);
  const docs = await fetchDocs<BlockDoc>(ctx.db('catalog'), [...names.keys()].map((n) => CatalogId.block(n)));
  for (const [name, stamps] of names) {
    const doc = docs.get(CatalogId.block(name));
    const owner = [...state.transfers.values()].find((t) => t.block === name)!;
    // A block planned but never written: it was opened when its first member was assigned.
    const firstAssigned = stamps.filter(Boolean).sort()[0];
    state.blocks.set(name, {
      name, dataset: owner.dataset!, owner: owner.user, open: doc ? doc.open : true,
      createdAt: doc ? Date.parse(doc.created_at) : firstAssigned ? Date.parse(firstAssigned) : ctx.now().getTime(),
    });
  }
}

function members(state: PublisherState): Map<string, PubSlim[]> {
  const out = new Map<string, PubSlim[]>();
  for (const t of state.transfers.values()) {
    if (!t.block || (t.publication_state !== 'publishing' && t.publication_state !== 'published')) continue;
    const list = out.get(t.block);
    if (list) list.push(t);
    else out.set(t.block, [t]);
  }
  return out;
}

/** Step 1: done files into blocks. */
export async function assignPass(ctx: AgentContext, state: PublisherState): Promise<{ assigned: number; more: boolean }> {
  const all = [...state.transfers.values()].filter(isCandidate);
  if (!all.length) return { assigned: 0, more: false };
  const candidates = all.slice(0, PASS_LIMIT);
  const counts = new Map([...members(state)].map(([k, v]) => [k, v.length]));
  const now = ctx.now();
  const plan = planAssignments(candidates, state.blocks, counts, ctx.config.settings, now);
  const target = new Map(plan.assignments.map((a) => [a.id, a.block]));
  const db = ctx.db('transfers');
  const docs = await fetchDocs<TransferDoc>(db, [...target.keys()]);
  const assign = (d: TransferDoc): TransferDoc | null => {
    if (!isCandidate(slimOf(d))) return null;
    return { ...d, block: target.get(d._id)!, publication_state: 'publishing', publication_attempts: (d.publication_attempts || 0) + 1, last_update: ctx.now().toISOString() };
  };
  const updates = [...docs.values()].map(assign).filter((d): d is TransferDoc => d !== null);
  const res = await saveAll(db, updates, assign, ctx.log);
  for (const d of res.saved) state.transfers.set(d._id, slimOf(d));
  for (const b of plan.created) if (res.saved.some((d) => d.block === b.name)) state.blocks.set(b.name, b);
  return { assigned: res.saved.length, more: all.length > candidates.length };
}

type BulkResult = { id?: string; rev?: string; error?: string; reason?: string };

/** Creates documents that must exist once; returns the ids that exist as wanted, and the clashes. */
async function createEntries(db: Db, docs: readonly (ReturnType<typeof catalogDocsOf>['file'] | ReturnType<typeof catalogDocsOf>['replica'])[]): Promise<{ ok: Set<string>; bad: Map<string, string> }> {
  const ok = new Set<string>();
  const bad = new Map<string, string>();
  if (!docs.length) return { ok, bad };
  const res = (await db.bulk({ docs: docs as never[] })) as BulkResult[];
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
    else bad.set(id, s ? `${id} is already in the catalogue with other content (block ${String(s.block)})` : `${id}: conflict`);
  }
  return { ok, bad };
}

/** Steps 2 and 3: catalogue documents of the publishing files, their blocks, then `published`. */
export async function publishPass(ctx: AgentContext, state: PublisherState): Promise<{ published: number; failed: number; more: boolean }> {
  const all = [...state.transfers.values()].filter(isPublishing);
  if (!all.length) return { published: 0, failed: 0, more: false };
  const batch = all.slice(0, PASS_LIMIT);
  const tdb = ctx.db('transfers');
  const cdb = ctx.db('catalog');
  const docs = [...(await fetchDocs<TransferDoc>(tdb, batch.map((t) => t.id))).values()].filter((d) => isPublishing(slimOf(d)));
  const now = ctx.now();
  // Datasets first (a dataset with no block yet is harmless; a block without its dataset is not).
  const datasets = new Map<string, TransferDoc>();
  for (const d of docs) if (!datasets.has(d.dataset!)) datasets.set(d.dataset!, d);
  const dres = (await cdb.bulk({ docs: [...datasets.values()].map((d) => datasetDocOf(d, now)) as never[] })) as BulkResult[];
  const badDataset = dres.find((r) => r.error && r.error !== 'conflict');
  if (badDataset) ctx.log.error('dataset refused', { id: badDataset.id, error: badDataset.error, reason: badDataset.reason });
  const entries = docs.map((d) => ({ t: d, ...catalogDocsOf(d) }));
  const files = await createEntries(cdb, entries.map((e) => e.file));
  const replicas = await createEntries(cdb, entries.filter((e) => files.ok.has(e.file._id)).map((e) => e.replica));
  const good = entries.filter((e) => files.ok.has(e.file._id) && replicas.ok.has(e.replica._id));
  const failures = new Map(entries.filter((e) => !good.includes(e)).map((e) => [e.t._id, files.bad.get(e.file._id) || replicas.bad.get(e.replica._id) || 'not written']));
  // Block docs, counting the files confirmed before and in this pass.
  const goodIds = new Set(good.map((e) => e.t._id));
  const byBlock = members(state);
  const touched = [...new Set(good.map((e) => e.t.block!))];
  const existing = await fetchDocs<BlockDoc>(cdb, touched.map((b) => CatalogId.block(b)));
  const blockDocs: BlockDoc[] = [];
  for (const name of touched) {
    const info = state.blocks.get(name);
    const prev = existing.get(CatalogId.block(name)) || null;
    if (!info || (prev && !prev.open)) {
      ctx.log.error('files assigned to a closed or unknown block', { block: name });
      continue;
    }
    const list = (byBlock.get(name) || []).filter((t) => t.publication_state === 'published' || goodIds.has(t.id));
    blockDocs.push(blockDocOf(info, list.map((t) => ({ size: t.size, site: t.destination })), prev, now, null));
  }
  const written = await writeBlocks(cdb, blockDocs, ctx);
  // Confirm: published where the block doc counts the file; failed passes are counted.
  const max = ctx.config.settings.publication_max_retry;
  const confirm = (d: TransferDoc): TransferDoc | null => {
    if (!isPublishing(slimOf(d))) return null;
    if (goodIds.has(d._id) && written.has(d.block!)) return { ...d, publication_state: 'published', last_update: ctx.now().toISOString() };
    if (!failures.has(d._id)) return null; // its block doc is not written yet: the next pass
    const attempts = (d.publication_attempts || 0) + 1;
    if (attempts >= max) return { ...d, publication_state: 'publication_failed', block: null, publication_attempts: attempts, failure_reason: failures.get(d._id)!.slice(0, 4000), last_update: ctx.now().toISOString() };
    return { ...d, publication_attempts: attempts, last_update: ctx.now().toISOString() };
  };
  const res = await saveAll(tdb, docs.map(confirm).filter((d): d is TransferDoc => d !== null), confirm, ctx.log);
  for (const d of res.saved) state.transfers.set(d._id, slimOf(d));
  const failed = res.saved.filter((d) => d.publication_state === 'publication_failed').length;
  if (failures.size) ctx.log.warn('publication failed for some files', { files: failures.size, first: [...failures.values()][0] });
  return { published: res.saved.filter((d) => d.publication_state === 'published').length, failed, more: all.length > batch.length };
}

/** Writes block docs; a 409 re-reads and rewrites unless the stored block is closed. */
async function writeBlocks(db: Db, docs: readonly BlockDoc[], ctx: AgentContext): Promise<Set<string>> {
  const written = new Set<string>();
  let pending = [...docs];
  for (let round = 0; pending.length && round < 5; round++) {
    const res = (await db.bulk({ docs: pending as never[] })) as BulkResult[];
    const retry: BlockDoc[] = [];
    const fresh = await fetchDocs<BlockDoc>(db, res.filter((r) => r.error === 'conflict').map((r) => r.id!));
    for (const r of res) {
      const doc = pending.find((d) => d._id === r.id)!;
      if (!r.error) written.add(doc.name);
      else if (r.error === 'conflict') {
        const cur = fresh.get(doc._id);
        if (cur && cur.open) retry.push({ ...doc, _rev: cur._rev, created_at: cur.created_at, origin_site: cur.origin_site });
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
    if (isPendingTransfer(t)) pending.set(t.user + '\u0000' + t.workflow, (pending.get(t.user + '\u0000' + t.workflow) || 0) + 1);
    if (isCandidate(t)) waiting.set(groupKey(t.user, t.dataset!), (waiting.get(groupKey(t.user, t.dataset!)) || 0) + 1);
  }
  const byBlock = members(state);
  const closing: { info: BlockInfo; reason: NonNullable<BlockDoc['closed_by']>; count: number }[] = [];
  for (const b of state.blocks.values()) {
    if (!b.open) continue;
    const list = byBlock.get(b.name) || [];
    const published = list.filter((t) => t.publication_state === 'published').length;
    const publishing = list.length - published;
    const workflows = new Set(list.map((t) => t.user + '\u0000' + t.workflow));
    const pendingWf = [...workflows].reduce((a, w) => a + (pending.get(w) || 0), 0);
    const reason = closureReason(b, published, publishing, waiting.get(groupKey(b.owner, b.dataset)) || 0, pendingWf, settings, now);
    if (reason) closing.push({ info: b, reason, count: published });
  }
  if (!closing.length) return 0;
  const cdb = ctx.db('catalog');
  const stored = await fetchDocs<BlockDoc>(cdb, closing.map((c) => CatalogId.block(c.info.name)));
  const docs: BlockDoc[] = [];
  for (const c of closing) {
    const cur = stored.get(CatalogId.block(c.info.name));
    if (!cur) continue; // its first files are not confirmed yet
    if (!cur.open) {
      c.info.open = false;
      continue;
    }
    if (cur.file_count !== c.count) continue; // the block doc lags its files: the next publish pass fixes it
    docs.push({ ...cur, open: false, closed_at: now.toISOString(), closed_by: c.reason, last_update: now.toISOString() });
  }
  if (!docs.length) return 0;
  const res = (await cdb.bulk({ docs: docs as never[] })) as BulkResult[];
  let closed = 0;
  for (const r of res) {
    const doc = docs.find((d) => d._id === r.id)!;
    if (!r.error) {
      state.blocks.get(doc.name)!.open = false;
      closed++;
    } else if (r.error !== 'conflict') ctx.log.error('block close refused', { id: r.id, error: r.error, reason: r.reason });
  }
  return closed;
}

export { statusOf };
