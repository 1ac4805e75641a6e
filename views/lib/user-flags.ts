/**
 * Which user flag (`kill_requested` or `retry_requested`: a user asking to kill or retry a
 * transfer) makes sense for a transfer, shared by the CLI (scripts/cli/commands/user-flags.ts) and the
 * monitoring page. Only a courtesy pre-check: the server's validate_doc_update decides, and both
 * show its refusals as they come.
 */
import { TransferMachine, type TransferDoc } from '../schema';

export type UserFlag = 'kill' | 'retry';

/** The field each flag sets to true. */
export const USER_FLAG_FIELD: Readonly<Record<UserFlag, 'kill_requested' | 'retry_requested'>> = {
  kill: 'kill_requested',
  retry: 'retry_requested',
};

/** null when the flag applies, else why not (shown to the user). */
export function flagIneligible(
  kind: UserFlag,
  doc: Pick<TransferDoc, 'state' | 'kill_requested' | 'retry_requested'>,
): string | null {
  if (kind === 'kill') {
    if (TransferMachine.isTerminal(doc.state)) return `already ${doc.state}`;
    if (doc.kill_requested) return 'kill already requested';
  } else {
    if (!TransferMachine.inGroup('retryable', doc.state))
      return `is ${doc.state}; only ${TransferMachine.groups.retryable.join(', ')} transfers can be retried`;
    if (doc.retry_requested) return 'retry already requested';
  }
  return null;
}
