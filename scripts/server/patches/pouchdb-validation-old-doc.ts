/**
 * The stored document a write is validated against (validate_doc_update's `oldDoc`), for the
 * patch recorded in pouchdb-validation.ts: the revisions this server just wrote, remembered so
 * the next edit is not read back from LevelDB; the new documents of a batch found absent with
 * one read; and the revision CouchDB would choose. Separate because finding the old document is
 * one question with its own shortcuts, apart from running the functions and wrapping the writes.
 */
import { validationFunctions, type Db } from './pouchdb-validation-functions';

/** Recently written revisions per database: `id \u0000 rev` -> the document as a read returns it. */
const RECENT_MAX = 50_000;
const recent = new WeakMap<object, Map<string, Record<string, unknown>>>();

function recentOf(db: Db): Map<string, Record<string, unknown>> {
  let m = recent.get(db);
  if (!m) recent.set(db, (m = new Map()));
  return m;
}

/** Remembers a revision just written (not attachments: reads return stubs for those). */
export function remember(db: Db, doc: Record<string, unknown>, rev: string): void {
  if (doc._attachments !== undefined || typeof doc._id !== 'string') return;
  const stored: Record<string, unknown> = { _id: doc._id, _rev: rev };
  if (doc._deleted === true) stored._deleted = true;
  for (const k of Object.keys(doc)) if (k.charAt(0) !== '_') stored[k] = doc[k];
  const m = recentOf(db);
  m.set(doc._id + '\u0000' + rev, stored);
  if (m.size > RECENT_MAX) m.delete(m.keys().next().value as string);
}

/**
 * The ids of a batch's new documents (no `_rev`, no revision path) of which no revision exists at
 * all, found with one keyed `_all_docs` read for the whole batch (pouchdb-all-docs-keys.ts answers each key
 * with a point read). Their validation gets null for the old document without a `get` each, as a
 * `get` of them would answer: a migration or a bulk load of N new documents used to read N missing
 * documents one by one. Deleted documents are not in the set: their validation reads them.
 */
export async function absentIds(db: Db, docs: Record<string, unknown>[]): Promise<Set<string>> {
  const ids = docs
    .filter(
      (d) => typeof d._id === 'string' && d._rev === undefined && d._revisions === undefined && d._id.charAt(0) !== '_',
    )
    .map((d) => d._id as string);
  if (ids.length < 2 || ['http', 'https'].indexOf(db.type()) !== -1 || !(await validationFunctions(db)).length)
    return new Set();
  const res = await db.allDocs({ keys: ids });
  return new Set(
    res.rows
      .filter((r) => r.error === 'not_found' && r.value === undefined && typeof r.key === 'string')
      .map((r) => r.key as string),
  );
}

/**
 * The stored document a write is validated against, as CouchDB chooses it: the revision being
 * edited (any leaf, also a losing one of a conflict, not just the winner), or for a replicated
 * write the nearest ancestor on its revision path that is stored. pouchdb-validation always used
 * the winner. A `_rev` that is not stored at all (a stale write, which then meets its 409) falls
 * back to the winner, as before.
 */
export async function editedRevision(
  db: Db,
  id: string,
  newDoc: Record<string, unknown>,
  absent?: Set<string>,
): Promise<Record<string, unknown> | null> {
  const revs: string[] = typeof newDoc._rev === 'string' ? [newDoc._rev] : [];
  if (!revs.length && newDoc._revisions === undefined && absent?.has(id)) return null;
  const path = newDoc._revisions as { start?: unknown; ids?: unknown } | undefined;
  if (path && typeof path.start === 'number' && Array.isArray(path.ids)) {
    for (let i = 1; i < path.ids.length; i++) revs.push(`${path.start - i}-${path.ids[i]}`);
  }
  const m = recent.get(db);
  if (m && revs.length) {
    const hit = m.get(id + '\u0000' + revs[0]);
    if (hit) {
      m.delete(id + '\u0000' + revs[0]); // a revision is edited once, as a rule
      return { ...hit };
    }
  }
  for (const rev of revs) {
    const doc = await db.get(id, { rev, revs: true }).catch(() => null);
    if (doc) return doc;
  }
  return db.get(id, { revs: true }).catch(() => null);
}
