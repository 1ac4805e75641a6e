/**
 * The embedded server's one authorisation layer: every request is classified (rules.ts), its
 * user established once (identity.ts), and refused here, with CouchDB 3.4's status and error,
 * before express-pouchdb sees it. express-pouchdb's own checks ignored `_security` on `_find`,
 * `_bulk_get`, `_index` and `_explain` (they pass no user to PouchDB) and let members write
 * `_local/_security`, where pouchdb-security keeps the security object; here nothing reaches a
 * route it is not allowed, and writes whose document ids are in the body (`POST /db`,
 * `_bulk_docs`) are held to the same design-document and `_local/_security` rule in PouchDB
 * (patches/express-pouchdb-db-wrappers.ts).
 */
import type * as http from 'http';
import { classify, SYSTEM_DBS, type Need } from './rules';
import { Identities, type Session, type UserCtx } from './identity';
import { jwtSettings, TokenRefused } from './jwt';
import { configuredHandlers, proxyUser } from './proxy';
import { securityGeneration, writeCounter } from '../generations';
import { upstream } from '../patched-versions';
import { installDocumentRules } from '../patches/express-pouchdb-db-wrappers';

import { ADMIN_ONLY, isDbAdmin, isReader, isServerAdmin, rulesOf, type App, type Rules, type Sec } from './sections';

export type { App };

type Db = { getSecurity(): Promise<Sec> };
/** The PouchDB constructor express-pouchdb serves, as far as the authorisation layer uses it. */
type Pouch = {
  new (name: string): unknown;
  prototype: Record<string, unknown>;
  __dbCacheMap?: { get(n: string): unknown };
  allDbs(): Promise<string[]>;
};
type Refusal = [number, string, string];

