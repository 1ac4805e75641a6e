/**
 * couchstage's schema: document types, roles, `_local` ids and limits (the state machines are in
 * ./machines.ts; everything is imported through ./index.ts). Views, validate_doc_update, agents,
 * the CLI and the page all import from here; nothing else declares a field or state name.
 * Everything in this file must compile into CouchDB's JS engine too (no Node APIs), because
 * esbuild inlines what a design function imports.
 *
 * The transfer state machine (the job writes `new`; only agents move it on):
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
 */

import type { PublicationState, DataRequestState, TransferJobState, TransferState } from './machines';

/**
 * Database roles (suffixes; the full names carry the env prefix, see `dbNames`). `service` holds
 * what only the agents write and trust (their feed checkpoints): its `_security` admits the agent
 * role alone (and operators, as its admins), because `_local` documents bypass
 * validate_doc_update and any member of a database may write them, on CouchDB too. cht-core keeps
 * its sentinel's metadata in a database of its own for the same reason.
 */
export const DbRole = { transfers: 'transfers', catalog: 'catalog', config: 'config', service: 'service' } as const;
export type DbRole = (typeof DbRole)[keyof typeof DbRole];

/** The real database names for a prefix (COUCHSTAGE_DB_PREFIX), e.g. `test_x_transfers`. */
export function dbNames(prefix = ''): Record<DbRole, string> {
  return {
    transfers: prefix + DbRole.transfers,
    catalog: prefix + DbRole.catalog,
    config: prefix + DbRole.config,
    service: prefix + DbRole.service,
  };
}

/** The `type` field of every document the service knows. */
export const DocType = {
  transfer: 'transfer',
  transferJob: 'transfer_job',
  heartbeat: 'heartbeat',
  lock: 'lock',
  /** A data request (replicate, upload or delete a dataset's files); stored as "request". */
  dataRequest: 'request',
  site: 'site',
  link: 'link',
  settings: 'settings',
  dataset: 'dataset',
  block: 'block',
  file: 'file',
  quota: 'quota',
  replica: 'replica',
  monitorStats: 'monitor_stats',
} as const;
export type DocType = (typeof DocType)[keyof typeof DocType];

/** Which document types live in which database. */
export const TypesByDb: Readonly<Record<DbRole, readonly DocType[]>> = {
  transfers: [
    DocType.transfer,
    DocType.transferJob,
    DocType.heartbeat,
    DocType.lock,
    DocType.dataRequest,
    DocType.monitorStats,
  ],
  catalog: [DocType.dataset, DocType.block, DocType.file, DocType.replica, DocType.quota],
  config: [DocType.site, DocType.link, DocType.settings],
  // Only `_local` checkpoints, which no validation function sees; the database's members guard it.
  service: [],
};

/** Roles a CouchDB user can hold (in `_users`), checked by validate_doc_update and `_security`. */
export const Role = {
  user: 'couchstage-user',
  agent: 'couchstage-agent',
  ops: 'couchstage-ops',
  admin: '_admin',
} as const;
/** `couchstage-group-<group>`: a member of the group may write its area and publish its datasets. */
export const GROUP_ROLE_PREFIX = 'couchstage-group-';
export type Role = (typeof Role)[keyof typeof Role];

// ---------------------------------------------------------------------------------------------
// Transfer documents
// ---------------------------------------------------------------------------------------------

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

/** A claim on a document by one agent instance, valid until `expires_at`. */
export interface Lease {
  readonly owner: string;
  readonly expires_at: string;
}

