/**
 * The deleter's decisions, pure: which (file, site) pairs a delete request covers, and the
 * request's state after a pass over them.
 */
import type { OwnedReplicaDoc, RequestDoc, RequestProgress, RequestState, RequestTarget, Settings } from '../../views/schema';
import { finalState, requestCooloff } from '../requests/decide';

/** Pairs of the request's sites with a replica there now, sorted (the order batches run in). */
export function resolveTargets(req: RequestDoc, replicas: ReadonlyMap<string, ReadonlyMap<string, OwnedReplicaDoc>>): RequestTarget[] {
  const out: RequestTarget[] = [];
  for (const [lfn, sites] of replicas) for (const site of req.sites) if (sites.has(site)) out.push({ lfn, site });
  return out.sort((a, b) => (a.lfn < b.lfn ? -1 : a.lfn > b.lfn ? 1 : a.site < b.site ? -1 : a.site > b.site ? 1 : 0));
}

export type PassEnd =
  | { readonly kind: 'final'; readonly state: RequestState; readonly progress: RequestProgress }
  | { readonly kind: 'retry'; readonly retries: number; readonly next_attempt_at: string; readonly progress: RequestProgress };

/**
 * After a pass: every target gone -> done; copies that could not be removed for good (fatal) or
 * after max_retry passes (transient) -> failed counts; transient ones earlier -> another pass
 * after a capped exponential cooloff, counted in the document.
 */
export function endOfPass(req: RequestDoc, gone: number, fatal: number, transient: number, settings: Settings, now: Date): PassEnd {
  const total = (req.targets || []).length;
  const retries = req.retries || 0;
  if (transient > 0 && retries < settings.max_retry) {
    const wait = requestCooloff(retries + 1, settings.cooloff, settings.max_cooloff);
    return { kind: 'retry', retries: retries + 1, next_attempt_at: new Date(now.getTime() + wait * 1000).toISOString(), progress: { total, done: gone, failed: 0 } };
  }
  const progress = { total, done: gone, failed: total - gone };
  return { kind: 'final', state: total === 0 ? 'done' : finalState(progress), progress };
}
