/**
 * The worker's reads and writes around one transfer job:
 *   claim   queued (or active with an expired lease) -> active, lease = this instance
 *   start   kill-requested files -> killed
 *   copy    one bulk call to the backend, renewing the lease meanwhile; files acquired ->
 *           submitted only if the copy is still running after `mark_submitted_after` seconds
 *           (0: always, before the copy), so a short copy costs one write per file less
 *   finish  files -> done / retry / failed / killed, then the job -> done
 * A crash between any two steps leaves the job active with a lease that expires; another worker
 * takes it over and redoes the copy (copies overwrite and are verified, so redoing is safe).
 */
import { lifecycleMetrics } from '../lib/lifecycle-metrics';
import { performance } from 'perf_hooks';
import { REQUEST_WORKFLOW_PREFIX, type TransferDoc, type TransferJobDoc } from '../../views/schema';
import type { CopyRequest, CopyResult, TransferBackend } from '../backends/types';
import { fetchDocs, saveAll } from '../lib/bulk';
import { statusOf } from '../lib/couch';
import { leaseHeld, leaseHeldByOther, newLease } from '../lib/lease';
import type { Tracker } from '../lib/tracker';
import type { AgentContext } from '../lib/runner';
import { killed, outcome, splitFiles, started, belongsTo } from './decide';

/**
 * Jobs tried per claim, oldest first. Each try reads one job document (up to ~30 KB with its
 * PFNs), so a worker does not read a page of jobs every time it looks; two workers racing for the
 * oldest job cost the loser one 409 and it takes the next. (Starting instances at different
 * offsets instead starved the oldest jobs: a worker that always won its first pick never looked
 * at the ones before it.)
 */
const TRIES = 5;

/**
 * Claims one job, oldest first: queued ones, else active ones whose worker stopped renewing its
 * lease (a takeover). The revision check makes the claim exclusive.
 */
export async function claimJob(ctx: AgentContext, tracker: Tracker): Promise<TransferJobDoc | null> {
  const now = ctx.now();
  const open = [...tracker.jobs.values()].sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id < b.id ? -1 : 1));
  const queued = open.filter((j) => j.state === 'queued');
  const stale = open.filter((j) => j.state === 'active' && !leaseHeld(j.lease, now));
  const candidates = queued.length ? queued : stale;
  if (!candidates.length) return null;
  for (let i = 0; i < Math.min(TRIES, candidates.length); i++) {
    const id = candidates[i].id;
    const job = (await fetchDocs<TransferJobDoc>(ctx.db('transfers'), [id])).get(id);
    if (!job || job.state === 'done' || leaseHeldByOther(job.lease, ctx.instance, now)) {
      if (job) tracker.apply(job as never);
      else tracker.jobs.delete(id);
      continue;
    }
    const claimed: TransferJobDoc = { ...job, state: 'active', lease: newLease(ctx.instance, now, ctx.config.settings.lease_seconds), claims: (job.claims || 0) + 1 };
    try {
      const res = await ctx.db('transfers').insert(claimed as never);
      const mine = { ...claimed, _rev: res.rev };
      tracker.apply(mine as never);
      return mine;
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
    }
  }
  return null;
}


/** Renews the job's lease every third of its length; reports a lost lease. */
function keepLease(ctx: AgentContext, job: { doc: TransferJobDoc }, lost: AbortController): () => void {
  const seconds = ctx.config.settings.lease_seconds;
  const timer = setInterval(async () => {
    try {
      const renewed = { ...job.doc, lease: newLease(ctx.instance, ctx.now(), seconds) };
      const res = await ctx.db('transfers').insert(renewed as never);
      job.doc = { ...renewed, _rev: res.rev };
    } catch (err) {
      if (statusOf(err) === 409) {
        ctx.log.warn('lost the lease of a transfer job', { job: job.doc._id });
        lost.abort();
      }
    }
  }, Math.max(1000, (seconds * 1000) / 3));
  return () => clearInterval(timer);
}

