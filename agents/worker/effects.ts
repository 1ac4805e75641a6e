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
 * Here the files' steps; the job document's own writes (claim, lease, finish) are agents/worker/job.ts.
 */
import { lifecycleMetrics } from '../lib/lifecycle-metrics';
import { performance } from 'perf_hooks';
import { DATA_REQUEST_WORKFLOW_PREFIX, TransferState, type TransferDoc, type TransferJobDoc } from '../../views/schema';
import type { CopyRequest, CopyResult, TransferBackend } from '../backends/types';
import { fetchDocs, saveAll } from '../platform/bulk';
import type { Db } from '../platform/couch';
import type { AgentContext } from '../lib/runner';
import { killed, outcome, refusals, splitFiles, started, belongsTo } from './decide';
import { finishJob, keepLease } from './job';

/** One job being run: what its steps share. */
interface JobRun {
  readonly ctx: AgentContext;
  readonly db: Db;
  readonly claimed: TransferJobDoc;
  /** The job document as last written (lease renewals update it). */
  readonly job: { doc: TransferJobDoc };
  readonly lost: AbortController;
  readonly summary: Record<string, number>;
  readonly timing: Record<string, number>;
  /** Records the time since the previous lap under `name`. */
  readonly lap: (name: string) => void;
  /** The latest revision known of each file to copy; marking them submitted updates it. */
  readonly current: Map<string, TransferDoc>;
}

/** What the copy step hands to the recording step. */
interface Copied {
  readonly results: CopyResult[];
  readonly pfns: Map<string, { source_pfn: string; destination_pfn: string }>;
  readonly copyStarted: string;
}

export async function runJob(
  ctx: AgentContext,
  claimed: TransferJobDoc,
  backend: TransferBackend,
): Promise<Record<string, number>> {
  const run = jobRun(ctx, claimed);
  const stopLease = keepLease(ctx, run.job, run.lost);
  try {
    await startFiles(run);
    if (run.current.size && !run.lost.signal.aborted) {
      const copied = await copyFiles(run, backend);
      if (run.lost.signal.aborted) return run.summary; // the new owner of the job decides
      await recordOutcomes(run, backend, copied);
    }
    await finishJob(ctx, run.job, run.summary);
    run.lap('finish_ms');
    ctx.log.debug('transfer job timing', { job: claimed._id, ...run.timing });
    return run.summary;
  } finally {
    stopLease();
  }
}

function jobRun(ctx: AgentContext, claimed: TransferJobDoc): JobRun {
  const timing: Record<string, number> = {};
  let mark = performance.now();
  return {
    ctx,
    db: ctx.db('transfers'),
    claimed,
    job: { doc: claimed },
    lost: new AbortController(),
    summary: { done: 0, retry: 0, failed: 0, killed: 0, skipped: 0 },
    timing,
    current: new Map(),
    lap: (name) => {
      const t = performance.now();
      timing[name] = Math.round(t - mark);
      mark = t;
    },
  };
}

/**
 * Reads the job's files, writes the kill-requested ones killed, and (mark_submitted_after 0) marks
 * the rest submitted.
 */
async function startFiles(run: JobRun): Promise<void> {
  const { ctx, db, claimed, summary } = run;
  const docs = await fetchDocs<TransferDoc>(
    db,
    claimed.files.map((f) => f.id),
  );
  run.lap('fetch_ms');
  const { run: toCopy, kill } = splitFiles(claimed, docs);
  summary.skipped = claimed.files.length - toCopy.length - kill.length;
  const now = ctx.now();
  const k = await saveAll(
    db,
    kill.map((d) => killed(d, now)),
    (f) => (belongsTo(f, claimed) ? killed(f, ctx.now()) : null),
    ctx.log,
  );
  summary.killed += k.saved.length;
  for (const d of toCopy) run.current.set(d._id, d);
  if (ctx.config.settings.mark_submitted_after === 0 && run.current.size) {
    const s = await markSubmitted(run);
    const ok = new Set(s.saved.filter((d) => d.state === TransferState.submitted).map((d) => d._id));
    for (const id of [...run.current.keys()]) if (!ok.has(id)) run.current.delete(id);
  }
  run.lap('start_ms');
}

async function markSubmitted(run: JobRun) {
  const { ctx, db, claimed, current } = run;
  const s = await saveAll(
    db,
    [...current.values()].map((d) => started(d, ctx.now())),
    (f) => (belongsTo(f, claimed) ? (f.kill_requested ? null : started(f, ctx.now())) : null),
    ctx.log,
  );
  for (const d of s.saved) current.set(d._id, d);
  return s;
}

/** One bulk copy of the files still to copy (files outside their namespace refused), marking them
 * submitted if it is still running after mark_submitted_after seconds. */
