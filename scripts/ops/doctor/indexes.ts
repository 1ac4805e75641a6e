/**
 * How far a design document's view index is behind its database, in an operator's words:
 * `update=false&update_seq=true` where the server honours it, with `_active_tasks` showing a
 * build under way; elsewhere a query with a time limit, which builds the index.
 */
import { seqNumber } from '../../../agents/lib/checkpoint';
import { capabilities } from '../../../agents/platform/capabilities';
import { ddocPath, http } from '../http';
import { indexerProgress } from '../index-build';
import type { DbInfo, DoctorOptions, Finding, Level } from './types';

/** How far the index of one design document is behind its database. */
export async function indexFinding(
  opts: DoctorOptions,
  db: string,
  ddocId: string,
  view: string,
  reduce: boolean,
  info: DbInfo,
): Promise<Finding> {
  const subject = `${db}/${ddocId}`;
  const waitMs = opts.indexWaitMs ?? 5000;
  const lagLimit = opts.indexLagLimit ?? 10_000;
  const caps = await capabilities(opts.url);
  const qs = `limit=0&update=false&update_seq=true${reduce ? '&reduce=false' : ''}`;
  let q;
  try {
    // A server that does not honour update=false builds the index to answer: the time limit
    // keeps the doctor short there, and a build that takes longer is what it reports.
    q = await http<{ update_seq?: string | number }>(
      opts.url,
      'GET',
      `${ddocPath(db, ddocId)}/_view/${encodeURIComponent(view)}?${qs}`,
      { signal: AbortSignal.timeout(waitMs) },
    );
  } catch {
    return {
      check: 'index',
      subject,
      level: 'problem',
      message: `index not built: a view query took over ${(waitMs / 1000).toFixed(0)} s (it is being built now)`,
    };
  }
  if (q.status !== 200) return { check: 'index', subject, level: 'problem', message: `view query answers ${q.status}` };
  if (!caps.staleViews || q.body.update_seq === undefined)
    return { check: 'index', subject, level: 'ok', message: 'index answers' };
  const building = caps.activeTasks ? await indexerProgress(opts.url, db, ddocId).catch(() => null) : null;
  return {
    check: 'index',
    subject,
    ...indexState(seqNumber(q.body.update_seq), seqNumber(info.update_seq), info.doc_count, building, lagLimit),
  };
}

/**
 * What an index's position means to an operator. The first query waits for whatever the index
 * has not processed: a few thousand changes are seconds (not a problem, CouchDB does not build
 * an index before it is queried or its background indexer gets to it), a full build of a large
 * database is minutes to hours (a problem unless a build is already under way).
 */
export function indexState(
  indexedSeq: number,
  dbSeq: number,
  docCount: number,
  building: { done: number; total: number } | null,
  lagLimit: number,
): { level: Level; message: string } {
  const behind = Math.max(0, dbSeq - indexedSeq);
  const progress =
    building && building.total > 0
      ? ` (being built now: ${Math.min(building.done, building.total)}/${building.total} changes)`
      : '';
  if (behind <= lagLimit) {
    return {
      level: 'ok',
      message:
        indexedSeq === 0 && docCount > 0
          ? `not built yet, ${behind} changes: the first query builds it${progress}`
          : behind > 0
            ? `built, ${behind} changes behind${progress}`
            : 'built and current',
    };
  }
  if (building) return { level: 'warning', message: `index ${behind} changes behind the database${progress}` };
  if (indexedSeq === 0)
    return {
      level: 'problem',
      message: `index not built, ${behind} changes: the first query will wait for a full build ("couchstage upgrade" builds it staged)`,
    };
  return { level: 'warning', message: `index ${behind} changes behind the database (it catches up at the next query)` };
}
