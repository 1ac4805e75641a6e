/**
 * The worker's decisions, pure: which files of a transfer job to run, kill or skip, and what a
 * copy result makes of each file. Errors come classified by the backend: fatal -> failed at once;
 * transient -> retry after a capped exponential cooloff, until `max_retry` attempts since the last
 * resubmission, then failed with the last reason. A kill request always wins over a result: a
 * killed file is never done, so it is never published.
 */
import {
  PublicationMachine,
  TransferMachine,
  TransferState,
  type Settings,
  type SiteDoc,
  type TransferDoc,
  type TransferJobDoc,
} from '../../views/schema';
import { pfnRootProblem } from '../../views/lib/tfc';
import type { CopyResult } from '../backends/types';
import { namespaceReason } from '../lib/pfn';
import { attemptsSinceResubmit, cleanReason, cooloffSeconds, withAttempt } from '../lib/transition';

/** Files that still belong to this job: acquired for it, or submitted by it (a takeover). */
export function belongsTo(doc: TransferDoc | undefined, job: TransferJobDoc): doc is TransferDoc {
  return !!doc && doc.transfer_job === job._id && TransferMachine.inGroup('active', doc.state);
}

export function splitFiles(
  job: TransferJobDoc,
  docs: ReadonlyMap<string, TransferDoc>,
): { run: TransferDoc[]; kill: TransferDoc[] } {
  const run: TransferDoc[] = [];
  const kill: TransferDoc[] = [];
  for (const f of job.files) {
    const doc = docs.get(f.id);
    if (!belongsTo(doc, job)) continue;
    (doc.kill_requested ? kill : run).push(doc);
  }
  return { run, kill };
}

export function killed(doc: TransferDoc, now: Date): TransferDoc {
  return TransferMachine.transition(doc, TransferState.killed, now, {
    finished_at: now.toISOString(),
    failure_reason: 'killed on request',
    lease: null,
  });
}

export function started(doc: TransferDoc, now: Date): TransferDoc {
  return doc.state === TransferState.submitted
    ? doc
    : TransferMachine.transition(doc, TransferState.submitted, now, { started_at: now.toISOString() });
}

export function outcome(
  doc: TransferDoc,
  result: CopyResult,
  job: TransferJobDoc,
  settings: Settings,
  now: Date,
): TransferDoc {
  if (doc.kill_requested) return killed(doc, now);
  const iso = now.toISOString();
  const attempt = {
    at: iso,
    error: result.ok ? null : cleanReason(result.error || 'unknown error'),
    error_class: result.ok ? null : result.errorClass || 'transient',
    transfer_job: job._id,
  };
  const attempts = withAttempt(doc, attempt);
  if (result.ok) {
    return TransferMachine.transition(doc, TransferState.done, now, {
      attempts,
      finished_at: iso,
      failure_reason: null,
      next_attempt_at: null,
      ...(doc.publish ? { publication_state: PublicationMachine.initial } : {}),
    });
  }
  const n = attemptsSinceResubmit(doc) + 1;
  if (attempt.error_class === 'fatal' || n >= settings.max_retry) {
    return TransferMachine.transition(doc, TransferState.failed, now, {
      attempts,
      finished_at: iso,
      failure_reason: attempt.error,
    });
  }
  const wait = cooloffSeconds(n, settings.cooloff, settings.max_cooloff);
  return TransferMachine.transition(doc, TransferState.retry, now, {
    attempts,
    failure_reason: attempt.error,
    next_attempt_at: new Date(now.getTime() + wait * 1000).toISOString(),
  });
}

/**
 * Files of the job that must not be copied, with the reason: checked again right before the copy
 * against the sites as configured now (a job may have waited while an operator narrowed a
 * namespace or moved a root, and nothing a document says reaches storage unchecked). Each becomes
 * a fatal result: failed at once, never retried.
 */
export function refusals(
  job: TransferJobDoc,
  docs: readonly TransferDoc[],
  sites: ReadonlyMap<string, SiteDoc>,
): Map<string, string> {
  const out = new Map<string, string>();
  const pfns = new Map(job.files.map((f) => [f.id, f]));
  const src = sites.get(job.source);
  const dst = sites.get(job.destination);
  for (const d of docs) {
    const f = pfns.get(d._id);
    const reason =
      namespaceReason(d, sites) ||
      (!src || !dst ? `refused: site ${!src ? job.source : job.destination} is not configured` : null) ||
      (!f ? 'refused: the transfer job does not list this file' : null) ||
      pfnRootProblem(src!, job.protocol, f!.source_pfn) ||
      pfnRootProblem(dst!, job.protocol, f!.destination_pfn);
    if (reason) out.set(d._id, reason.startsWith('refused: ') ? reason : `refused: ${reason}`);
  }
  return out;
}
