/**
 * One table of requests x actors with the answers of Apache CouchDB 3.4.3 (measured), which the
 * embedded server must give too. Actors: anonymous, plain (signed in, not a member), member (in
 * `members.names`), dbadmin (in `admins.names`), admin (server admin). Tokens in paths and
 * bodies: {db} (members and admins by name), {pub} (security `{}`: public), {plain}, {member}
 * (user names), {actor} (the actor's name, so allowed writes do not collide), {rev:<id>}.
 *
 * Expected answers: `ok` 2xx; `pass` let through by authorisation (not 401/403; the route itself
 * may answer otherwise, e.g. `_config` is `/_node/_local/_config` on CouchDB 3); 401/403 that
 * status with `unauthorized`/`forbidden`; `den` refused: CouchDB 3.4.3 answers a member's
 * `PUT _security`, `POST _index` and `PUT _revs_limit` with a 500 wrapping its forbidden, the
 * embedded server 401/403; `hid` 403 or 404 (`_local/_security` is an ordinary local document on
 * CouchDB, the security object on the embedded server: never readable by a member); `inert` any
 * answer, but nothing changes (on CouchDB a member's write of `_local/_security` is a separate
 * local document); `bulkerr` 201 with an error for every document; `-` not sent (see the row).
 * Every answer other than ok/pass must leave the security objects, documents and users as they were.
 */
export const ACTORS = ['anonymous', 'plain', 'member', 'dbadmin', 'admin'] as const;
export type ActorName = (typeof ACTORS)[number];

export interface Case {
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
  readonly type?: string;
  readonly headers?: Record<string, string>;
  /** Five answers, one per actor, in ACTORS order. */
  readonly expect: string;
}

const adminOf = (member: string) => ({ members: { names: ['{member}'] }, admins: { names: [member] } });

