/**
 * Which user request (kill or retry) makes sense for a transfer, shared by the CLI
 * (scripts/commands/requests.ts) and the monitoring page. Only a courtesy pre-check: the
 * server's validate_doc_update decides, and both show its refusals as they come.
 */
import { RETRYABLE_STATES, isTerminal, type TransferDoc } from '../schema';

export type RequestKind = 'kill' | 'retry';

/** The field each request sets to true. */
export const REQUEST_FIELD: Readonly<Record<RequestKind, 'kill_requested' | 'retry_requested'>> = {
  kill: 'kill_requested',
  retry: 'retry_requested',
};

/** null when the request applies, else why not (shown to the user). */
export function requestIneligible(kind: RequestKind, doc: Pick<TransferDoc, 'state' | 'kill_requested' | 'retry_requested'>): string | null {
  if (kind === 'kill') {
    if (isTerminal(doc.state)) return `already ${doc.state}`;
    if (doc.kill_requested) return 'kill already requested';
  } else {
    if (RETRYABLE_STATES.indexOf(doc.state) < 0) return `is ${doc.state}; only failed, killed or expired transfers can be retried`;
    if (doc.retry_requested) return 'retry already requested';
  }
  return null;
}
