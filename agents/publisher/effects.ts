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
 * Here steps 0 to 3; the ledger is agents/publisher/ledger.ts, the catalogue writes
 * agents/publisher/catalogue-writes.ts, step 4 agents/publisher/close.ts, and what the passes keep
 * in memory agents/publisher/state.ts.
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
import { CatalogId, PublicationMachine, PublicationState, type BlockDoc, type TransferDoc } from '../../views/schema';
import { fetchDocs, saveAll } from '../platform/bulk';
import type { AgentContext } from '../lib/runner';
import { blockDocOf, catalogDocsOf, isCandidate, isPublishing, planAssignments, slimOf } from './decide';
import { createEntries, writeBlocks, writeDatasets } from './catalogue-writes';
import { nextLedger, readLedger, roomUsed, withReservedBlocks, writeLedger } from './ledger';
import { members, type PublisherState } from './state';

/**
 * Files handled per pass (the next pass takes the rest): two blocks' worth. A pass is ~6 bulk
 * requests of this size; small passes keep each one short (~1 s on a busy embedded server), so a
 * restart loses little and closure decisions are taken often.
 */
export const PASS_LIMIT = 200;

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
  const used = roomUsed(members(state), ledger);
  const blocks = withReservedBlocks(state.blocks, ledger);
  const plan = planAssignments(candidates, blocks, used, ctx.config.settings, now);
  const written = await writeLedger(ctx, nextLedger(ledger, state.blocks, blocks, used, plan, now));
  state.ledger = written;
  if (!written) {
    ctx.log.warn("block ledger changed under this pass (a dead instance's write landing?): planning again", {});
    return { assigned: 0, more: true };
  }
  const target = new Map(plan.assignments.map((a) => [a.id, a.block]));
  const saved = await assignTransfers(ctx, target);
  for (const d of saved) state.transfers.set(d._id, slimOf(d));
  const planned = new Map([...blocks, ...plan.created.map((b) => [b.name, b] as const)]);
  for (const d of saved) if (!state.blocks.has(d.block!)) state.blocks.set(d.block!, planned.get(d.block!)!);
  return { assigned: saved.length, more: all.length > candidates.length };
}

/** Step 1: each planned transfer still a candidate -> publishing in its block (+1 attempt). */
async function assignTransfers(ctx: AgentContext, target: ReadonlyMap<string, string>): Promise<TransferDoc[]> {
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
  return res.saved;
}

/** What the catalogue writes of a publish pass came to, for confirming its transfers. */
interface Published {
  /** Transfers refused before anything was catalogued, with the reason. */
  readonly refused: ReadonlyMap<string, string>;
  /** Transfers whose file or replica entry could not be written, with the reason. */
  readonly failures: ReadonlyMap<string, string>;
  /** Transfers whose file and replica entries exist as wanted. */
  readonly good: ReadonlySet<string>;
  /** Blocks whose doc was written with this pass's counts. */
  readonly written: ReadonlySet<string>;
}

/** Steps 2 and 3: catalogue documents of the publishing files, their blocks, then `published`. */
export async function publishPass(
  ctx: AgentContext,
  state: PublisherState,
): Promise<{ published: number; failed: number; more: boolean }> {
  const all = [...state.transfers.values()].filter(isPublishing);
  if (!all.length) return { published: 0, failed: 0, more: false };
  const batch = all.slice(0, PASS_LIMIT);
  const cdb = ctx.db('catalog');
  const fetched = [
    ...(
      await fetchDocs<TransferDoc>(
        ctx.db('transfers'),
        batch.map((t) => t.id),
      )
    ).values(),
  ].filter((d) => isPublishing(slimOf(d)));
  const refused = ownerRefusals(fetched);
  const docs = fetched.filter((d) => !refused.has(d._id));
  const now = ctx.now();
  // Datasets first (a dataset with no block yet is harmless; a block without its dataset is not).
  await writeDatasets(ctx, cdb, docs, now);
  const { good, failures } = await writeEntries(ctx, docs);
  const goodIds = new Set(good.map((d) => d._id));
  const blockDocs = await blockDocsOf(ctx, state, good, goodIds, now);
  const written = await writeBlocks(cdb, blockDocs, ctx);
  const saved = await confirmTransfers(ctx, fetched, { refused, failures, good: goodIds, written });
  for (const d of saved) state.transfers.set(d._id, slimOf(d));
  if (failures.size)
    ctx.log.warn('publication failed for some files', { files: failures.size, first: [...failures.values()][0] });
  if (refused.size)
    ctx.log.warn('publication refused: datasets of another owner', {
      files: refused.size,
      first: [...refused.values()][0],
    });
  return {
    published: saved.filter((d) => d.publication_state === PublicationState.published).length,
    failed: saved.filter((d) => d.publication_state === PublicationState.failed).length,
    more: all.length > batch.length,
  };
}

/**
 * A dataset is its owner's (views/lib/namespace.ts): validation held users to it when they wrote
 * the transfer; checked again here, since operators' writes are not, before anything is catalogued.
 */
function ownerRefusals(docs: readonly TransferDoc[]): Map<string, string> {
  const refused = new Map<string, string>();
  for (const d of docs) {
    const p = datasetOwnerProblem('dataset', d.dataset, d.user, d.group || null);
    if (p) refused.set(d._id, 'refused: ' + p);
  }
  return refused;
}

/** Step 2, files then replicas: the transfers whose entries exist as wanted, and why the others do not. */
async function writeEntries(
  ctx: AgentContext,
  docs: readonly TransferDoc[],
): Promise<{ good: TransferDoc[]; failures: Map<string, string> }> {
  const cdb = ctx.db('catalog');
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
  return { good: good.map((e) => e.t), failures };
}

/** Step 2, block docs, counting the files confirmed before and in this pass. */
async function blockDocsOf(
  ctx: AgentContext,
  state: PublisherState,
  good: readonly TransferDoc[],
  goodIds: ReadonlySet<string>,
  now: Date,
): Promise<BlockDoc[]> {
  const byBlock = members(state);
  const touched = [...new Set(good.map((d) => d.block!))];
  const existing = await fetchDocs<BlockDoc>(
    ctx.db('catalog'),
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
  return blockDocs;
}

/** Step 3: published where the block doc counts the file; failed passes are counted. */
async function confirmTransfers(
  ctx: AgentContext,
  fetched: readonly TransferDoc[],
  { refused, failures, good, written }: Published,
): Promise<TransferDoc[]> {
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
    if (good.has(d._id) && written.has(d.block!))
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
    ctx.db('transfers'),
    fetched.map(confirm).filter((d): d is TransferDoc => d !== null),
    confirm,
    ctx.log,
  );
  return res.saved;
}
