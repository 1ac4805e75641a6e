/**
 * The retrier's reads and writes. Candidates come from the in-memory tracker (one pass over the
 * non-terminal transfers); their current documents are fetched, decided again, and saved with
 * the rule "re-read and decide again" on conflict.
 */
import { TransferMachine, TransferState, type TransferDoc, type TransferJobDoc } from '../../views/schema';
import { fetchDocs, saveAll } from '../platform/bulk';
import { resolveConflicts } from '../lib/conflict-effects';
import type { AgentContext } from '../lib/runner';
import type { SlimTransfer, Tracker } from '../lib/tracker';
import { decideExpiry, decideKill, decideOrphan, decideResubmit, decideRetryDue, type TimerKind } from './decide';

/** Documents handled per kind per pass: bounded writes; the tick reports "more" beyond it. */
const PER_KIND = 500;

function kindsOf(t: SlimTransfer, now: number, maxWaitMs: number, leaseMs: number): TimerKind[] {
  const out: TimerKind[] = [];
  if (t.kill_requested && TransferMachine.inGroup('killable', t.state)) out.push('kill');
  if (t.retry_requested && TransferMachine.inGroup('retryable', t.state)) out.push('resubmit');
  if (t.state === TransferState.retry && (!t.next_attempt_at || Date.parse(t.next_attempt_at) <= now))
    out.push('retry');
  if (t.state === TransferState.new && now - Date.parse(t.waiting_since || t.created_at) > maxWaitMs)
    out.push('waiting');
  if (TransferMachine.inGroup('active', t.state) && now - Date.parse(t.last_update || t.created_at) > leaseMs)
    out.push('active');
  return out;
}

export async function retrierPass(
  ctx: AgentContext,
  tracker: Tracker,
): Promise<{ counts: Record<string, number>; more: boolean }> {
  const now = ctx.now();
  const settings = ctx.config.settings;
  const due = new Map<TimerKind, string[]>();
  for (const t of tracker.pending()) {
    for (const k of kindsOf(t, now.getTime(), settings.max_waiting_time * 1000, settings.lease_seconds * 1000)) {
      const list = due.get(k) || [];
      if (list.length < PER_KIND) list.push(t.id);
      due.set(k, list);
    }
  }
  const counts: Record<string, number> = {};
  const more = [...due.values()].some((l) => l.length === PER_KIND);
  const db = ctx.db('transfers');
  const ids = [...new Set([...due.values()].flat())];
  if (!ids.length) return { counts, more };
  const docs = await fetchDocs<TransferDoc>(db, ids);
  const stale = (due.get('active') || []).map((id) => docs.get(id)).filter((d): d is TransferDoc => !!d);
  const jobIds = [...new Set(stale.map((d) => d.transfer_job).filter((j): j is string => !!j))];
  const jobs = await fetchDocs<TransferJobDoc>(db, jobIds);
  const deciders: Record<TimerKind, (d: TransferDoc) => TransferDoc | null> = {
    kill: (d) => decideKill(d, ctx.now(), d.transfer_job ? tracker.jobs.get(d.transfer_job) : undefined),
    resubmit: (d) => decideResubmit(d, ctx.now()),
    retry: (d) => decideRetryDue(d, ctx.now()),
    waiting: (d) => decideExpiry(d, settings, ctx.now()),
    active: (d) => decideOrphan(d, d.transfer_job ? jobs.get(d.transfer_job) : undefined, settings, ctx.now()),
  };
  const done = new Set<string>();
  for (const [kind, list] of due) {
    const decide = deciders[kind];
    const updates = list
      .filter((id) => !done.has(id))
      .map((id) => docs.get(id))
      .filter((d): d is TransferDoc => !!d)
      .map(decide)
      .filter((d): d is TransferDoc => d !== null);
    if (!updates.length) continue;
    const res = await saveAll(db, updates, decide, ctx.log);
    for (const d of res.saved) {
      tracker.apply(d);
      done.add(d._id);
    }
    counts[kind === 'active' ? 'orphan' : kind] = res.saved.length;
  }
  return { counts, more };
}

/** Conflicted documents resolved per pass (each costs a read per leaf). */
const CONFLICTS_PER_PASS = 200;

/**
 * Resolves the documents the feed showed with `_conflicts` (agents/lib/conflicts.ts has the rule).
 * Runs before the other decisions, so that they see the resolved documents (and carried-over
 * requests) in the same pass.
 */
export async function conflictPass(
  ctx: AgentContext,
  tracker: Tracker,
  conflicted: Set<string>,
): Promise<{ resolved: number; more: boolean }> {
  if (!conflicted.size) return { resolved: 0, more: false };
  const ids = [...conflicted].slice(0, CONFLICTS_PER_PASS);
  const out = await resolveConflicts(ctx.db('transfers'), ids, ctx.log);
  for (const d of out.resolved) tracker.apply(d);
  ctx.metrics.conflictsResolved.inc({ db: 'transfers' }, out.resolved.length);
  // Resolved, clean or refused ones leave the set (the feed brings back any new conflict);
  // the ones a concurrent write got in the way of stay for the next pass.
  for (const id of [...out.resolved.map((d) => d._id), ...out.clean, ...out.failed]) conflicted.delete(id);
  // More waiting now only if some were not looked at; retries wait for the next tick.
  const seen = new Set(ids);
  return { resolved: out.resolved.length, more: [...conflicted].some((id) => !seen.has(id)) };
}
