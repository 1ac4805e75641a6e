/**
 * What the data-handling agents keep in memory: the unfinished requests of the kinds they run,
 * and (for replicate) each request's transfers by their deterministic ids. Loaded once from two
 * `_all_docs` key ranges (`rq-`, `rt-`: no scan of the other transfers), kept current from the
 * feed, read without documents (only these ids are fetched).
 */
import {
  REQUEST_ID_PREFIX,
  REQUEST_TRANSFER_PREFIX,
  REQUEST_WORKFLOW_PREFIX,
  RequestKind,
  RequestMachine,
  RequestState,
  ofRequest,
  ofTransfer,
  type RequestDoc,
  type RequestProgress,
  type TransferState,
} from '../../views/schema';
import { fetchDocs, saveAll } from '../platform/bulk';
import type { Change, Db } from '../platform/couch';
import { loadPrefix, type AnyDoc } from '../platform/docs';
import type { Logger } from '../platform/log';

export class RequestBook {
  readonly requests = new Map<string, RequestDoc>();
  readonly members = new Map<string, Map<string, Member>>();

  constructor(private readonly kinds: readonly RequestKind[]) {}

  apply(doc: AnyDoc): void {
    if (doc._id.startsWith(REQUEST_ID_PREFIX)) {
      if (doc._deleted || !ofRequest(doc) || !this.kinds.includes(doc.kind) || RequestMachine.isTerminal(doc.state))
        this.requests.delete(doc._id);
      else this.requests.set(doc._id, doc);
    } else if (doc._id.startsWith(REQUEST_TRANSFER_PREFIX) && !doc._deleted && ofTransfer(doc)) {
      const t = doc;
      const req = requestOfWorkflow(t.workflow);
      // Only transfers of unfinished requests matter (requests load first: `rq-` < `rt-`).
      if (!req || !this.requests.has(req)) return;
      const m = this.members.get(req) || new Map<string, Member>();
      m.set(t._id, {
        id: t._id,
        state: t.state,
        lfn: t.source_lfn,
        destination: t.destination,
        failure_reason: t.failure_reason || null,
      });
      this.members.set(req, m);
    }
  }

  async load(db: Db): Promise<void> {
    for (const prefix of [
      REQUEST_ID_PREFIX,
      ...(this.kinds.includes(RequestKind.replicate) ? [REQUEST_TRANSFER_PREFIX] : []),
    ]) {
      await loadPrefix(db, { pageSize: 2000, prefix }, (doc) => this.apply(doc));
    }
  }

  async applyChanges(db: Db, changes: readonly Change[]): Promise<void> {
    const wanted = changes.filter(
      (c) =>
        c.id.startsWith(REQUEST_ID_PREFIX) ||
        (this.kinds.includes(RequestKind.replicate) && c.id.startsWith(REQUEST_TRANSFER_PREFIX)),
    );
    for (const c of wanted.filter((w) => w.deleted)) this.apply({ _id: c.id, _deleted: true });
    const ids = wanted.filter((w) => !w.deleted).map((w) => w.id);
    if (!ids.length) return;
    for (const d of (await fetchDocs<RequestDoc>(db, ids)).values()) this.apply(d);
  }
}

/**
 * Writes a request update decided from `doc`; on a conflict re-reads it and asks `redo` again
 * (which returns null to drop the write, e.g. when another instance finished the request).
 */
export async function saveRequest(
  db: Db,
  book: RequestBook,
  doc: RequestDoc,
  redo: (fresh: RequestDoc) => RequestDoc | null,
  log: Logger,
): Promise<RequestDoc | null> {
  const res = await saveAll(db, [doc], redo, log);
  if (res.refused.length)
    throw Object.assign(new Error(`request ${doc._id} refused: ${res.refused[0].error}`), { statusCode: 403 });
  const saved = res.saved[0] || null;
  if (saved) book.apply(saved);
  else {
    const fresh = (await fetchDocs<RequestDoc>(db, [doc._id])).get(doc._id);
    if (fresh) book.apply(fresh);
  }
  return saved;
}

/** How a settled data request ends: done, failed, or partially failed (some of each). */
export function finalState(p: RequestProgress): RequestState {
  if (p.failed === 0) return RequestState.done;
  return p.done === 0 ? RequestState.failed : RequestState.partiallyFailed;
}

export function requestOfWorkflow(workflow: string): string | null {
  return workflow.indexOf(REQUEST_WORKFLOW_PREFIX) === 0 ? workflow.slice(REQUEST_WORKFLOW_PREFIX.length) : null;
}

/** A transfer of a replicate request, as the book keeps it. */
export interface Member {
  readonly id: string;
  readonly state: TransferState;
  readonly lfn: string;
  readonly destination: string;
  readonly failure_reason: string | null;
}
