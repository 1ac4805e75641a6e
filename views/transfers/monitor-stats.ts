/**
 * The roll-up part of the `transfers` validate_doc_update: the stats agent's `monitor-stats`
 * document (views/schema MonitorStatsDoc). Only agents and operators write it: a plain user's
 * write of any type but transfer or request is refused by the permission step, so this is the
 * shape step alone, kept to what the page relies on (one id, a time, counters that are numbers).
 */
import { MONITOR_STATS_ID } from '../schema';
import { isoDateProblem } from '../lib/checks';
import { assert, type Doc } from '../lib/vdu';

function isCount(u: unknown): boolean {
  return typeof u === 'number' && u >= 0 && Math.floor(u) === u;
}

export function monitorStatsShape(doc: Doc): void {
  assert(doc._id === MONITOR_STATS_ID, '_id: the roll-up document is "' + MONITOR_STATS_ID + '"');
  const p = isoDateProblem('updated_at', doc.updated_at);
  assert(!p, p as string);
  assert(isCount(doc.seq), 'seq: must be an integer >= 0');
  assert(isCount(doc.transfers), 'transfers: must be an integer >= 0');
  const objects = ['states', 'users', 'time', 'publication', 'publication_users'];
  for (let i = 0; i < objects.length; i++) {
    const v = doc[objects[i]];
    assert(typeof v === 'object' && v !== null && !Array.isArray(v), objects[i] + ': must be an object');
  }
  assert(Array.isArray(doc.links) && Array.isArray(doc.failures), 'links: links and failures must be arrays');
}
