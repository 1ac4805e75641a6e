/**
 * The deleter's decisions, pure: which (file, site) pairs a delete request covers, and the
 * request's state after a pass over them.
 */
import {
  DataRequestState,
  type ReplicaDoc,
  type DataRequestDoc,
  type DataRequestError,
  type DataRequestProgress,
  type DataRequestTarget,
  type Settings,
} from '../../views/schema';
import { finalState } from '../lib/data-request-book';
import { cooloffSeconds } from '../lib/transition';

/**
 * Pairs of the request's sites with a replica there now, sorted (the order batches run in). A
 * user deletes only their own copies: the replica's owner, or for a replica without one the
 * file's owner; other copies are refused (an operator acts for a user by naming them in `user`).
 */
export function resolveTargets(
  req: DataRequestDoc,
  replicas: ReadonlyMap<string, ReadonlyMap<string, ReplicaDoc>>,
  fileOwners: ReadonlyMap<string, string> = new Map(),
): { targets: DataRequestTarget[]; refused: DataRequestError[] } {
  const targets: DataRequestTarget[] = [];
  const refused: DataRequestError[] = [];
  for (const [lfn, sites] of replicas) {
    for (const site of req.sites) {
      const r = sites.get(site);
      if (!r) continue;
      const owner = r.owner || fileOwners.get(lfn);
      if (owner === req.user) targets.push({ lfn, site });
      else refused.push({ lfn, site, error: `owned by ${owner || 'nobody'}: only its owner can delete this copy` });
    }
  }
  const order = (a: { lfn?: string; site?: string }, b: { lfn?: string; site?: string }) =>
    a.lfn! < b.lfn! ? -1 : a.lfn! > b.lfn! ? 1 : a.site! < b.site! ? -1 : a.site! > b.site! ? 1 : 0;
  return { targets: targets.sort(order), refused: refused.sort(order) };
}

export type PassEnd =
  | { readonly kind: 'final'; readonly state: DataRequestState; readonly progress: DataRequestProgress }
  | {
      readonly kind: 'retry';
      readonly retries: number;
      readonly next_attempt_at: string;
      readonly progress: DataRequestProgress;
    };

/**
 * After a pass: every target gone -> done; copies that could not be removed for good (fatal) or
 * after max_retry passes (transient) -> failed counts; transient ones earlier -> another pass
 * after a capped exponential cooloff, counted in the document.
 */
export function endOfPass(
  req: DataRequestDoc,
  gone: number,
  fatal: number,
  transient: number,
  settings: Settings,
  now: Date,
): PassEnd {
  // Refused copies (not the requester's) are counted in total and failed from the claim on.
  const refused = req.progress?.unplaced || 0;
  const total = (req.targets || []).length + refused;
  const retries = req.retries || 0;
  if (transient > 0 && retries < settings.max_retry) {
    const wait = cooloffSeconds(retries + 1, settings.cooloff, settings.max_cooloff);
    return {
      kind: 'retry',
      retries: retries + 1,
      next_attempt_at: new Date(now.getTime() + wait * 1000).toISOString(),
      progress: { total, done: gone, failed: refused, unplaced: refused },
    };
  }
  const progress = { total, done: gone, failed: total - gone, ...(refused ? { unplaced: refused } : {}) };
  return { kind: 'final', state: total === 0 ? DataRequestState.done : finalState(progress), progress };
}
