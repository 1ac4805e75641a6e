/**
 * Transfer documents (what a batch job writes, what the agents and the user flags add) and the
 * transfer jobs the scheduler batches them into, both in `transfers`. The transfer state machine
 * (views/schema/machines.ts; the job writes `new`; only agents move it on):
 *
 *                    kill_requested (user) -> killed, from any non-terminal state
 *        +---------------------------------------------------------------+
 *        |                                                               v
 *   [new] --schedule--> [acquired] --submit--> [submitted] --copy ok--> (done) --publish-->
 *    |  ^                   |  (a copy that ends within mark_submitted_after s goes from
 *    |  |                   |   acquired straight to done / retry / failed)
 *    |  ^                   |                     |     |
 *    |  |<--lease lost------+                     |     +--fatal error / max_retry--> (failed)
 *    |  |                                         |
 *    |  +-------cooloff over------ [retry] <------+ transient error
 *    |                                |
 *    +--max_waiting_time--> (expired) <+   (no TFC rule for a site -> failed at once)
 *
 *   (failed) (killed) (expired) --retry_requested (user)--> [new]   same _id, history kept
 *
 * Conflict revisions (a CouchDB cluster accepting two writes of one revision) are resolved by the
 * retrier by the rule in agents/lib/conflicts.ts: furthest along the lifecycle wins, user flags
 * are carried over; its writes carry `resolved_conflict`.
 *
 * Publication (only for `publish: true`, only once `done`): see PublicationMachine.
 * Everything here compiles into CouchDB's JS engine too (esbuild inlines what a design function imports).
 */

import type { PublicationState, TransferJobState, TransferState } from './machines';
import type { CouchMeta, Lease } from './databases';

export type FileType = 'output' | 'log';
export const FILE_TYPES: readonly FileType[] = ['output', 'log'];

/** One entry of a transfer's history, appended by the agents on every attempt. */
export interface Attempt {
  /** When the attempt ended (ISO 8601). */
  readonly at: string;
  /** Why it failed, or null for success. */
  readonly error: string | null;
  /** `fatal` errors fail the file at once; `transient` ones are retried. */
  readonly error_class?: 'fatal' | 'transient' | null;
  /** The transfer-job document that carried this attempt. */
  readonly transfer_job: string | null;
}

/** The submission fields: what a batch job writes, the v1 job-facing contract. */
export interface TransferSubmissionFields {
  readonly type: 'transfer';
  /** CouchDB user name of the owner; must equal the writer's name. */
  readonly user: string;
  /**
   * The group whose area (`/store/group/<group>/`) and datasets this transfer writes; the writer
   * holds `couchstage-group-<group>`.
   */
  readonly group?: string;
  readonly role?: string;
  /** Task name the file belongs to. */
  readonly workflow: string;
  readonly jobid: string | number;
  readonly job_retry_count: number;
  readonly file_type: FileType;
  /** Site names (see SiteDoc.name). */
  readonly source: string;
  readonly destination: string;
  readonly source_lfn: string;
  readonly destination_lfn: string;
  /** Bytes. */
  readonly size: number;
  readonly checksums: { readonly adler32: string };
  readonly publish: boolean;
  /** Output dataset `/primary/processed/TIER`; required when publish is true. */
  readonly dataset?: string;
  readonly inputdataset?: string;
  /** Parent LFNs of this output (its input files), recorded as the catalogue file's parents. */
  readonly parents?: readonly string[];
  /** 1 (lowest) to 5 (highest); 3 when absent. */
  readonly priority?: number;
  readonly created_at: string;
}

/** Fields only agents (and operators) write. */
export interface TransferServiceFields {
  readonly state: TransferState;
  readonly attempts?: readonly Attempt[];
  readonly failure_reason?: string | null;
  readonly started_at?: string | null;
  readonly finished_at?: string | null;
  readonly last_update?: string | null;
  readonly publication_state?: PublicationState;
  readonly lease?: Lease | null;
  /** Transfer-job document currently carrying the file. */
  readonly transfer_job?: string | null;
  /** Earliest time the next attempt may start (cooloff). */
  readonly next_attempt_at?: string | null;
  /** When the transfer last entered `new` by a resubmission; expiry counts from here (else created_at). */
  readonly waiting_since?: string | null;
  /** Catalogue block the file was published into. */
  readonly block?: string | null;
  readonly publication_attempts?: number;
  /**
   * Set by the conflict resolution (agents/lib/conflicts.ts): the revision whose content won the
   * last conflict this document had. On a tombstone of a losing revision: the revision that survived.
   */
  readonly resolved_conflict?: string;
}

/** The user flags: the two things a user may ask of the service on their own transfers (kill, retry). */
export interface TransferUserFlags {
  readonly kill_requested?: boolean;
  readonly retry_requested?: boolean;
}

export type TransferDoc = CouchMeta & TransferSubmissionFields & TransferServiceFields & TransferUserFlags;

/** Field names by owner; validate_doc_update refuses any other field on a transfer. */
export const TRANSFER_JOB_FIELDS = [
  'type',
  'user',
  'group',
  'role',
  'workflow',
  'jobid',
  'job_retry_count',
  'file_type',
  'source',
  'destination',
  'source_lfn',
  'destination_lfn',
  'size',
  'checksums',
  'publish',
  'dataset',
  'inputdataset',
  'priority',
  'created_at',
  'parents',
] as const;
export const TRANSFER_SERVICE_FIELDS = [
  'state',
  'attempts',
  'failure_reason',
  'started_at',
  'finished_at',
  'last_update',
  'publication_state',
  'lease',
  'transfer_job',
  'next_attempt_at',
  'waiting_since',
  'block',
  'publication_attempts',
  'resolved_conflict',
] as const;
export const TRANSFER_USER_FLAGS = ['kill_requested', 'retry_requested'] as const;

export const DEFAULT_PRIORITY = 3;

// ---------------------------------------------------------------------------------------------
// Transfer jobs in `transfers`: a batch of files on one link for one user, built by the
// scheduler and run by a worker
// ---------------------------------------------------------------------------------------------

/** Transfer-job ids start with this, so agents can pick them out of a feed read without documents. */
export const JOB_ID_PREFIX = 'tj-';

/** One file of a transfer job, with PFNs resolved by the scheduler from the sites' TFC rules. */
export interface TransferJobFile {
  readonly id: string;
  readonly source_pfn: string;
  readonly destination_pfn: string;
}

/**
 * A batch of at most `max_files_per_transfer` files of one user on one link, built by the
 * scheduler and run by one worker at a time (the lease). queued -> active -> done.
 */
export interface TransferJobDoc extends CouchMeta {
  readonly type: 'transfer_job';
  readonly user: string;
  readonly source: string;
  readonly destination: string;
  /** Storage protocol both PFNs use (root, file, ...). */
  readonly protocol: string;
  readonly mode: 'stream' | 'tpc';
  readonly files: readonly TransferJobFile[];
  readonly state: TransferJobState;
  readonly created_at: string;
  readonly lease?: Lease | null;
  /** How many times a worker claimed this job (takeovers after a lease expired add one). */
  readonly claims?: number;
  readonly finished_at?: string | null;
  readonly summary?: Readonly<Record<string, number>>;
}
