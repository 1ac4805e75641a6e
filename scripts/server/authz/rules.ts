/**
 * What a request needs, by method and path, under CouchDB 3.4's rules (measured on CouchDB 3.4.3):
 * a database's readers are its `_security.members` (names or roles; none at all = everyone), its
 * admins `_security.admins` or a server admin. A reader check fails with 401 `unauthorized` for
 * an anonymous request and 403 `forbidden` for a signed-in user; a db-admin check with 403
 * (design documents, `_security`, `_index`, `_revs_limit`) or 401 (`_compact`, `_view_cleanup`);
 * server-admin endpoints (`_all_dbs`, as `[chttpd] admin_only_all_dbs = true`, `_config`,
 * `_active_tasks`, `_purge`, creating or deleting a database...) answer 401 to everyone else.
 * `_users` (and `_replicator`) are CouchDB 3.4's defaults: members and admins `_admin` only,
 * their security object not editable, listings (`_all_docs`, `_changes`) checked as server admin.
 */

/** What a request needs. */
export type Need =
  | { kind: 'public' }
  | { kind: 'server-admin' }
  /** A refusal whatever the user (CouchDB answers it so). */
  | { kind: 'refuse'; status: number; error: string; reason: string }
  | { kind: 'db'; db: string; level: 'reader' | 'admin'; adminStatus: 401 | 403 };

export const SYSTEM_DBS = new Set(['_users', '_replicator']);

/** Server endpoints anyone may call; every other `/_...` is for server admins. */
const PUBLIC_SERVER = new Set(['', '_session', '_uuids', '_up', '_utils', 'favicon.ico']);

const READ = new Set(['GET', 'HEAD', 'OPTIONS']);
const LOCAL_SECURITY = '_local/_security';

/** Path segments as express-pouchdb's routes see them (each decoded once), or null if malformed. */
export function segments(rawUrl: string): string[] | null {
  let p = rawUrl;
  if (/^[a-z]+:\/\//i.test(p)) p = p.replace(/^[a-z]+:\/\/[^/]*/i, '');
  const q = p.indexOf('?');
  if (q >= 0) p = p.slice(0, q);
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '') continue;
    if (part === '.' || part === '..') return null;
    try {
      out.push(decodeURIComponent(part));
    } catch {
      return null;
    }
  }
  return out;
}

const admin = (db: string, adminStatus: 401 | 403 = 403): Need => ({ kind: 'db', db, level: 'admin', adminStatus });
const reader = (db: string): Need => ({ kind: 'db', db, level: 'reader', adminStatus: 403 });

/** A document id that only database admins may write (and, on this server, read as a document). */
export function isProtectedId(id: unknown): boolean {
  return typeof id === 'string' && (id.startsWith('_design/') || id === LOCAL_SECURITY);
}

/** The document id a COPY writes to (its Destination header, up to `?rev=`). */
function destinationId(header: string | undefined): string {
  if (!header) return '';
  try {
    return decodeURIComponent(header.split('?')[0]);
  } catch {
    return header;
  }
}

export function classify(method: string, rawUrl: string, destination?: string): Need {
  const seg = segments(rawUrl);
  if (!seg) return { kind: 'refuse', status: 400, error: 'bad_request', reason: 'malformed path' };
  const first = seg[0] ?? '';
  if (!first.startsWith('_') || SYSTEM_DBS.has(first)) {
    if (first === '') return { kind: 'public' };
    return classifyDb(method, first, seg.slice(1), destination);
  }
  return PUBLIC_SERVER.has(first) ? { kind: 'public' } : { kind: 'server-admin' };
}

function classifyDb(method: string, db: string, rest: string[], destination?: string): Need {
  const read = READ.has(method);
  const system = SYSTEM_DBS.has(db);
  if (rest.length === 0) return read ? reader(db) : method === 'POST' ? reader(db) : { kind: 'server-admin' };
  const [a, b] = rest;
  switch (a) {
    case '_security':
      if (read) return reader(db);
      if (system)
        return {
          kind: 'refuse',
          status: 403,
          error: 'forbidden',
          reason: "You can't edit the security object of the user database.",
        };
      return admin(db);
    case '_all_docs':
    case '_changes':
      return system ? { kind: 'server-admin' } : reader(db);
    case '_index':
      return read ? reader(db) : admin(db);
    case '_purge':
      return { kind: 'server-admin' };
    case '_compact':
    case '_view_cleanup':
      return admin(db, 401);
    case '_revs_limit':
    case '_purged_infos_limit':
      return read ? reader(db) : admin(db);
    case '_temp_view':
      return { kind: 'refuse', status: 410, error: 'gone', reason: 'Temporary views are not supported in CouchDB' };
    case '_design': {
      if (b === undefined) return reader(db);
      const sub = rest[2];
      // `_rewrite` re-routes the request inside express-pouchdb, past this check: not served.
      if (sub === '_rewrite') return { kind: 'refuse', status: 404, error: 'not_found', reason: 'missing' };
      if (read || (sub && /^_(view|show|list|update|info|search|nouveau)$/.test(sub))) {
        return method === 'COPY' ? copyNeed(db, destination) : reader(db);
      }
      return admin(db);
    }
    case '_local': {
      const id = b === undefined ? '' : '_local/' + b;
      if (id === LOCAL_SECURITY) return admin(db);
      return method === 'COPY' ? copyNeed(db, destination) : reader(db);
    }
    default:
      if (isProtectedId(a)) return read && method !== 'COPY' && a.startsWith('_design/') ? reader(db) : admin(db);
      return method === 'COPY' ? copyNeed(db, destination) : reader(db);
  }
}

function copyNeed(db: string, destination?: string): Need {
  return isProtectedId(destinationId(destination)) ? admin(db) : reader(db);
}
