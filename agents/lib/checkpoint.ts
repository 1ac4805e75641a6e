/**
 * Feed checkpoints in `_local/<agent>` (never replicated, never indexed). Saved only after the
 * batch's effects are saved, so a crash replays at most one batch. 404 means start at 0; 409 means
 * another instance of the same agent wrote it: re-read, keep the later sequence, retry.
 */
import { checkpointId } from '../../views/schema';
import { statusOf, type Db } from './couch';

export type Seq = string | number;

interface CheckpointDoc {
  _id: string;
  _rev?: string;
  seq: Seq;
  updated_at: string;
}

/** Sequence numbers of CouchDB 3 are opaque strings "N-abc..."; PouchDB's are integers. */
export function seqNumber(seq: Seq): number {
  return typeof seq === 'number' ? seq : parseInt(String(seq).split('-')[0], 10) || 0;
}

export class Checkpointer {
  private rev: string | undefined;

  constructor(private readonly db: Db, private readonly agent: string) {}

  async read(): Promise<Seq> {
    try {
      const doc = (await this.db.get(checkpointId(this.agent))) as unknown as CheckpointDoc;
      this.rev = doc._rev;
      return doc.seq;
    } catch (err) {
      if (statusOf(err) === 404) return 0;
      throw err;
    }
  }

  async save(seq: Seq): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const res = await this.db.insert({ _id: checkpointId(this.agent), ...(this.rev ? { _rev: this.rev } : {}), seq, updated_at: new Date().toISOString() } as never);
        this.rev = res.rev;
        return;
      } catch (err) {
        if (statusOf(err) !== 409) throw err;
        const current = await this.read();
        // Another instance got further: never move the shared checkpoint backwards.
        if (seqNumber(current) >= seqNumber(seq)) return;
      }
    }
    throw new Error(`checkpoint ${this.agent}: too many conflicts`);
  }
}
