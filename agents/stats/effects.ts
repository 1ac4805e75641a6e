/**
 * The stats agent's writes: the roll-up document, `_local/monitor-stats` in the transfers db.
 * A `_local` document is never indexed and never in `_changes`, so rewriting it every few
 * seconds costs no view time and wakes no other agent. Idempotent: it is a snapshot.
 */
import { MONITOR_STATS_ID, type MonitorStatsDoc } from '../../views/schema';
import { statusOf, type Db } from '../lib/couch';

export class SummaryWriter {
  private rev: string | undefined;

  constructor(private readonly db: Db) {}

  async write(doc: MonitorStatsDoc): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const res = await this.db.insert({ ...doc, ...(this.rev ? { _rev: this.rev } : {}) } as never);
        this.rev = res.rev;
        return;
      } catch (err) {
        if (statusOf(err) !== 409) throw err;
        // Another instance (or an earlier run) wrote it: take its revision and overwrite.
        try {
          this.rev = ((await this.db.get(MONITOR_STATS_ID)) as { _rev: string })._rev;
        } catch (e) {
          if (statusOf(e) !== 404) throw e;
          this.rev = undefined;
        }
      }
    }
    throw new Error('stats: could not write ' + MONITOR_STATS_ID + ' after 5 conflicts');
  }
}
