/**
 * Helpers for the agents' transfer updates. State changes of every machine go through the
 * machines' `transition` (views/schema/machines.ts), which checks the same table that
 * validate_doc_update enforces on the server and stamps `last_update`.
 */
import { CONTROL_CHARS_RE, Limits, type Attempt, type Mutable, type TransferDoc } from '../../views/schema';

export { TransitionError, type Mutable } from '../../views/schema';
export type ServiceUpdate = Partial<Mutable<Omit<TransferDoc, '_id' | '_rev' | 'type' | 'state'>>>;

/** Attempts made since the transfer last entered `new` by a resubmission. */
export function attemptsSinceResubmit(doc: TransferDoc): number {
  const since = doc.waiting_since ? Date.parse(doc.waiting_since) : -Infinity;
  return (doc.attempts || []).filter((a) => Date.parse(a.at) >= since).length;
}

export function withAttempt(doc: TransferDoc, attempt: Attempt): readonly Attempt[] {
  return [...(doc.attempts || []), attempt];
}

/** Capped exponential cooloff: cooloff, 2x, 4x ... up to max_cooloff (seconds). */
export function cooloffSeconds(attemptNumber: number, cooloff: number, maxCooloff: number): number {
  return Math.min(maxCooloff, cooloff * 2 ** Math.max(0, attemptNumber - 1));
}

/**
 * An error message fit for a document: storage tools answer with multi-line, sometimes huge
 * messages; validate_doc_update refuses control characters and more than reasonMaxLength.
 */
export function cleanReason(message: string): string {
  const flat =
    message.replace(new RegExp(CONTROL_CHARS_RE.source, 'g'), ' ').replace(/\s+/g, ' ').trim() || 'unknown error';
  return flat.length > Limits.reasonMaxLength ? flat.slice(0, Limits.reasonMaxLength - 3) + '...' : flat;
}
