/**
 * Design documents clients rely on by name: the read-only marker (`_design/readonly`) and every
 * view the page, the CLI and the tools query. Separate because they describe the databases'
 * code, not any stored document's fields.
 */

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
