/**
 * Catalogue documents in `catalog` (DBS + DLS, seed 004; AliEn namespace, seed 001): datasets,
 * blocks, files, replicas and per-user quotas, with their deterministic ids.
 *
 * Every catalogue id is deterministic, so a crashed or replayed publisher can never create a
 * duplicate: writing the same id twice is a 409 that the agent treats as "already there".
 * PFNs are never stored: they come from the sites' TFC rules (views/lib/tfc.ts) at query time.
 */

import type { CouchMeta } from './databases';

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