export const CASES: readonly Case[] = [
  // server endpoints
  { method: 'GET', path: '/', expect: 'ok ok ok ok ok' },
  { method: 'GET', path: '/_session', expect: 'ok ok ok ok ok' },
  { method: 'GET', path: '/_uuids', expect: 'ok ok ok ok ok' },
  { method: 'GET', path: '/_all_dbs', expect: '401 401 401 401 ok' },
  { method: 'GET', path: '/_active_tasks', expect: '401 401 401 401 ok' },
  { method: 'GET', path: '/_config', expect: '401 401 401 401 pass' },
  { method: 'GET', path: '/_node/_local/_config', expect: '401 401 401 401 pass' },
  { method: 'GET', path: '/_membership', expect: '401 401 401 401 ok' },
  { method: 'GET', path: '/_dbs_info', expect: '401 401 401 401 pass' },
  // CouchDB runs a signed-in user's replication with that user's rights; the embedded server only a server admin's.
  { method: 'POST', path: '/_replicate', body: { source: '{db}', target: '{db}_nosuch' }, expect: '401 - - - pass' },
  { method: 'PUT', path: '/{db}_new', expect: '401 401 401 401 -' },
  { method: 'DELETE', path: '/{db}', expect: '401 401 401 401 -' },
  // reading a database
  { method: 'GET', path: '/{db}', expect: '401 403 ok ok ok' },
  { method: 'GET', path: '/{pub}', expect: 'ok ok ok ok ok' },
  { method: 'GET', path: '/{db}/doc1', expect: '401 403 ok ok ok' },
  { method: 'GET', path: '/{db}/doc1/att.txt', expect: '401 403 ok ok ok' },
  { method: 'GET', path: '/{db}/_all_docs', expect: '401 403 ok ok ok' },
  { method: 'POST', path: '/{db}/_all_docs', body: { keys: ['doc1'] }, expect: '401 403 ok ok ok' },
  { method: 'GET', path: '/{db}/_changes', expect: '401 403 ok ok ok' },
  { method: 'GET', path: '/{db}/_design/d', expect: '401 403 ok ok ok' },
  { method: 'GET', path: '/{db}/_design/d/_view/v', expect: '401 403 ok ok ok' },
  { method: 'GET', path: '/{db}/_security', expect: '401 403 ok ok ok' },
  { method: 'GET', path: '/{db}/_index', expect: '401 403 ok ok ok' },
  { method: 'POST', path: '/{db}/_find', body: { selector: { a: 1 } }, expect: '401 403 ok ok ok' },
  { method: 'POST', path: '/{db}/_explain', body: { selector: { a: 1 } }, expect: '401 403 pass pass pass' },
  { method: 'POST', path: '/{db}/_bulk_get', body: { docs: [{ id: 'doc1' }] }, expect: '401 403 ok ok ok' },
  { method: 'POST', path: '/{db}/_revs_diff', body: { doc1: ['1-0123'] }, expect: '401 403 ok ok ok' },
  { method: 'GET', path: '/{db}/_local/l1', expect: '401 403 ok ok ok' },
  { method: 'GET', path: '/{db}/_local/_security', expect: '401 403 hid - -' },
  { method: 'GET', path: '/{db}/_local%2F_security', expect: '401 403 hid - -' },
  { method: 'POST', path: '/{db}/_bulk_get', body: { docs: [{ id: '_local/_security' }] }, expect: '401 403 pass - -' },
  // the security object, however it is written
  {
    method: 'PUT',
    path: '/{db}/_local/_security',
    body: { security: adminOf('{member}') },
    expect: '401 403 inert - -',
  },
  {
    method: 'PUT',
    path: '/{db}/_local%2F_security',
    body: { security: adminOf('{member}') },
    expect: '401 403 inert - -',
  },
  {
    method: 'POST',
    path: '/{db}',
    body: { _id: '_local/_security', security: adminOf('{member}') },
    expect: '401 403 inert - -',
  },
  {
    method: 'POST',
    path: '/{db}/_bulk_docs',
    body: { docs: [{ _id: '_local/_security', security: adminOf('{member}') }] },
    expect: '401 403 inert - -',
  },
  { method: 'DELETE', path: '/{db}/_local/_security', expect: '401 403 inert - -' },
  { method: 'PUT', path: '/{db}/_security', body: adminOf('{member}'), expect: '401 403 den - -' },
  {
    method: 'PUT',
    path: '/{db}/_security',
    body: { members: { names: ['{member}'] }, admins: { names: ['{dbadmin}'] } },
    expect: '- - - ok ok',
  },
  { method: 'PUT', path: '/{pub}/_security', body: { members: { names: ['{plain}'] } }, expect: 'den den den den -' },
  // design documents, indexes and db-admin endpoints
  { method: 'PUT', path: '/{db}/_design/by_{actor}', body: { views: {} }, expect: '401 403 403 ok ok' },
  { method: 'PUT', path: '/{db}/_design%2Fenc_{actor}', body: { views: {} }, expect: '401 403 403 ok ok' },
  { method: 'POST', path: '/{db}', body: { _id: '_design/post_{actor}' }, expect: '401 403 403 ok ok' },
  {
    method: 'POST',
    path: '/{db}/_bulk_docs',
    body: { docs: [{ _id: '_design/bulk_{actor}' }] },
    expect: '401 403 bulkerr ok ok',
  },
  { method: 'PUT', path: '/{db}/_design/d?rev={rev:_design/d}', body: { views: {} }, expect: '401 403 403 - -' },
  { method: 'DELETE', path: '/{db}/_design/d?rev={rev:_design/d}', expect: '401 403 403 - -' },
  {
    method: 'PUT',
    path: '/{db}/_design/d/att.js?rev={rev:_design/d}',
    body: 'x',
    type: 'text/plain',
    expect: '401 403 403 - -',
  },
  { method: 'COPY', path: '/{db}/doc1', headers: { Destination: '_design/copy_{actor}' }, expect: '401 403 403 - -' },
  { method: 'PUT', path: '/{pub}/_design/pub_{actor}', body: { views: {} }, expect: '401 403 403 403 ok' },
  {
    method: 'POST',
    path: '/{db}/_index',
    body: { index: { fields: ['a'] }, ddoc: 'idx_{actor}' },
    expect: '401 403 den ok ok',
  },
  {
    method: 'POST',
    path: '/{pub}/_index',
    body: { index: { fields: ['a'] }, ddoc: 'idx_{actor}' },
    expect: 'den den den den ok',
  },
  // CouchDB 3.4.3 answers a member's index deletion {"ok":true} and deletes nothing.
  { method: 'DELETE', path: '/{db}/_index/idx0/json/idx0', expect: '401 403 inert - -' },
  { method: 'POST', path: '/{db}/_compact', body: {}, expect: '401 403 401 pass pass' },
  { method: 'POST', path: '/{db}/_view_cleanup', body: {}, expect: '401 403 401 pass pass' },
  { method: 'POST', path: '/{db}/_purge', body: { nosuch: ['1-0123'] }, expect: '401 401 401 401 pass' },
  { method: 'PUT', path: '/{db}/_revs_limit', body: 1000, expect: '401 403 den pass pass' },
  // member writes
  { method: 'PUT', path: '/{db}/doc_{actor}', body: { a: 1 }, expect: '401 403 ok ok ok' },
  { method: 'POST', path: '/{db}/_bulk_docs', body: { docs: [{ _id: 'bulk_{actor}' }] }, expect: '401 403 ok ok ok' },
  { method: 'PUT', path: '/{pub}/doc_{actor}', body: { a: 1 }, expect: 'ok ok ok ok ok' },
  // _users: members and admins `_admin` only on CouchDB 3.4, its security object not editable
  { method: 'GET', path: '/_users/org.couchdb.user:{plain}', expect: '401 403 403 403 ok' },
  { method: 'GET', path: '/_users/org.couchdb.user:{member}', expect: '401 403 403 403 ok' },
  {
    method: 'PUT',
    path: '/_users/org.couchdb.user:{plain}?rev={rev:_users/org.couchdb.user:{plain}}',
    body: { name: '{plain}', type: 'user', roles: ['_admin'], password: 'x' },
    expect: '401 403 403 403 -',
  },
  {
    method: 'PUT',
    path: '/_users/org.couchdb.user:new_{actor}',
    body: { name: 'new_{actor}', type: 'user', roles: [], password: 'x' },
    expect: '401 403 403 403 -',
  },
  { method: 'GET', path: '/_users/_all_docs', expect: '401 401 401 401 ok' },
  { method: 'GET', path: '/_users/_changes', expect: '401 401 401 401 ok' },
  { method: 'POST', path: '/_users/_find', body: { selector: {} }, expect: '401 403 403 403 ok' },
  {
    method: 'POST',
    path: '/_users/_bulk_get',
    body: { docs: [{ id: 'org.couchdb.user:{plain}' }] },
    expect: '401 403 403 403 ok',
  },
  { method: 'GET', path: '/_users/_design/_auth', expect: '401 403 403 403 ok' },
  { method: 'POST', path: '/_users/_index', body: { index: { fields: ['name'] } }, expect: '401 403 403 403 -' },
  {
    method: 'PUT',
    path: '/_users/_security',
    body: { members: { names: ['{plain}'] } },
    expect: '401 403 403 403 403',
  },
];
