/**
 * What the agents know about the transfers database, in memory: a slim copy of every transfer
 * and transfer job, loaded once from `_all_docs` and kept current from `_changes`. Agents decide
 * from it and fetch the full documents only for the ones they act on.
 *
 * Why memory and not views: on the embedded server every JS view or Mango index costs ~2.5 ms per
 * document update to index (measured: 27 s to build one trivial view over 10k docs, 11 s to
 * re-index 5k updates); a file updated four times on its way to done would pay that once per
 * index per update. The feed costs nothing extra per update on either server, and a slim copy of
 * 100k transfers is ~20 MB. CouchDB 3 is fine either way; this way the hot path is the same on both.
 */
import {
  TransferJobMachine,
  TransferState,
  isTerminal,
  type Lease,
  type TransferDoc,
  type TransferJobState,
  ofTransfer,
  ofTransferJob,
} from '../../views/schema';
import type { Change, Db } from '../platform/couch';
import { loadPrefix, type AnyDoc } from '../platform/docs';

export interface SlimTransfer {
  readonly id: string;
  readonly state: TransferState;
  readonly user: string;
  readonly source: string;
  readonly destination: string;
  readonly priority: number;
  readonly created_at: string;
  readonly waiting_since: string | null;
  readonly last_update: string | null;
  readonly next_attempt_at: string | null;
  readonly kill_requested: boolean;
  readonly retry_requested: boolean;
  readonly transfer_job: string | null;
  /** Bytes: pending transfers count against their user's quota (agents/scheduler/quota.ts). */
  readonly size: number;
}

export interface SlimJob {
  readonly id: string;
  readonly state: TransferJobState;
  readonly lease: Lease | null;
  readonly created_at: string;
  readonly files: number;
}

export class Tracker {
  readonly transfers = new Map<string, SlimTransfer>();
  readonly jobs = new Map<string, SlimJob>();
  /** Whole documents of the transfers waiting in `new`: the scheduler writes them without a read. */
  readonly waitingDocs = new Map<string, TransferDoc>();

  /** A worker only needs the jobs; the scheduler and the retrier need the transfers. */
  constructor(private readonly track: { transfers: boolean; jobs: boolean } = { transfers: true, jobs: true }) {}

  apply(doc: AnyDoc): void {
    if (doc._deleted) {
      this.transfers.delete(doc._id);
      this.jobs.delete(doc._id);
      this.waitingDocs.delete(doc._id);
      return;
    }
    if (ofTransfer(doc) && this.track.transfers) {
      const d = doc;
      if (d.state === TransferState.new) this.waitingDocs.set(d._id, d);
      else this.waitingDocs.delete(d._id);
      this.transfers.set(d._id, {
        id: d._id,
        state: d.state,
        user: d.user,
        source: d.source,
        destination: d.destination,
        priority: d.priority || 3,
        created_at: d.created_at,
        waiting_since: d.waiting_since || null,
        last_update: d.last_update || null,
        next_attempt_at: d.next_attempt_at || null,
        kill_requested: !!d.kill_requested,
        retry_requested: !!d.retry_requested,
        transfer_job: d.transfer_job || null,
        size: d.size,
      });
    } else if (ofTransferJob(doc) && this.track.jobs) {
      const j = doc;
      if (TransferJobMachine.isTerminal(j.state))
        this.jobs.delete(j._id); // finished jobs are not work
      else
        this.jobs.set(j._id, {
          id: j._id,
          state: j.state,
          lease: j.lease || null,
          created_at: j.created_at,
          files: j.files.length,
        });
    }
  }

  applyChanges(changes: readonly Change[]): void {
    for (const c of changes) if (c.doc) this.apply(c.doc);
  }

  private loaded = false;

  /**
   * Reads every document once, in pages of 2000 by id (the primary index: no view needed).
   * Agents sharing this tracker in one process load it once.
   */
  async load(db: Db, signal?: AbortSignal): Promise<void> {
    if (this.loaded) return;
    this.loaded = true;
    await loadPrefix(db, { pageSize: 2000, skipDesign: true, signal }, (doc) => this.apply(doc));
  }

  /** Non-terminal transfers in one pass, for agents that scan. */
  *pending(): Iterable<SlimTransfer> {
    for (const t of this.transfers.values()) if (!isTerminal(t.state) || t.retry_requested) yield t;
  }
}
