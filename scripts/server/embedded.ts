/**
 * The embedded CouchDB-compatible server: express-pouchdb over PouchDB (LevelDB files under the
 * data dir), on loopback only. Run as a child process of the supervisor (supervisor.ts), which
 * restarts it if it dies. Known gaps of this server (measured): it crashes on
 * `_changes?filter=_selector` and on unknown filters, ignores `update=false`/`lazy`, recomputes
 * reduces on every query (authorisation is authz/'s, not express-pouchdb's), needs `%2F` in
 * `COPY /db/_design%2Fx` and has no eventsource feed. The product never relies on those routes;
 * this wrapper answers the two crash routes with a 400 so that a stray client cannot take the
 * server (and every agent's feed) down, and the supervisor covers whatever else may kill it.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { createAuthorization } from './authz';
import { boundRequest, jsonErrors, maxRequestSize, registerLimits } from './bodies';
import { addChallenge } from './challenge';
import { assertPatchedVersions, upstream } from './patched-versions';
import { installBodyChecks } from './patches/express-pouchdb-json-parser';
import { skipExpressAuthentication } from './patches/express-pouchdb-authentication';
import { CachedLevelDOWN, setCacheBudget } from './patches/leveldown-cache';
import { keyedReads } from './patches/pouchdb-all-docs-keys';
import { hashAdmins } from './patches/pouchdb-auth-admins';
import { verifyAsCouchDB } from './patches/pouchdb-auth-login';
import { noAdminParty } from './patches/pouchdb-auth-session';
import { hashUserDocuments } from './patches/pouchdb-auth-write-wrappers';
import { query } from './patches/pouchdb-mapreduce-query';
import { memoizeSecurity } from './patches/pouchdb-security-get-security';
import { replacePouchdbValidation } from './patches/pouchdb-validation';
import { viewCleanup } from './patches/pouchdb-view-cleanup';
import { startTrace } from './trace';

/** The server's own settings; the caller (the child-process entry, main.ts) gives them. */
export interface EmbeddedSettings {
  /**
   * Megabytes of the read cache in front of LevelDB, per database (patches/leveldown-cache.ts);
   * 0 turns it off. Default 256.
   */
  readonly cacheMb?: number;
  /**
   * LevelDB's own block cache per database, in megabytes (passed through PouchDB and levelup to
   * leveldown's open): larger than leveldown's 8 MB, so the agents' feeds and fetches of recent
   * revisions are served from decoded blocks in memory. Default 32.
   */
  readonly leveldbCacheMb?: number;
  /**
   * Profiling: count requests and their time per route, printed to stderr on exit (any value
   * without a `/`), or appended to the file it names (trace.ts). Default: no trace.
   */
  readonly trace?: string | null;
}

export interface EmbeddedOptions extends EmbeddedSettings {
  readonly dataDir: string;
  readonly port: number;
  readonly host: string;
}

/** Routes that crash express-pouchdb's process instead of answering an error. */
export function crashRouteReason(_method: string, rawUrl: string): string | null {
  const url = new URL(rawUrl, 'http://x');
  if (!/\/_changes$/.test(url.pathname)) return null;
  const filter = url.searchParams.get('filter');
  if (filter === null || filter === '_doc_ids' || filter === '_view') return null;
  if (filter === '_selector')
    return 'filter=_selector is not supported by the embedded server; use a design-doc filter or a Mango query';
  if (filter.indexOf('/') < 0) return 'unknown filter ' + filter;
  return null;
}

function levelOptions(mb: number): Record<string, number> {
  return { cacheSize: mb * 1024 * 1024, writeBufferSize: 16 * 1024 * 1024 };
}

function megabytes(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v < 0)
    throw new Error(`embedded server: ${name} must be a number of megabytes >= 0, got ${v}`);
  return v;
}

export function startEmbedded(opts: EmbeddedOptions): Promise<http.Server> {
  // The patches below replace internals of exact package versions: refuse any other tree.
  assertPatchedVersions();
  setCacheBudget(megabytes('cacheMb', opts.cacheMb, 256));
  const leveldbMb = megabytes('leveldbCacheMb', opts.leveldbCacheMb, 32);
  const trace = opts.trace ? startTrace(opts.trace) : null;
  fs.mkdirSync(path.join(opts.dataDir, 'db'), { recursive: true });
  const PouchDB = upstream('pouchdb')
    .load()
    .defaults({ prefix: path.join(opts.dataDir, 'db') + path.sep, db: CachedLevelDOWN, ...levelOptions(leveldbMb) });
  // Views: PouchDB's engine, with design functions compiled once instead of per document, and a
  // cleanup that destroys only the database's own indexes.
  PouchDB.plugin({ query, viewCleanup });
  // `_all_docs` with keys: a point read per key instead of a range scan per key.
  keyedReads(PouchDB);
  // Our caching validation plugin stands in for pouchdb-validation.
  replacePouchdbValidation();
  const expressPouchDB = upstream('express-pouchdb').load();
  // Security objects remembered per database until one is written.
  memoizeSecurity();
  // Users and admins stored and verified as CouchDB 3.4 does (passwords.ts), no admin party.
  hashUserDocuments();
  hashAdmins();
  noAdminParty();
  verifyAsCouchDB();
  // Bodies bounded and checked as CouchDB bounds and checks them (bodies.ts).
  installBodyChecks();
  // The authorisation layer below establishes the user once per request (authz/identity.ts).
  skipExpressAuthentication();
  const app = expressPouchDB(PouchDB, {
    configPath: path.join(opts.dataDir, 'config.json'),
    logPath: path.join(opts.dataDir, 'log.txt'),
    mode: 'fullCouchDB',
    // No response compression: every client is on loopback, and gzip cost the server CPU.
    // No disk size in db info: pouchdb-size walks the database directory (lstat of every file)
    // on every info() call, and express-pouchdb's cookie/basic authentication calls the users
    // database's info() on every request: ~10% of the server's CPU in a profile of 200 clients.
    overrideMode: { exclude: ['routes/fauxton', 'compression', 'disk-size'] },
  });
  app.use(jsonErrors);
  registerLimits(app.couchConfig);
  // Every request is authorised as CouchDB 3.4 authorises it before express-pouchdb sees it (authz/).
  const authz = createAuthorization(app, PouchDB);
  const server = http.createServer((req, res) => {
    const reason = crashRouteReason(req.method || 'GET', req.url || '/');
    if (reason) {
      res.writeHead(400, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: 'bad_request', reason }) + '\n');
      return;
    }
    // CouchDB 3's liveness probe, which express-pouchdb lacks; public there too.
    if ((req.method === 'GET' || req.method === 'HEAD') && (req.url || '').split('?')[0] === '/_up') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(req.method === 'HEAD' ? undefined : JSON.stringify({ status: 'ok', seeds: {} }) + '\n');
      return;
    }
    if (!boundRequest(req, res, maxRequestSize(app.couchConfig))) return;
    addChallenge(req, res);
    trace?.(req, res);
    authz.handle(req, res, () => app(req, res));
  });
  // Longpoll feeds hold requests open for up to a minute; never let Node cut them first.
  server.requestTimeout = 0;
  server.headersTimeout = 65_000;
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve(server));
  });
}
