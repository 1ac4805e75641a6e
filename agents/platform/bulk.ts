/**
 * Bulk writes with the conflict rule every agent follows: a 409 (or, on a cluster, a write that
 * lost to another revision) means someone else changed the document since we read it; re-read it
 * and decide again from the fresh document (`redo`), which may drop the write. A refusal by
 * validate_doc_update (403) is a bug in the agent: it is reported, never retried.
 */
import type { Db } from './couch';
import { docsOf } from './docs';
import type { Logger } from './log';

export interface Doc {
  readonly _id: string;
  readonly _rev?: string;
}

export interface SaveOutcome<D> {
  readonly saved: D[];
  readonly dropped: string[];
  readonly refused: { id: string; error: string }[];
}

/** Fetches documents by id (missing ones are left out). */
export async function fetchDocs<D extends Doc>(db: Db, ids: readonly string[]): Promise<Map<string, D>> {
  const out = new Map<string, D>();
  for (let i = 0; i < ids.length; i += 1000) {
    const res = await db.fetch({ keys: ids.slice(i, i + 1000) as string[] });
    for (const doc of docsOf<D>(res.rows)) out.set(doc._id, doc);
  }
  return out;
}

export async function saveAll<D extends Doc>(
  db: Db,
  docs: readonly D[],
  redo: (fresh: D) => D | null,
  log?: Logger,
  maxRounds = 5,
): Promise<SaveOutcome<D>> {
  const saved: D[] = [];
  const dropped: string[] = [];
  const refused: { id: string; error: string }[] = [];
  let pending = [...docs];
  for (let round = 0; pending.length && round < maxRounds; round++) {
    const res = await db.bulk({ docs: pending });
    const conflicts: string[] = [];
    // Match results by id, not position: the embedded server lists refusals first.
    const byId = new Map(pending.map((d) => [d._id, d]));
    for (const r of res) {
      const doc = byId.get(r.id as string);
      if (!doc) continue;
      if (!r.error) saved.push({ ...doc, _rev: r.rev } as D);
      else if (r.error === 'conflict') conflicts.push(doc._id);
      else {
        refused.push({ id: doc._id, error: `${r.error}: ${r.reason}` });
        log?.error('write refused', { id: doc._id, error: r.error, reason: r.reason });
      }
    }
    if (!conflicts.length) break;
    const fresh = await fetchDocs<D>(db, conflicts);
    pending = [];
    for (const id of conflicts) {
      const doc = fresh.get(id);
      const again = doc ? redo(doc) : null;
      if (again) pending.push(again);
      else dropped.push(id);
    }
  }
  dropped.push(...pending.map((d) => d._id).filter((id) => !saved.some((s) => s._id === id)));
  return { saved, dropped, refused };
}

/** Inserts documents that must exist once (deterministic ids): a 409 means it already exists. */
export async function createOnce(db: Db, docs: readonly Doc[]): Promise<{ created: string[]; existed: string[] }> {
  const created: string[] = [];
  const existed: string[] = [];
  if (!docs.length) return { created, existed };
  const res = await db.bulk({ docs: [...docs] });
  for (const r of res) {
    if (!r.error) created.push(r.id as string);
    else if (r.error === 'conflict') existed.push(r.id as string);
    else
      throw Object.assign(new Error(`${r.id}: ${r.error}: ${r.reason}`), {
        statusCode: r.error === 'forbidden' ? 403 : 500,
      });
  }
  return { created, existed };
}