export async function runJob(ctx: AgentContext, claimed: TransferJobDoc, backend: TransferBackend): Promise<Record<string, number>> {
  const db = ctx.db('transfers');
  const job = { doc: claimed };
  const lost = new AbortController();
  const stopLease = keepLease(ctx, job, lost);
  const summary: Record<string, number> = { done: 0, retry: 0, failed: 0, killed: 0, skipped: 0 };
  const timing: Record<string, number> = {};
  let mark = performance.now();
  const lap = (name: string) => {
    const t = performance.now();
    timing[name] = Math.round(t - mark);
    mark = t;
  };
  try {
    const ids = claimed.files.map((f) => f.id);
    const docs = await fetchDocs<TransferDoc>(db, ids);
    lap('fetch_ms');
    const { run, kill } = splitFiles(claimed, docs);
    summary.skipped = claimed.files.length - run.length - kill.length;
    const now = ctx.now();
    const k = await saveAll(db, kill.map((d) => killed(d, now)), (f) => (belongsTo(f, claimed) ? killed(f, ctx.now()) : null), ctx.log);
    summary.killed += k.saved.length;
    // The latest revision known of each file to copy; marking them submitted updates it.
    const current = new Map(run.map((d) => [d._id, d]));
    const markSubmitted = async () => {
      const s = await saveAll(db, [...current.values()].map((d) => started(d, ctx.now())),
        (f) => (belongsTo(f, claimed) ? (f.kill_requested ? null : started(f, ctx.now())) : null), ctx.log);
      for (const d of s.saved) current.set(d._id, d);
      return s;
    };
    const markAfter = ctx.config.settings.mark_submitted_after;
    if (markAfter === 0 && current.size) {
      const s = await markSubmitted();
      const ok = new Set(s.saved.filter((d) => d.state === 'submitted').map((d) => d._id));
      for (const id of [...current.keys()]) if (!ok.has(id)) current.delete(id);
    }
    lap('start_ms');
    if (current.size && !lost.signal.aborted) {
      const pfns = new Map(claimed.files.map((f) => [f.id, f]));
      const requests: CopyRequest[] = [...current.values()].map((d) => ({
        id: d._id, source: pfns.get(d._id)!.source_pfn, destination: pfns.get(d._id)!.destination_pfn,
        size: d.size, adler32: d.checksums.adler32.toLowerCase(),
      }));
      const signal = AbortSignal.any([lost.signal, ctx.signal]);
      const copyStarted = ctx.now().toISOString();
      let marking: Promise<unknown> | null = null;
      const timer = markAfter > 0 ? setTimeout(() => { marking = markSubmitted().catch((err) => ctx.log.warn('marking files submitted failed', { job: claimed._id, error: (err as Error).message })); }, markAfter * 1000) : null;
      let results: CopyResult[];
      try {
        results = await backend.copy(requests, { mode: claimed.mode, overwrite: true, signal });
      } finally {
        if (timer) clearTimeout(timer);
        if (marking) await marking;
      }
      lap('copy_ms');
      if (lost.signal.aborted) return summary; // the new owner of the job decides
      const byId = new Map<string, CopyResult>(results.map((r) => [r.id, r]));
      const settings = ctx.config.settings;
      const decide = (d: TransferDoc) => outcome(d.started_at ? d : { ...d, started_at: copyStarted }, byId.get(d._id)!, claimed, settings, ctx.now());
      const o = await saveAll(db, [...current.values()].map(decide), (fresh) => (belongsTo(fresh, claimed) ? decide(fresh) : null), ctx.log);
      for (const d of o.saved) summary[d.state] = (summary[d.state] || 0) + 1;
      const m = lifecycleMetrics(ctx.metrics.registry);
      for (const d of o.saved) {
        m.transferSeconds.observe({ outcome: d.state }, timing.copy_ms / 1000);
        const last = d.attempts?.[d.attempts.length - 1];
        if (last?.error) m.transferErrors.inc({ class: last.error_class || 'unknown' });
      }
      lap('record_ms');
      await cleanUp(ctx, backend, o.saved, results, pfns, o.dropped);
    }
    await finishJob(ctx, job, summary);
    lap('finish_ms');
    ctx.log.debug('transfer job timing', { job: claimed._id, ...timing });
    return summary;
  } finally {
    stopLease();
  }
}

/** Best effort: remove copies of files killed meanwhile, and sources of sites that ask for it. */
async function cleanUp(ctx: AgentContext, backend: TransferBackend, saved: readonly TransferDoc[], results: readonly CopyResult[], pfns: Map<string, { source_pfn: string; destination_pfn: string }>, dropped: readonly string[]): Promise<void> {
  const ok = new Set(results.filter((r) => r.ok).map((r) => r.id));
  const urls: string[] = [];
  // A file whose result was not written because it was killed meanwhile (by the retrier, while
  // its job was still queued as far as the retrier knew): its copy must not stay either.
  const gone = dropped.filter((id) => ok.has(id));
  const others = gone.length ? await fetchDocs<TransferDoc>(ctx.db('transfers'), gone) : new Map<string, TransferDoc>();
  for (const d of [...saved, ...others.values()]) {
    if (d.state === 'killed' && ok.has(d._id)) urls.push(pfns.get(d._id)!.destination_pfn);
    // A replicate request copies from a catalogued replica, never from temporary storage: keep it.
    if (d.state === 'done' && ctx.config.sites.get(d.source)?.cleanup_source && !d.workflow.startsWith(REQUEST_WORKFLOW_PREFIX)) urls.push(pfns.get(d._id)!.source_pfn);
  }
  if (!urls.length) return;
  try {
    const res = await backend.remove(urls);
    const bad = res.filter((r) => !r.ok);
    if (bad.length) ctx.log.warn('cleanup failed for some files', { failed: bad.length, first: bad[0].error });
  } catch (err) {
    ctx.log.warn('cleanup failed', { error: (err as Error).message });
  }
}

async function finishJob(ctx: AgentContext, job: { doc: TransferJobDoc }, summary: Record<string, number>): Promise<void> {
  const db = ctx.db('transfers');
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await db.insert({ ...job.doc, state: 'done', lease: null, finished_at: ctx.now().toISOString(), summary } as never);
      return;
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
      const fresh = (await db.get(job.doc._id)) as unknown as TransferJobDoc;
      if (fresh.state === 'done' || leaseHeldByOther(fresh.lease, ctx.instance, ctx.now())) return;
      job.doc = fresh;
    }
  }
}
