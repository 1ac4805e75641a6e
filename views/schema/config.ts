/**
 * Configuration documents in `config`: sites (endpoints, TFC rules, namespaces), links (limits,
 * copy mode) and the run-time settings with their defaults. Compiles into CouchDB's JS engine too.
 */

import type { CouchMeta } from './databases';

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
