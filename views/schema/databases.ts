/**
 * What every document shares, whatever its topic: the databases (`DbRole`, `dbNames`), the
 * `type` field of each document and which database holds it (`DocType`, `TypesByDb`), the roles
 * that write them (`Role`, `GROUP_ROLE_PREFIX`), CouchDB's own fields (`CouchMeta`,
 * `COUCH_FIELDS`) and the agents' claim on a document (`Lease`). Separate because every other
 * schema file builds on it and it imports none of them. Compiles into CouchDB's JS engine too.
 */

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
  /**
   * A site's edge (`couchstage edge`) forwarding its users' submissions: it writes transfers in its
   * users' names, only from the sites its `couchstage-edge-site-<site>` roles name, and only what
   * the user could have written (views/transfers/edge.ts). Member of `transfers` only.
   */
  edge: 'couchstage-edge',
  admin: '_admin',
} as const;
/** `couchstage-edge-site-<site>`: the edge account may forward transfers whose source is <site>. */
export const EDGE_SITE_ROLE_PREFIX = 'couchstage-edge-site-';
/** `couchstage-group-<group>`: a member of the group may write its area and publish its datasets. */
export const GROUP_ROLE_PREFIX = 'couchstage-group-';
export type Role = (typeof Role)[keyof typeof Role];

/** CouchDB's own fields, on every document. */
export interface CouchMeta {
  readonly _id: string;
  readonly _rev?: string;
  readonly _deleted?: boolean;
}
export const COUCH_FIELDS = ['_id', '_rev', '_deleted', '_revisions', '_conflicts'] as const;

/** A claim on a document by one agent instance, valid until `expires_at`. */
export interface Lease {
  readonly owner: string;
  readonly expires_at: string;
}
