/**
 * The worker's decisions, pure: which files of a transfer job to run, kill or skip, and what a
 * copy result makes of each file. Errors come classified by the backend: fatal -> failed at once;
 * transient -> retry after a capped exponential cooloff, until `max_retry` attempts since the last
 * resubmission, then failed with the last reason. A kill request always wins over a result: a
 * killed file is never done, so it is never published.
 */
import type { Settings, TransferDoc, TransferJobDoc } from '../../views/schema';
import type { CopyResult } from '../backends/types';
import { attemptsSinceResubmit, cleanReason, cooloffSeconds, transition, withAttempt } from '../lib/transition';

/** Files that still belong to this job: acquired for it, or submitted by it (a takeover). */
export function belongsTo(doc: TransferDoc | undefined, job: TransferJobDoc): doc is TransferDoc {
  return !!doc && doc.transfer_job === job._id && (doc.state === 'acquired' || doc.state === 'submitted');
}

export function splitFiles(job: TransferJobDoc, docs: ReadonlyMap<string, TransferDoc>): { run: TransferDoc[]; kill: TransferDoc[] } {
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
  return transition(doc, 'killed', now, { finished_at: now.toISOString(), failure_reason: 'killed on request', lease: null });
}

export function started(doc: TransferDoc, now: Date): TransferDoc {
  return doc.state === 'submitted' ? doc : transition(doc, 'submitted', now, { started_at: now.toISOString() });
}

export function outcome(doc: TransferDoc, result: CopyResult, job: TransferJobDoc, settings: Settings, now: Date): TransferDoc {
  if (doc.kill_requested) return killed(doc, now);
  const iso = now.toISOString();
  const attempt = { at: iso, error: result.ok ? null : cleanReason(result.error || 'unknown error'), error_class: result.ok ? null : result.errorClass || 'transient', transfer_job: job._id };
  const attempts = withAttempt(doc, attempt);
  if (result.ok) {
    return transition(doc, 'done', now, {
      attempts, finished_at: iso, failure_reason: null, next_attempt_at: null,
      ...(doc.publish ? { publication_state: 'not_published' as const } : {}),
    });
  }
  const n = attemptsSinceResubmit(doc) + 1;
  if (attempt.error_class === 'fatal' || n >= settings.max_retry) {
    return transition(doc, 'failed', now, { attempts, finished_at: iso, failure_reason: attempt.error });
  }
  const wait = cooloffSeconds(n, settings.cooloff, settings.max_cooloff);
  return transition(doc, 'retry', now, {
    attempts, failure_reason: attempt.error, next_attempt_at: new Date(now.getTime() + wait * 1000).toISOString(),
  });
}
