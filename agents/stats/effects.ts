/**
 * The stats agent's writes: the roll-up document, `monitor-stats` in the transfers db. A normal
 * document, not `_local`: validate_doc_update refuses it from anyone but agents and operators,
 * where any member could write a `_local` one unchecked. Idempotent: it is a snapshot.
 */
import { MONITOR_STATS_ID, type MonitorStatsDoc } from '../../views/schema';
import type { Db } from '../platform/couch';
import { update, type Stored } from '../platform/docs';

export class SummaryWriter {
  /** The roll-up as last written: the next write goes out on its revision, without a read. */
  private last: Stored<MonitorStatsDoc> | null = null;

  constructor(private readonly db: Db) {}

  async write(doc: MonitorStatsDoc): Promise<void> {
    // A 409: another instance (or an earlier run) wrote it: overwrite it on its revision.
    this.last = await update<MonitorStatsDoc>(this.db, MONITOR_STATS_ID, () => doc, { from: this.last });
  }
}
