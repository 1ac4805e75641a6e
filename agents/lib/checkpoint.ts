/**
 * Feed checkpoints: `_local/<agent>` in the `service` database (never replicated, never indexed),
 * whose `_security` admits agents alone. A `_local` document bypasses validate_doc_update and any
 * member of its database may write it, on CouchDB too, so a checkpoint beside the users' documents
 * let a user choose where a restarted agent resumed (a huge `seq`: every new transfer skipped).
 *
 * Saved only after the batch's effects are saved, so a crash replays at most one batch. 404 means
 * start at 0; 409 means another instance of the same agent wrote it: re-read, keep the later
 * sequence, retry. A checkpoint is trusted only for the feed it was taken on: it names that
 * database, and a numeric sequence (PouchDB's, exact on one node) beyond the database's own is from
 * an earlier database of the same name (start at 0). CouchDB's opaque sequences name their shards'
 * uuids, and CouchDB itself restarts a shard whose uuid it does not know from 0.
 *
 * Upgrade from the checkpoints older versions kept in the feed's database: they are never read
 * (a user may have written them), the feed is replayed once from 0 (every effect is idempotent, as
 * after a migrate-db), and the old document is deleted after the first new checkpoint is saved.
 */
import { checkpointId } from '../../views/schema';
import { statusOf, type Db } from '../platform/couch';
import { get, update, type Stored } from '../platform/docs';
import type { Logger } from '../platform/log';

export type Seq = string | number;

interface CheckpointDoc {
  _id: string;
  _rev?: string;
  seq: Seq;
  /** The database whose feed this sequence belongs to. */
  db?: string;
  updated_at: string;
}

/** Sequence numbers of CouchDB 3 are opaque strings "N-abc..."; PouchDB's are integers. */
export function seqNumber(seq: Seq): number {
  return typeof seq === 'number' ? seq : parseInt(String(seq).split('-')[0], 10) || 0;
}

export class Checkpointer {
  /** The checkpoint as last read or written: the next save writes on its revision without a read. */
  private last: Stored<CheckpointDoc> | null = null;
  /** The revision of an older version's checkpoint in the feed's database, removed after a save. */
  private legacyRev: string | undefined;
  private readonly id: string;

  /**
   * @param store the service database (agents only)
   * @param feed the database whose `_changes` the agent follows, and its name
   */
  constructor(
    private readonly store: Db,
    private readonly feed: Db,
    private readonly feedName: string,
    agent: string,
    private readonly log?: Logger,
  ) {
    this.id = checkpointId(agent);
  }

  async read(): Promise<Seq> {
    const doc = await this.stored();
    if (!doc) {
      await this.noteLegacy();
      return 0;
    }
    if (doc.db !== this.feedName) {
      this.log?.warn('checkpoint ignored: it was taken on another database', {
        checkpoint_db: doc.db ?? null,
        feed: this.feedName,
      });
      return 0;
    }
    if (typeof doc.seq === 'number') {
      const info = (await this.feed.info()) as { update_seq: Seq };
      if (doc.seq > seqNumber(info.update_seq)) {
        this.log?.warn('checkpoint ignored: beyond the end of the feed (the database was created again)', {
          seq: doc.seq,
          update_seq: info.update_seq,
        });
        return 0;
      }
    }
    return doc.seq;
  }

  async save(seq: Seq): Promise<void> {
    const known = this.last;
    const saved = await update<CheckpointDoc>(
      this.store,
      this.id,
      (current) => {
        this.last = current;
        // Another instance got further: never move the shared checkpoint backwards.
        if (current !== known && current && current.db === this.feedName && seqNumber(current.seq) >= seqNumber(seq))
          return null;
        return { _id: this.id, seq, db: this.feedName, updated_at: new Date().toISOString() };
      },
      { from: known },
    );
    if (!saved) return;
    this.last = saved;
    await this.dropLegacy();
  }

  /** The stored checkpoint (kept as the revision to write on), null when there is none. */
  private async stored(): Promise<CheckpointDoc | null> {
    this.last = await get<CheckpointDoc>(this.store, this.id);
    if (this.last) return this.last;
    // A missing document, or a missing database (an older deployment not deployed again)?
    try {
      await this.store.info();
    } catch (err) {
      // Keeps the 404: errorKind calls it permanent, so the agent stops instead of retrying.
      if (statusOf(err) === 404)
        throw Object.assign(
          new Error(`the service database ${this.store.config.db} does not exist: run "couchstage deploy"`),
          { statusCode: 404 },
        );
      throw err;
    }
    return null;
  }

  private async noteLegacy(): Promise<void> {
    try {
      const old = await this.feed.get(this.id);
      this.legacyRev = old._rev;
      this.log?.info(
        'old checkpoint in the feed database ignored (any member could write it): replaying the feed once from 0',
        { feed: this.feedName, id: this.id },
      );
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
  }

  private async dropLegacy(): Promise<void> {
    if (!this.legacyRev) return;
    const rev = this.legacyRev;
    this.legacyRev = undefined;
    try {
      await this.feed.destroy(this.id, rev);
    } catch (err) {
      // Gone already (another instance), or rewritten since: it is never read, so leave it.
      if (statusOf(err) !== 404 && statusOf(err) !== 409) throw err;
    }
  }
}
