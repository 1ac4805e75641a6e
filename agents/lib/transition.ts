/**
 * The one way agents change a transfer's state (STYLE 7): checks the transitions table of the
 * schema (validate_doc_update enforces the same table on the server) and stamps `last_update`.
 */
import { CONTROL_CHARS_RE, Limits, canTransition, type Attempt, type TransferDoc, type TransferState } from '../../views/schema';

export type Mutable<T> = { -readonly [K in keyof T]: T[K] };
export type ServiceUpdate = Partial<Mutable<Omit<TransferDoc, '_id' | '_rev' | 'type' | 'state'>>>;

export class TransitionError extends Error {}

export function transition(doc: TransferDoc, to: TransferState, now: Date, fields: ServiceUpdate = {}): TransferDoc {
  if (!canTransition(doc.state, to)) throw new TransitionError(`transfer ${doc._id}: ${doc.state} -> ${to} is not allowed`);
  const next: Record<string, unknown> = { ...doc, ...fields, state: to, last_update: now.toISOString() };
  for (const k of Object.keys(next)) if (next[k] === undefined) delete next[k];
  return next as unknown as TransferDoc;
}

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
  const flat = message.replace(new RegExp(CONTROL_CHARS_RE.source, 'g'), ' ').replace(/\s+/g, ' ').trim() || 'unknown error';
  return flat.length > Limits.reasonMaxLength ? flat.slice(0, Limits.reasonMaxLength - 3) + '...' : flat;
}
