/**
 * The publisher's writes to the catalogue database: datasets, file and replica entries that must
 * exist once (deterministic ids: a 409 on an identical document is "already there"), and block
 * docs whose 409s are settled by their counts. Separate from the passes: each is one kind of
 * `_bulk_docs` with its own reading of the answers.
 */
import type { BlockDoc, TransferDoc } from '../../views/schema';
import { fetchDocs } from '../platform/bulk';
import type { Db } from '../platform/couch';
import type { AgentContext } from '../lib/runner';
import { catalogDocsOf, datasetDocOf, sameEntry } from './decide';

export type BulkResult = { id?: string; rev?: string; error?: string; reason?: string };

/** One dataset doc per dataset of `docs` (a 409 is one already there); a refusal is logged. */
export async function writeDatasets(ctx: AgentContext, db: Db, docs: readonly TransferDoc[], now: Date): Promise<void> {
  const datasets = new Map<string, TransferDoc>();
  for (const d of docs) if (!datasets.has(d.dataset!)) datasets.set(d.dataset!, d);
  const dres = (await db.bulk({ docs: [...datasets.values()].map((d) => datasetDocOf(d, now)) })) as BulkResult[];
  const badDataset = dres.find((r) => r.error && r.error !== 'conflict');
  if (badDataset)
    ctx.log.error('dataset refused', { id: badDataset.id, error: badDataset.error, reason: badDataset.reason });
}

/** Creates documents that must exist once; returns the ids that exist as wanted, and the clashes. */
export async function createEntries(
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

/**
 * Writes block docs; a 409 re-reads and rewrites unless the stored block is closed or counts more
 * files than ours. Two leaders can overlap (a pass outlasting its lease on a loaded machine: a
 * 5,000-file run on CouchDB left blocks that never closed), each counting the members it knows:
 * the last writer used to win with the smaller count. Ours stays unwritten instead, its files stay
 * publishing, and the next pass counts them with what the feed has brought by then.
 */
export async function writeBlocks(db: Db, docs: readonly BlockDoc[], ctx: AgentContext): Promise<Set<string>> {
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