async function copyFiles(run: JobRun, backend: TransferBackend): Promise<Copied> {
  const { ctx, claimed, current } = run;
  const markAfter = ctx.config.settings.mark_submitted_after;
  const pfns = new Map(claimed.files.map((f) => [f.id, f]));
  const refused = refusals(claimed, [...current.values()], ctx.config.sites);
  const roots = {
    source: ctx.config.sites.get(claimed.source)?.endpoints[claimed.protocol],
    destination: ctx.config.sites.get(claimed.destination)?.endpoints[claimed.protocol],
  };
  if (refused.size)
    ctx.log.warn('refused files outside their namespace or storage root', {
      job: claimed._id,
      files: refused.size,
      first: [...refused.values()][0],
    });
  const requests: CopyRequest[] = [...current.values()]
    .filter((d) => !refused.has(d._id))
    .map((d) => ({
      id: d._id,
      source: pfns.get(d._id)!.source_pfn,
      destination: pfns.get(d._id)!.destination_pfn,
      size: d.size,
      adler32: d.checksums.adler32.toLowerCase(),
      roots,
    }));
  const signal = AbortSignal.any([run.lost.signal, ctx.signal]);
  const copyStarted = ctx.now().toISOString();
  let marking: Promise<unknown> | null = null;
  const timer =
    markAfter > 0
      ? setTimeout(() => {
          marking = markSubmitted(run).catch((err) =>
            ctx.log.warn('marking files submitted failed', { job: claimed._id, error: (err as Error).message }),
          );
        }, markAfter * 1000)
      : null;
  let results: CopyResult[];
  try {
    results = requests.length ? await backend.copy(requests, { mode: claimed.mode, overwrite: true, signal }) : [];
    for (const [id, error] of refused) results.push({ id, ok: false, seconds: 0, error, errorClass: 'fatal' });
  } finally {
    if (timer) clearTimeout(timer);
    if (marking) await marking;
  }
  run.lap('copy_ms');
  return { results, pfns, copyStarted };
}

/** Writes each file's outcome (done / retry / failed), counts it, then cleans up. */
async function recordOutcomes(
  run: JobRun,
  backend: TransferBackend,
  { results, pfns, copyStarted }: Copied,
): Promise<void> {
  const { ctx, db, claimed, summary, timing } = run;
  const byId = new Map<string, CopyResult>(results.map((r) => [r.id, r]));
  const settings = ctx.config.settings;
  const decide = (d: TransferDoc) =>
    outcome(d.started_at ? d : { ...d, started_at: copyStarted }, byId.get(d._id)!, claimed, settings, ctx.now());
  const o = await saveAll(
    db,
    [...run.current.values()].map(decide),
    (fresh) => (belongsTo(fresh, claimed) ? decide(fresh) : null),
    ctx.log,
  );
  for (const d of o.saved) summary[d.state] = (summary[d.state] || 0) + 1;
  const m = lifecycleMetrics(ctx.metrics.registry);
  for (const d of o.saved) {
    m.transferSeconds.observe({ outcome: d.state }, timing.copy_ms / 1000);
    const last = d.attempts?.[d.attempts.length - 1];
    if (last?.error) m.transferErrors.inc({ class: last.error_class || 'unknown' });
  }
  run.lap('record_ms');
  await cleanUp(ctx, backend, o.saved, results, pfns, o.dropped);
}

/** Best effort: remove copies of files killed meanwhile, and sources of sites that ask for it. */
async function cleanUp(
  ctx: AgentContext,
  backend: TransferBackend,
  saved: readonly TransferDoc[],
  results: readonly CopyResult[],
  pfns: Map<string, { source_pfn: string; destination_pfn: string }>,
  dropped: readonly string[],
): Promise<void> {
  const ok = new Set(results.filter((r) => r.ok).map((r) => r.id));
  const urls: string[] = [];
  // A file whose result was not written because it was killed meanwhile (by the retrier, while
  // its job was still queued as far as the retrier knew): its copy must not stay either.
  const gone = dropped.filter((id) => ok.has(id));
  const others = gone.length ? await fetchDocs<TransferDoc>(ctx.db('transfers'), gone) : new Map<string, TransferDoc>();
  for (const d of [...saved, ...others.values()]) {
    if (d.state === TransferState.killed && ok.has(d._id)) urls.push(pfns.get(d._id)!.destination_pfn);
    // A replicate request copies from a catalogued replica, never from temporary storage: keep it.
    if (
      d.state === TransferState.done &&
      ctx.config.sites.get(d.source)?.cleanup_source &&
      !d.workflow.startsWith(DATA_REQUEST_WORKFLOW_PREFIX)
    )
      urls.push(pfns.get(d._id)!.source_pfn);
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
