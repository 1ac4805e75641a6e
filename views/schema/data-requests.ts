/**
 * Data requests in `transfers` (Belle II seed 000): replicate, upload, delete; their state machine
 * is DataRequestMachine in views/schema/machines.ts. Compiles into CouchDB's JS engine too.
 */

import type { DataRequestState } from './machines';
import type { CouchMeta, Lease } from './databases';

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
