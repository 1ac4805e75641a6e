/**
 * What the data-handling agents keep in memory: the unfinished requests of the kinds they run,
 * and (for replicate) each request's transfers by their deterministic ids. Loaded once from two
 * `_all_docs` key ranges (`rq-`, `rt-`: no scan of the other transfers), kept current from the
 * feed, read without documents (only these ids are fetched).
 */
import {
  REQUEST_ID_PREFIX, REQUEST_TERMINAL_STATES, REQUEST_TRANSFER_PREFIX, canRequestTransition,
  type RequestDoc, type RequestKind, type RequestState, type TransferDoc,
} from '../../views/schema';
import { fetchDocs, saveAll } from '../lib/bulk';
import type { Change, Db } from '../lib/couch';
import type { Logger } from '../lib/log';
import type { Mutable } from '../lib/transition';
import { requestOfWorkflow, type Member } from './decide';

export class RequestBook {
  readonly requests = new Map<string, RequestDoc>();
  readonly members = new Map<string, Map<string, Member>>();

  constructor(private readonly kinds: readonly RequestKind[]) {}

  apply(doc: Record<string, unknown> & { _id: string; _deleted?: boolean }): void {
    if (doc._id.startsWith(REQUEST_ID_PREFIX)) {
      const r = doc as unknown as RequestDoc;
      if (doc._deleted || r.type !== 'request' || !this.kinds.includes(r.kind) || REQUEST_TERMINAL_STATES.includes(r.state)) this.requests.delete(doc._id);
      else this.requests.set(doc._id, r);
    } else if (doc._id.startsWith(REQUEST_TRANSFER_PREFIX) && !doc._deleted) {
      const t = doc as unknown as TransferDoc;
      const req = requestOfWorkflow(t.workflow);
      // Only transfers of unfinished requests matter (requests load first: `rq-` < `rt-`).
      if (!req || !this.requests.has(req)) return;
      const m = this.members.get(req) || new Map<string, Member>();
      m.set(t._id, { id: t._id, state: t.state, lfn: t.source_lfn, destination: t.destination, failure_reason: t.failure_reason || null });
      this.members.set(req, m);
    }
  }

  async load(db: Db): Promise<void> {
    for (const prefix of [REQUEST_ID_PREFIX, ...(this.kinds.includes('replicate') ? [REQUEST_TRANSFER_PREFIX] : [])]) {
      let startkey = prefix;
      for (let first = true; ; first = false) {
        const res = await db.list({ include_docs: true, limit: 2000, startkey, endkey: prefix + '\ufff0', ...(first ? {} : { skip: 1 }) } as never);
        for (const row of res.rows) if (row.doc) this.apply(row.doc as never);
        if (res.rows.length < 2000) break;
        startkey = res.rows[res.rows.length - 1].id;
      }
    }
  }

  async applyChanges(db: Db, changes: readonly Change[]): Promise<void> {
    const wanted = changes.filter((c) => c.id.startsWith(REQUEST_ID_PREFIX) || (this.kinds.includes('replicate') && c.id.startsWith(REQUEST_TRANSFER_PREFIX)));
    for (const c of wanted.filter((w) => w.deleted)) this.apply({ _id: c.id, _deleted: true });
    const ids = wanted.filter((w) => !w.deleted).map((w) => w.id);
    if (!ids.length) return;
    for (const d of (await fetchDocs<RequestDoc>(db, ids)).values()) this.apply(d as never);
  }
}

export class RequestTransitionError extends Error {}

/** The one way agents change a request's state: the schema's table, and `last_update`. */
export function transitionRequest(doc: RequestDoc, to: RequestState, now: Date, fields: Partial<Mutable<RequestDoc>> = {}): RequestDoc {
  if (!canRequestTransition(doc.state, to)) throw new RequestTransitionError(`request ${doc._id}: ${doc.state} -> ${to} is not allowed`);
  const next: Record<string, unknown> = { ...doc, ...fields, state: to, last_update: now.toISOString() };
  if (REQUEST_TERMINAL_STATES.includes(to)) {
    next.finished_at = now.toISOString();
    next.lease = null;
    next.next_attempt_at = null;
  }
  for (const k of Object.keys(next)) if (next[k] === undefined) delete next[k];
  return next as unknown as RequestDoc;
}

/**
 * Writes a request update decided from `doc`; on a conflict re-reads it and asks `redo` again
 * (which returns null to drop the write, e.g. when another instance finished the request).
 */
export async function saveRequest(db: Db, book: RequestBook, doc: RequestDoc, redo: (fresh: RequestDoc) => RequestDoc | null, log: Logger): Promise<RequestDoc | null> {
  const res = await saveAll(db, [doc], redo, log);
  if (res.refused.length) throw Object.assign(new Error(`request ${doc._id} refused: ${res.refused[0].error}`), { statusCode: 403 });
  const saved = res.saved[0] || null;
  if (saved) book.apply(saved as never);
  else {
    const fresh = (await fetchDocs<RequestDoc>(db, [doc._id])).get(doc._id);
    if (fresh) book.apply(fresh as never);
  }
  return saved;
}