/** The submission fields: what a batch job writes, the v1 job-facing contract. */
export interface TransferSubmissionFields {
  readonly type: 'transfer';
  /** CouchDB user name of the owner; must equal the writer's name. */
  readonly user: string;
  /** The group whose area (`/store/group/<group>/`) and datasets this transfer writes; the writer holds `couchstage-group-<group>`. */
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

export interface CouchMeta {
  readonly _id: string;
  readonly _rev?: string;
  readonly _deleted?: boolean;
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
export const COUCH_FIELDS = ['_id', '_rev', '_deleted', '_revisions', '_conflicts'] as const;

export const DEFAULT_PRIORITY = 3;

// ---------------------------------------------------------------------------------------------
// Service documents in `transfers`
// ---------------------------------------------------------------------------------------------

/** A batch of files on one link for one user, built by the scheduler and run by a worker. */
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

/** A leader lease: one active instance of an agent at a time (the scheduler), others stand by. */
export interface LockDoc extends CouchMeta {
  readonly type: 'lock';
  readonly lease: Lease | null;
}

export interface HeartbeatDoc extends CouchMeta {
  readonly type: 'heartbeat';
  readonly agent: string;
  readonly instance: string;
  readonly at: string;
  /** Written in the last beat of an instance that stopped cleanly. */
  readonly stopped_at?: string;
  readonly [extra: string]: unknown;
}

// ---------------------------------------------------------------------------------------------
// Configuration documents in `config`
// ---------------------------------------------------------------------------------------------

/** One LFN -> PFN rule, CMS trivial-file-catalogue style. */
export interface TfcRule {
  readonly protocol: string;
  /** Regular expression matched against the whole LFN (or the chained rule's result). */
  readonly path_match: string;
  /** Replacement with `$1`..`$9` groups. */
  readonly result: string;
  /** Apply this protocol's rules first, then this rule to their result. */
  readonly chain?: string;
}

export interface SiteDoc extends CouchMeta {
  readonly type: 'site';
  readonly name: string;
  /** Storage endpoint per protocol, e.g. `{root: "root://127.0.0.1:1094", file: "file:///data"}`. */
  readonly endpoints: Readonly<Record<string, string>>;
  /** Ordered: the first matching rule of a protocol wins. */
  readonly tfc: readonly TfcRule[];
  /** Delete the source temp file after a verified copy (ASO's FilesCleaner). */
  readonly cleanup_source?: boolean;
  /** Where owners' files may be read from and written to at this site (views/lib/namespace.ts). */
  readonly namespaces?: SiteNamespaces;
}

/**
 * LFN prefixes with one `{user}` or `{group}` segment, e.g. `/store/user/{user}/`. A transfer's
 * source must lie in one of `source`, its destination in one of `destination`; a missing list is
 * the CMS default (DEFAULT_NAMESPACES in views/lib/namespace.ts).
 */
export interface SiteNamespaces {
  readonly source?: readonly string[];
  readonly destination?: readonly string[];
}

export interface LinkDoc extends CouchMeta {
  readonly type: 'link';
  readonly source: string;
  readonly destination: string;
  /** Files in `acquired`/`submitted` at once on this link. */
  readonly max_active: number;
  /** Copy mode: stream through the worker, or third-party copy between the SEs. */
  readonly mode?: 'stream' | 'tpc';
}

/** Run-time settings; agents follow this document on `_changes`. */
export interface Settings {
  /** ASO's default: 100 files per transfer job. */
  readonly max_files_per_transfer: number;
  /** ASO's default max_retry. */
  readonly max_retry: number;
  /** Seconds before the first retry; doubles per attempt up to `max_cooloff`. */
  readonly cooloff: number;
  readonly max_cooloff: number;
  /** Seconds a file may wait without starting before it expires (AliEn MaxWaitingTime). */
  readonly max_waiting_time: number;
  /** Seconds an agent's claim on a document lasts without renewal. */
  readonly lease_seconds: number;
  /**
   * A worker marks a job's files `submitted` only when its copy is still running after this many
   * seconds (0: always, before copying). Short copies go acquired -> done in one write.
   */
  readonly mark_submitted_after: number;
  /** Default per-link limit when no link document exists. */
  readonly default_max_active: number;
  readonly max_files_per_block: number;
  readonly block_closure_timeout: number;
  readonly publication_max_retry: number;
  /** Terminal transfers older than this move to the archive (ASO: 30 days). */
  readonly expiration_days: number;
}

export const DEFAULT_SETTINGS: Settings = {
  max_files_per_transfer: 100,
  max_retry: 3,
  cooloff: 60,
  max_cooloff: 3600,
  max_waiting_time: 7 * 24 * 3600,
  lease_seconds: 300,
  mark_submitted_after: 2,
  default_max_active: 200,
  max_files_per_block: 100,
  block_closure_timeout: 3600,
  publication_max_retry: 3,
  expiration_days: 30,
};

/**
 * `_local` checkpoint ids: one per agent (and instance group), in the `service` database. Older
 * deployments kept them under the same id in the feed's own database, where any member could
 * write them (agents/lib/checkpoint.ts ignores and removes those).
 */
export function checkpointId(agent: string): string {
  return '_local/' + agent;
}

// ---------------------------------------------------------------------------------------------
// Limits and formats (shared by validation, the CLI and the page)
// ---------------------------------------------------------------------------------------------

export const Limits = {
  /** Long enough for CMS LFNs (/store/user/<name>/<primary>/<processed>/<date>/<n>/file.root). */
  lfnMaxLength: 1024,
  nameMaxLength: 128,
  workflowMaxLength: 256,
  reasonMaxLength: 4096,
  /** Keeps a document far below CouchDB's 8 MB max_document_size even with 100s of attempts. */
  attemptsMax: 1000,
  priorityMin: 1,
  priorityMax: 5,
} as const;

/** Site names: CMS style `T2_CH_CERN`; safe in ids, URLs and view keys. */
export const SITE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const ADLER32_RE = /^[0-9a-fA-F]{8}$/;
/** A document revision `N-hash` (CouchDB and PouchDB write hex hashes; replicated ones may differ). */
export const REV_RE = /^[1-9][0-9]{0,9}-[0-9A-Za-z]{1,128}$/;
export const ISO_DATE_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
/** `/primary/processed/TIER`, e.g. `/GenericTTbar/alice-crab_test-v1/USER`. */
export const DATASET_RE = /^\/[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Z][A-Z0-9-]*$/;
// eslint-disable-next-line no-control-regex
export const CONTROL_CHARS_RE = /[\u0000-\u001f\u007f-\u009f]/;

// ---------------------------------------------------------------------------------------------
// Catalogue documents in `catalog` (DBS + DLS, seed 004; AliEn namespace, seed 001)
// ---------------------------------------------------------------------------------------------
//
// Every catalogue id is deterministic, so a crashed or replayed publisher can never create a
// duplicate: writing the same id twice is a 409 that the agent treats as "already there".
// PFNs are never stored: they come from the sites' TFC rules (views/lib/tfc.ts) at query time.

/** DBS dataset access types. */
export const AccessType = {
  valid: 'VALID',
  invalid: 'INVALID',
  production: 'PRODUCTION',
  deprecated: 'DEPRECATED',
  deleted: 'DELETED',
} as const;
export type AccessType = (typeof AccessType)[keyof typeof AccessType];
export const ACCESS_TYPES: readonly AccessType[] = Object.values(AccessType);

/** `/primary/processed/TIER`, one document per dataset. */
export interface DatasetDoc extends CouchMeta {
  readonly type: 'dataset';
  /** `/primary/processed/TIER` (DATASET_RE). */
  readonly name: string;
  /** The TIER part of the name (USER, AOD, RAW, ...). */
  readonly data_tier: string;
  readonly access_type: AccessType;
  /** CouchDB user name of the owner. */
  readonly owner: string;
  readonly created_at: string;
  readonly last_update?: string;
  /** Parent dataset names (input datasets). */
  readonly parents?: readonly string[];
  /** Free processing metadata: workflow, software release, global tag ... */
  readonly processing?: Readonly<Record<string, string | number | boolean>>;
}

/** A group of files of one dataset moved and located together; a closed block never changes. */
export interface BlockDoc extends CouchMeta {
  readonly type: 'block';
  /** `<dataset>#<uuid>`. */
  readonly name: string;
  readonly dataset: string;
  readonly owner: string;
  readonly open: boolean;
  /** Site where the block was produced / first published. */
  readonly origin_site: string;
  readonly file_count: number;
  /** Bytes. */
  readonly total_size: number;
  readonly created_at: string;
  readonly closed_at?: string | null;
  readonly last_update?: string;
  /** Why the publisher closed it: full, timeout or workflow (no pending transfers left). */
  readonly closed_by?: 'full' | 'timeout' | 'workflow' | 'ops';
}

/** One logical file. */
export interface CatalogFileDoc extends CouchMeta {
  readonly type: 'file';
  readonly lfn: string;
  /** Deterministic UUID derived from the LFN (catalogGuid), so GUID lookups survive replays. */
  readonly guid: string;
  readonly size: number;
  readonly adler32: string;
  readonly events?: number | null;
  /** False once invalidated or once no replica remains. */
  readonly valid: boolean;
  readonly block: string;
  readonly dataset: string;
  readonly owner: string;
  /** Parent LFNs. */
  readonly parents?: readonly string[];
  readonly created_at: string;
  readonly last_update?: string;
}

/** DLS: one document per (file, site) copy; block locations are derived from these by a view. */
export interface ReplicaDoc extends CouchMeta {
  readonly type: 'replica';
  readonly lfn: string;
  readonly site: string;
  readonly block: string;
  readonly dataset: string;
  readonly size: number;
  readonly created_at: string;
  /** Owner of the file (the block's owner): usage per user is summed from replicas. */
  readonly owner?: string;
}

/** Per-user storage quota; usage is computed from the catalogue and pending transfers. */
export interface QuotaDoc extends CouchMeta {
  readonly type: 'quota';
  readonly user: string;
  readonly max_bytes: number;
  readonly max_files: number;
}

/** Deterministic catalogue ids. Ids stay short and URL-safe: LFNs go through SHA-224. */
export const CatalogId = {
  dataset: (name: string) => 'dataset:' + name,
  /** `block:<dataset>#<uuid>`. */
  block: (blockName: string) => 'block:' + blockName,
  file: (lfnSha224: string) => 'file:' + lfnSha224,
  replica: (lfnSha224: string, site: string) => 'replica:' + lfnSha224 + ':' + site,
  quota: (user: string) => 'quota:' + user,
} as const;

/** A UUID-shaped string from the first 32 hex digits of a SHA-224 (deterministic GUIDs, block uuids). */
export function uuidFromHex(hex: string): string {
  const h = hex.slice(0, 32);
  return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20, 32);
}

/** At most this many parent LFNs per file (keeps documents and the children view small). */
export const MAX_PARENTS = 1000;

// ---------------------------------------------------------------------------------------------
// Data requests in `transfers` (Belle II seed 000): replicate, upload, delete
// ---------------------------------------------------------------------------------------------
//
// "Request" here means a data request only: a document of type `request`. A user asking to kill
// or retry a transfer sets a user flag (TransferUserFlags); what a job writes are the submission
// fields (TransferSubmissionFields). The `Request*` / `REQUEST_*` names below are the data
// request's.
//
// A user writes one data request document; agents execute it and move its state:
//
//   [new] --claimed--> [running] --every file settled--> (done) | (partially_failed) | (failed)
//     |                                                      ^
//     +--one-pass upload, or nothing to do-------------------+   (running -> running: leases, progress)
//
// replicate: the `requests` agent creates one transfer per (file, destination site) with a
//   deterministic id (dataRequestTransferId), the scheduler and workers copy them under the link
//   limits, and each copy that ends done is recorded as a ReplicaDoc.
// upload: the CLI copies local files to the site (worker backends, adler32 checked), then writes
//   the request; the `requests` agent verifies each file at the site (stat + adler32) and
//   registers dataset, block (closed), files and replicas.
// delete: the `deleter` agent removes each (file, site) copy from storage, deletes its ReplicaDoc,
//   marks files without replicas valid:false and a dataset without replicas DELETED.

export const DataRequestKind = { replicate: 'replicate', upload: 'upload', delete: 'delete' } as const;
export type DataRequestKind = (typeof DataRequestKind)[keyof typeof DataRequestKind];
export const DATA_REQUEST_KINDS: readonly DataRequestKind[] = Object.values(DataRequestKind);

/** Request ids start with this (agents pick requests out of an id-only feed); the CLI uses requestId. */
export const DATA_REQUEST_ID_PREFIX = 'rq-';
/** Transfers created for a replicate request: `rt-<sha224(request id, lfn, site)>`. */
export const DATA_REQUEST_TRANSFER_PREFIX = 'rt-';
/** The `workflow` of a request's transfers names the request: `request:<request id>`. */
export const DATA_REQUEST_WORKFLOW_PREFIX = 'request:';

/** One local file an upload copied to the site (what the agent verifies and registers). */
export interface UploadFile {
  readonly lfn: string;
  readonly size: number;
  readonly adler32: string;
}

/** One (file, site) the deleter works on. */
export interface DataRequestTarget {
  readonly lfn: string;
  readonly site: string;
}

export interface DataRequestError {
  readonly lfn?: string;
  readonly site?: string;
  readonly error: string;
}

export interface DataRequestProgress {
  /** Units of work: (file, site) pairs for replicate and delete, files for upload. */
  readonly total: number;
  readonly done: number;
  readonly failed: number;
  /** Replicate: (file, site) pairs that already had a replica (part of done, no copy made). */
  readonly already?: number;
  /** Replicate: pairs with no file or no replica to copy from (part of failed). */
  readonly unplaced?: number;
}

/** What the user writes. Exactly one of `dataset` / `lfns` (upload: `dataset` and `files`). */
export interface DataRequestUserFields {
  readonly type: 'request';
  readonly kind: DataRequestKind;
  /** CouchDB user name of the owner; must equal the writer's name. */
  readonly user: string;
  /** Destinations (replicate), the one target site (upload), sites to delete from (delete). */
  readonly sites: readonly string[];
  readonly dataset?: string;
  readonly lfns?: readonly string[];
  /** Replicate only: copy from this site (else from any site holding a replica). */
  readonly source?: string;
  /** Upload only: the files copied to the site. */
  readonly files?: readonly UploadFile[];
  readonly created_at: string;
}

/** What the agents write. */
export interface DataRequestServiceFields {
  readonly state: DataRequestState;
  readonly progress?: DataRequestProgress;
  /** At most DataRequestLimits.errorsMax entries; counters stay exact beyond that. */
  readonly errors?: readonly DataRequestError[];
  readonly lease?: Lease | null;
  /** Passes that ended with transient failures; the request fails its remaining work after max_retry. */
  readonly retries?: number;
  readonly next_attempt_at?: string | null;
  /** Delete: the (file, site) pairs resolved when the request was claimed (fixed from then on). */
  readonly targets?: readonly DataRequestTarget[];
  readonly started_at?: string | null;
  readonly finished_at?: string | null;
  readonly last_update?: string | null;
}

export type DataRequestDoc = CouchMeta & DataRequestUserFields & DataRequestServiceFields;

export const DATA_REQUEST_USER_FIELDS = [
  'type',
  'kind',
  'user',
  'sites',
  'dataset',
  'lfns',
  'source',
  'files',
  'created_at',
] as const;
export const DATA_REQUEST_SERVICE_FIELDS = [
  'state',
  'progress',
  'errors',
  'lease',
  'retries',
  'next_attempt_at',
  'targets',
  'started_at',
  'finished_at',
  'last_update',
] as const;

export const DataRequestLimits = {
  /** Sites per request: a handful of destinations is the use case (seed 000: "ses"). */
  sitesMax: 50,
  /** LFNs or upload files listed in one request: keeps the document around 1-2 MB at most. */
  filesMax: 10000,
  /** Error entries kept in the document. */
  errorsMax: 1000,
} as const;

// ---------------------------------------------------------------------------------------------
// Monitoring roll-up: written by the `stats` agent, read by the monitoring page
// ---------------------------------------------------------------------------------------------

/**
 * Where the stats agent keeps the roll-up: a normal document in `transfers`, so that
 * validate_doc_update sees every write of it and refuses all but agents and operators (a `_local`
 * document is written by any member unchecked, and the page showed a forged one as fact). The
 * page's users read it where they read everything else. Its cost: one revision in the feed at most
 * every 2 s while things change and every 30 s when idle, as the heartbeats already do; views skip
 * it (not a transfer).
 */
export const MONITOR_STATS_ID = 'monitor-stats';

/** [files, bytes] */
export type FilesBytes = readonly [number, number];

/** One link's counts in the roll-up. `active` = acquired + submitted; `hour_bytes`: done in the last hour. */
export interface LinkStats {
  readonly source: string;
  readonly destination: string;
  readonly active: number;
  readonly done: number;
  readonly failed: number;
  readonly files: number;
  readonly done_bytes: number;
  readonly hour_files: number;
  readonly hour_bytes: number;
}

/** [bucket label, done files, done bytes, failed files, failed bytes]; labels are UTC `YYYY-MM-DD[THH[:MM]]`. */
export type TimeRow = readonly [string, number, number, number, number];

/**
 * The roll-up the monitoring page's overview reads in one request instead of reducing 100k
 * rows: the same keys as the `overview`, `totals` and `by_user` views (views/lib/monitor.ts).
 */
export interface MonitorStatsDoc {
  readonly _id: typeof MONITOR_STATS_ID;
  readonly _rev?: string;
  readonly type: 'monitor_stats';
  readonly updated_at: string;
  /** The transfers feed sequence (as a number) the roll-up has seen. */
  readonly seq: number;
  readonly transfers: number;
  readonly states: Readonly<Record<string, FilesBytes>>;
  /** user -> state -> [files, bytes] */
  readonly users: Readonly<Record<string, Readonly<Record<string, FilesBytes>>>>;
  readonly links: readonly LinkStats[];
  readonly time: {
    readonly minute: readonly TimeRow[];
    readonly hour: readonly TimeRow[];
    readonly day: readonly TimeRow[];
  };
  /** Sorted by files, descending; `users`: user -> files. */
  readonly failures: ReadonlyArray<{
    readonly reason: string;
    readonly files: number;
    readonly bytes: number;
    readonly users: Readonly<Record<string, number>>;
  }>;
  /** publication state -> [files, bytes], and per user. */
  readonly publication: Readonly<Record<string, FilesBytes>>;
  readonly publication_users: Readonly<Record<string, Readonly<Record<string, FilesBytes>>>>;
}

// ---------------------------------------------------------------------------------------------
// Shared constants: heartbeats, the read-only marker, view names (one definition each)
// ---------------------------------------------------------------------------------------------

/** Every agent instance writes `heartbeat:<agent>:<instance>` this often. */
export const HEARTBEAT_MS = 30_000;
/** Missed beats after which an instance that did not say it stopped counts as gone. */
export const MISSED_BEATS = 3;
/** An instance silent this long (90 s) is dead, for the page's Agents table and for `doctor`. */
export const HEARTBEAT_STALE_MS = MISSED_BEATS * HEARTBEAT_MS;

/**
 * `_design/readonly`, written by migrate-db and archive: its validate_doc_update refuses every
 * write but a server admin's, and `couchstage_readonly` says why and where writes go now.
 */
export const READONLY_DDOC_ID = '_design/readonly';

export interface ReadonlyInfo {
  /** Why the database is read-only. */
  readonly reason: 'archive' | 'migrating' | 'moved';
  /** moved: the prefix of the databases that replace this one... */
  readonly moved_to_prefix?: string;
  /** ...and their server, without credentials (absent: the same server). */
  readonly moved_to_url?: string;
  readonly at: string;
}

export interface ReadonlyDesignDoc {
  readonly _id: typeof READONLY_DDOC_ID;
  readonly _rev?: string;
  readonly language?: 'javascript';
  readonly validate_doc_update?: string;
  readonly couchstage_readonly?: ReadonlyInfo;
}

/** A view by design document (without `_design/`) and name. */
export interface ViewRef {
  readonly ddoc: string;
  readonly name: string;
}

/** Every view the page, the CLI and the tools query (views/<db>/<ddoc>/<name>/). */
export const Views = {
  /** transfers: states, links, failure reasons, publication, workflows (views/lib/monitor.ts keys). */
  overview: { ddoc: 'monitor', name: 'overview' },
  /** transfers: [user, workflow, state]. */
  byUser: { ddoc: 'monitor', name: 'by_user' },
  /** transfers: [state]. */
  totals: { ddoc: 'monitor', name: 'totals' },
  /** catalog: a dataset's blocks and a block's files. */
  contents: { ddoc: 'query', name: 'contents' },
  /** catalog: GUIDs, LFNs and directories. */
  names: { ddoc: 'query', name: 'names' },
  /** catalog: replicas per block and per site. */
  replicas: { ddoc: 'query', name: 'replicas' },
  /** catalog: children of a dataset or a file. */
  children: { ddoc: 'query', name: 'children' },
} as const satisfies Record<string, ViewRef>;