function send(res: http.ServerResponse, status: number, error: string, reason: string): void {
  const body = JSON.stringify({ error, reason }) + '\n';
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

export interface Authorization {
  /** Answers a refused request itself; otherwise calls next with `req.couchSession` set. */
  handle(req: http.IncomingMessage, res: http.ServerResponse, next: () => void): void;
}

/** Establishing the user: sessions from the users database, forgotten when the auth configuration changes. */
function identities(app: App, PouchDB: Pouch): Identities {
  // express-pouchdb's own helper (not patched): its users database.
  const utils = upstream('express-pouchdb').load('lib/utils');
  const usersName = () => String(app.couchConfig.get('couch_httpd_auth', 'authentication_db') || '_users');
  const prefix = (PouchDB as unknown as { __defaults?: { prefix?: string } }).__defaults?.prefix ?? '';

  let usersDb: Promise<never> | null = null;
  const authDb = async () => {
    // pouchdb-auth is installed by express-pouchdb's daemons, which start asynchronously.
    while (typeof PouchDB.prototype.useAsAuthenticationDB !== 'function') await new Promise((r) => setImmediate(r));
    if (!usersDb) usersDb = utils.getUsersDB(app, PouchDB);
    return usersDb!;
  };
  // Never an "admin party": the server starts only with an admin, and if every admin is deleted
  // at run time nobody is one until an admin is configured again (as in patches/pouchdb-auth-session.ts).
  const anonymous = (): UserCtx => ({ name: null, roles: [] });
  const ids = new Identities(
    authDb,
    () => writeCounter(prefix + usersName()),
    anonymous,
    () => Number(app.couchConfig.get('couch_httpd_auth', 'timeout')) || 600,
  );
  const get = (section: string, key: string): unknown => app.couchConfig.get(section, key);
  ids.proxy = (headers) => proxyUser(headers, get);
  ids.handlers = () => configuredHandlers(get);
  const refresh = () => {
    usersDb = null;
    ids.invalidate();
  };
  for (const e of ['admins', 'couch_httpd_auth']) app.couchConfig.on(e, refresh);
  // Bearer tokens from `[jwt_keys]` and `[jwt_auth]`, read again when either changes.
  let jwt: ReturnType<typeof jwtSettings> | null = null;
  ids.useTokens(
    () => (jwt ??= jwtSettings(app.couchConfig.getSection('jwt_keys'), app.couchConfig.getSection('jwt_auth'))),
  );
  for (const e of ['jwt_keys', 'jwt_auth']) app.couchConfig.on(e, () => (jwt = null));
  return ids;
}

/**
 * Security objects as decision tables, per database, valid for one security generation; null:
 * no such database.
 */
function securityRules(app: App, PouchDB: Pouch): (db: string) => Promise<Rules | null> {
  // express-pouchdb's own helper (not patched): its database handles.
  const { getOrCreateDB } = upstream('express-pouchdb').load('lib/create-or-delete-dbs');
  const memo = new Map<string, { gen: number; rules: Rules }>();
  const fixed = rulesOf(ADMIN_ONLY);
  return async function rulesFor(db: string): Promise<Rules | null> {
    if (SYSTEM_DBS.has(db)) return fixed;
    const gen = securityGeneration();
    const hit = memo.get(db);
    if (hit && hit.gen === gen) return hit.rules;
    let handle = PouchDB.__dbCacheMap?.get(db) as Db | undefined;
    if (!handle) {
      if (!(await PouchDB.allDbs()).includes(db)) return null;
      handle = (await app.dbWrapper.wrap(db, await getOrCreateDB(PouchDB, db))) as Db;
    }
    const rules = rulesOf(await handle.getSecurity());
    if (securityGeneration() === gen) memo.set(db, { gen, rules });
    return rules;
  };
}

/** Deciding: null lets the request through; otherwise CouchDB 3.4's status, error and reason. */
function decide(need: Need, s: Session, rules: Rules | null): Refusal | null {
  const u = s.userCtx;
  const anon = u.name === null && !isServerAdmin(u);
  switch (need.kind) {
    case 'public':
      return null;
    case 'refuse':
      if (need.status === 403 && anon) return [401, 'unauthorized', 'You are not authorized to access this db.'];
      return [need.status, need.error, need.reason];
    case 'server-admin':
      return isServerAdmin(u) ? null : [401, 'unauthorized', 'You are not a server admin.'];
    case 'db':
      if (!rules) return null; // no such database: express-pouchdb answers 404, as CouchDB does
      if (!isReader(u, rules))
        return anon
          ? [401, 'unauthorized', 'You are not authorized to access this db.']
          : [403, 'forbidden', 'You are not allowed to access this db.'];
      if (need.level === 'admin' && !isDbAdmin(u, rules)) {
        if (need.adminStatus === 401) return [401, 'unauthorized', 'You are not a server or db admin.'];
        return anon
          ? [401, 'unauthorized', 'You are not a db or server admin.']
          : [403, 'forbidden', 'You are not a db or server admin.'];
      }
      return null;
  }
}

/**
 * CouchDB's `GET /_session?basic=true`: an anonymous caller is asked to sign in (401 with
 * the challenge) instead of answered `name: null`. A page the browser opened with Basic
 * credentials learns who it is this way: the browser answers the challenge with them.
 */
function asksForBasicChallenge(req: http.IncomingMessage, s: Session): boolean {
  return (
    s.userCtx.name === null &&
    (req.method === 'GET' || req.method === 'HEAD') &&
    /^\/_session\?(.*&)?basic=true(&|$)/.test(req.url || '')
  );
}

/**
 * express-pouchdb's daemons (its PouchDB plugins) start asynchronously after the app exists;
 * its own authentication middleware used to hold the first requests until then. The answer is a
 * promise to wait for while they start, and null from then on.
 */
function untilStarted(PouchDB: Pouch): () => Promise<void> | null {
  const P = PouchDB as unknown as Record<string, unknown>;
  const started = () =>
    typeof P.resolveVirtualHost === 'function' &&
    typeof PouchDB.prototype.useAsAuthenticationDB === 'function' &&
    typeof PouchDB.prototype.update === 'function';
  let ready: Promise<void> | null = (async () => {
    while (!started()) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    ready = null;
  })();
  return () => ready;
}

export function createAuthorization(app: App, PouchDB: Pouch): Authorization {
  const ids = identities(app, PouchDB);
  const rulesFor = securityRules(app, PouchDB);
  // Writes whose ids are in the body, in PouchDB: the same rule, with the user express-pouchdb passes.
  installDocumentRules(app);
  const ready = untilStarted(PouchDB);

  return {
    handle(req, res, next) {
      const starting = ready();
      if (starting) {
        starting.then(() => this.handle(req, res, next));
        return;
      }
      const need = classify(req.method || 'GET', req.url || '/', req.headers.destination as string | undefined);
      const setCookie = (v: string) => res.setHeader('Set-Cookie', `AuthSession=${v}; Version=1; Path=/; HttpOnly`);
      ids
        .session(req.headers, setCookie)
        .then(async (s) => {
          if (!s) return send(res, 401, 'unauthorized', 'Name or password is incorrect.');
          if (asksForBasicChallenge(req, s)) return send(res, 401, 'unauthorized', 'Please login.');
          const rules = need.kind === 'db' ? await rulesFor(need.db) : null;
          const refusal = decide(need, s, rules);
          if (refusal) return send(res, ...refusal);
          (req as { couchSession?: Session }).couchSession = s;
          next();
        })
        .catch((err: Error) =>
          err instanceof TokenRefused
            ? send(res, err.status, err.error, err.message)
            : send(res, 500, 'error', err.message),
        );
    },
  };
}
