/**
 * What the data-handling agents keep in memory: the unfinished requests of the kinds they run,
 * and (for replicate) each request's transfers by their deterministic ids. Loaded once from two
 * `_all_docs` key ranges (`rq-`, `rt-`: no scan of the other transfers), kept current from the
 * feed, read without documents (only these ids are fetched).
 */
import {
  DATA_REQUEST_ID_PREFIX,
  DATA_REQUEST_TRANSFER_PREFIX,
  DATA_REQUEST_WORKFLOW_PREFIX,
  DataRequestKind,
  DataRequestMachine,
  DataRequestState,
  ofDataRequest,
  ofTransfer,
  type DataRequestDoc,
  type DataRequestProgress,
  type TransferState,
} from '../../views/schema';
import { fetchDocs, saveAll } from '../platform/bulk';
import type { Change, Db } from '../platform/couch';
import { loadPrefix, type AnyDoc } from '../platform/docs';
import type { Logger } from '../platform/log';

export class DataRequestBook {
  readonly requests = new Map<string, DataRequestDoc>();
  readonly members = new Map<string, Map<string, Member>>();

  constructor(private readonly kinds: readonly DataRequestKind[]) {}

  apply(doc: AnyDoc): void {
    if (doc._id.startsWith(DATA_REQUEST_ID_PREFIX)) {
      if (
        doc._deleted ||
        !ofDataRequest(doc) ||
        !this.kinds.includes(doc.kind) ||
        DataRequestMachine.isTerminal(doc.state)
      )
        this.requests.delete(doc._id);
      else this.requests.set(doc._id, doc);
    } else if (doc._id.startsWith(DATA_REQUEST_TRANSFER_PREFIX) && !doc._deleted && ofTransfer(doc)) {
      const t = doc;
      const req = dataRequestOfWorkflow(t.workflow);
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
      DATA_REQUEST_ID_PREFIX,
      ...(this.kinds.includes(DataRequestKind.replicate) ? [DATA_REQUEST_TRANSFER_PREFIX] : []),
    ]) {
      await loadPrefix(db, { pageSize: 2000, prefix }, (doc) => this.apply(doc));
    }
  }

  async applyChanges(db: Db, changes: readonly Change[]): Promise<void> {
    const wanted = changes.filter(
      (c) =>
        c.id.startsWith(DATA_REQUEST_ID_PREFIX) ||
        (this.kinds.includes(DataRequestKind.replicate) && c.id.startsWith(DATA_REQUEST_TRANSFER_PREFIX)),
    );
    for (const c of wanted.filter((w) => w.deleted)) this.apply({ _id: c.id, _deleted: true });
    const ids = wanted.filter((w) => !w.deleted).map((w) => w.id);
    if (!ids.length) return;
    for (const d of (await fetchDocs<DataRequestDoc>(db, ids)).values()) this.apply(d);
  }
}

/**
 * Writes a request update decided from `doc`; on a conflict re-reads it and asks `redo` again
 * (which returns null to drop the write, e.g. when another instance finished the request).
 */
export async function saveDataRequest(
  db: Db,
  book: DataRequestBook,
  doc: DataRequestDoc,
  redo: (fresh: DataRequestDoc) => DataRequestDoc | null,
  log: Logger,
): Promise<DataRequestDoc | null> {
  const res = await saveAll(db, [doc], redo, log);
  if (res.refused.length)
    throw Object.assign(new Error(`request ${doc._id} refused: ${res.refused[0].error}`), { statusCode: 403 });
  const saved = res.saved[0] || null;
  if (saved) book.apply(saved);
  else {
    const fresh = (await fetchDocs<DataRequestDoc>(db, [doc._id])).get(doc._id);
    if (fresh) book.apply(fresh);
  }
  return saved;
}

/** How a settled data request ends: done, failed, or partially failed (some of each). */
export function finalState(p: DataRequestProgress): DataRequestState {
  if (p.failed === 0) return DataRequestState.done;
  return p.done === 0 ? DataRequestState.failed : DataRequestState.partiallyFailed;
}

export function dataRequestOfWorkflow(workflow: string): string | null {
  return workflow.indexOf(DATA_REQUEST_WORKFLOW_PREFIX) === 0
    ? workflow.slice(DATA_REQUEST_WORKFLOW_PREFIX.length)
    : null;
}

/** A transfer of a replicate request, as the book keeps it. */
export interface Member {
  readonly id: string;
  readonly state: TransferState;
  readonly lfn: string;
  readonly destination: string;
  readonly failure_reason: string | null;
}
