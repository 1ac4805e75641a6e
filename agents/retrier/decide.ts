/**
 * The retrier's decisions, pure: act on user flags (kill, retry), end cooloffs
 * (retry -> new), expire transfers that waited too long without starting (AliEn's
 * MaxWaitingTime -> expired), and return files whose transfer job ended without them.
 */
import {
  TransferJobState,
  TransferMachine,
  TransferState,
  type Lease,
  type Settings,
  type TransferDoc,
  type TransferJobDoc,
} from '../../views/schema';
import { leaseHeld } from '../lib/lease';
import { attemptsSinceResubmit, withAttempt } from '../lib/transition';

export type TimerKind = 'kill' | 'resubmit' | 'retry' | 'waiting' | 'active';

/**
 * Kill now unless a worker may be copying the file: submitted, or acquired for a job a worker
 * holds (an active job with a live lease): that worker, or its successor, kills it and removes
 * any copy it made.
 */
export function decideKill(
  doc: TransferDoc,
  now: Date,
  job?: { state: string; lease?: Lease | null },
): TransferDoc | null {
  if (!doc.kill_requested) return null;
  if (doc.state === TransferState.acquired && job && job.state === TransferJobState.active && leaseHeld(job.lease, now))
    return null;
  if (TransferMachine.inGroup('killable', doc.state)) {
    return TransferMachine.transition(doc, TransferState.killed, now, {
      finished_at: now.toISOString(),
      failure_reason: 'killed on request',
      transfer_job: null,
      next_attempt_at: null,
    });
  }
  return null;
}

/** The same document goes back to new: history kept, service state cleared. */
export function decideResubmit(doc: TransferDoc, now: Date): TransferDoc | null {
  if (!doc.retry_requested || !TransferMachine.inGroup('retryable', doc.state)) return null;
  return TransferMachine.transition(doc, TransferState.new, now, {
    retry_requested: undefined,
    kill_requested: undefined,
    failure_reason: null,
    transfer_job: null,
    next_attempt_at: null,
    started_at: null,
    finished_at: null,
    lease: null,
    publication_state: undefined,
    waiting_since: now.toISOString(),
  });
}

export function decideRetryDue(doc: TransferDoc, now: Date): TransferDoc | null {
  if (doc.state !== TransferState.retry || doc.kill_requested) return null;
  if (doc.next_attempt_at && Date.parse(doc.next_attempt_at) > now.getTime()) return null;
  return TransferMachine.transition(doc, TransferState.new, now, { transfer_job: null, next_attempt_at: null });
}

export function decideExpiry(doc: TransferDoc, settings: Settings, now: Date): TransferDoc | null {
  if (doc.state !== TransferState.new) return null;
  const since = Date.parse(doc.waiting_since || doc.created_at);
  if (now.getTime() - since <= settings.max_waiting_time * 1000) return null;
  return TransferMachine.transition(doc, TransferState.expired, now, {
    finished_at: now.toISOString(),
    failure_reason: `waited more than ${settings.max_waiting_time} s without starting`,
  });
}

/**
 * A file acquired or submitted for a job that is finished or gone (its worker crashed between
 * two writes) goes back to the queue; a submitted one counts the lost attempt.
 */
export function decideOrphan(
  doc: TransferDoc,
  job: TransferJobDoc | undefined,
  settings: Settings,
  now: Date,
): TransferDoc | null {
  if (!TransferMachine.inGroup('active', doc.state)) return null;
  if (job && job.state !== TransferJobState.done) return null;
  if (doc.kill_requested)
    return TransferMachine.transition(doc, TransferState.killed, now, {
      finished_at: now.toISOString(),
      failure_reason: 'killed on request',
      transfer_job: null,
    });
  if (doc.state === TransferState.acquired)
    return TransferMachine.transition(doc, TransferState.new, now, { transfer_job: null });
  const error = `transfer job ${doc.transfer_job} ended without a result for this file`;
  const attempts = withAttempt(doc, {
    at: now.toISOString(),
    error,
    error_class: 'transient',
    transfer_job: doc.transfer_job || null,
  });
  if (attemptsSinceResubmit(doc) + 1 >= settings.max_retry) {
    return TransferMachine.transition(doc, TransferState.failed, now, {
      attempts,
      failure_reason: error,
      finished_at: now.toISOString(),
    });
  }
  return TransferMachine.transition(doc, TransferState.retry, now, {
    attempts,
    failure_reason: error,
    next_attempt_at: now.toISOString(),
  });
}
