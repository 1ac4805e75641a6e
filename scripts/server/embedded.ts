/**
 * The embedded CouchDB-compatible server: express-pouchdb over PouchDB (LevelDB files under the
 * data dir), on loopback only. Run as a child process of the supervisor (supervisor.ts), which
 * restarts it if it dies. Known gaps of this server (measured): it crashes on
 * `_changes?filter=_selector` and on unknown filters, ignores `update=false`/`lazy`, recomputes
 * reduces on every query, does not apply `_security` to `_find`/`_bulk_get`, needs `%2F` in
 * `COPY /db/_design%2Fx` and has no eventsource feed. The product never relies on those routes;
 * this wrapper answers the two crash routes with a 400 so that a stray client cannot take the
 * server (and every agent's feed) down, and the supervisor covers whatever else may kill it.
 */
import { fastMapReduce } from './mapreduce';
import { CachedLevelDOWN, cacheStats } from './level-cache';
import { keyedReads } from './keyed-reads';
import { memoizeSecurity } from './security-memo';
import * as http from 'http';
import * as fs from 'fs';
import * as path from 'path';
import { PerformanceObserver } from 'perf_hooks';
import * as validationPlugin from './validation';

export interface EmbeddedOptions {
  readonly dataDir: string;
  readonly port: number;
  readonly host: string;
}

/** Routes that crash express-pouchdb's process instead of answering an error. */
export function crashRouteReason(method: string, rawUrl: string): string | null {
  const url = new URL(rawUrl, 'http://x');
  if (!/\/_changes$/.test(url.pathname)) return null;
  const filter = url.searchParams.get('filter');
  if (filter === null || filter === '_doc_ids' || filter === '_view') return null;
  if (filter === '_selector') return 'filter=_selector is not supported by the embedded server; use a design-doc filter or a Mango query';
  if (filter.indexOf('/') < 0) return 'unknown filter ' + filter;
  return method === 'GET' || method === 'POST' ? null : null;
}

/**
 * COUCHSTAGE_EMBEDDED_TRACE=1: count requests and their time per route, printed to stderr on exit
 * (profiling); =/some/file appends the table to that file instead.
 */
const traceTo = process.env.COUCHSTAGE_EMBEDDED_TRACE;
const trace = traceTo ? new Map<string, { n: number; ms: number }>() : null;
const gcKinds = ['', 'minor', 'major', '', 'incremental', '', '', '', 'weakcb'];
if (trace) {
  const gc = new Map<string, { n: number; ms: number; max: number }>();
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = 'gc ' + (gcKinds[(e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0] || 'other');
      const g = gc.get(kind) ?? { n: 0, ms: 0, max: 0 };
      g.n++;
      g.ms += e.duration;
      g.max = Math.max(g.max, e.duration);
      gc.set(kind, g);
    }
  }).observe({ entryTypes: ['gc'] });
  process.on('exit', () => {
    const rows = [...trace.entries()].sort((a, b) => b[1].ms - a[1].ms);
    const text = rows.map(([k, v]) => `${v.ms.toFixed(0).padStart(8)} ms ${String(v.n).padStart(7)} x  ${k}\n`).join('') +
      [...gc.entries()].map(([k, v]) => `${v.ms.toFixed(0).padStart(8)} ms ${String(v.n).padStart(7)} x  ${k} (longest ${v.max.toFixed(1)} ms)\n`).join('');
    const caches = [...cacheStats.entries()].map(([loc, f]) => ({ loc: path.basename(loc), ...f() })).filter((c) => c.hits + c.misses > 0)
      .map((c) => `cache ${c.loc}: ${c.hits} hits, ${c.misses} misses, ${c.entries} entries, ${(c.bytes / 1048576).toFixed(1)} MB\n`).join('');
    if (traceTo && traceTo.includes('/')) fs.appendFileSync(traceTo, text + caches);
    else process.stderr.write(text + caches);
  });
}

/**
 * The challenge sent with every 401, as CouchDB 3 does with `[chttpd] WWW-Authenticate` set: a
 * browser opening the monitoring page without a session then asks for a name and password
 * instead of showing a bare 401. A request header `X-CouchDB-WWW-Authenticate` replaces it (also
 * as CouchDB does): the page's own requests send `Cookie`, which no browser prompts for, so an
 * expired session shows the page's login form rather than a dialog.
 */
export const WWW_AUTHENTICATE = 'Basic realm="couchstage"';

export function challengeFor(req: http.IncomingMessage): string {
  const asked = req.headers['x-couchdb-www-authenticate'];
  return typeof asked === 'string' && asked ? asked : WWW_AUTHENTICATE;
}

/** Adds the challenge to 401 answers that lack one (express-pouchdb sends none). */
function addChallenge(req: http.IncomingMessage, res: http.ServerResponse): void {
  const writeHead = res.writeHead;
  res.writeHead = function (this: http.ServerResponse, ...args: unknown[]) {
    const code = typeof args[0] === 'number' ? args[0] : this.statusCode;
    if (code === 401 && !this.getHeader('www-authenticate')) {
      const headers = args.find((a, i) => i > 0 && a && typeof a === 'object') as Record<string, unknown> | undefined;
      const has = headers && Object.keys(headers).some((k) => k.toLowerCase() === 'www-authenticate');
      if (!has) this.setHeader('WWW-Authenticate', challengeFor(req));
    }
    return (writeHead as (...a: unknown[]) => http.ServerResponse).apply(this, args);
  } as typeof res.writeHead;
}

/**
 * LevelDB options for every database (passed through PouchDB and levelup to leveldown's open):
 * a larger block cache than leveldown's 8 MB, so the agents' feeds and fetches of recent
 * revisions are served from decoded blocks in memory, and a larger write buffer. Tunable with
 * COUCHSTAGE_LEVELDB_CACHE_MB (default 32 per database; the server's own cache in level-cache.ts holds the hot values).
 */
function levelOptions(): Record<string, number> {
  const mb = Number(process.env.COUCHSTAGE_LEVELDB_CACHE_MB || 32);
  return { cacheSize: mb * 1024 * 1024, writeBufferSize: 16 * 1024 * 1024 };
}

export function startEmbedded(opts: EmbeddedOptions): Promise<http.Server> {
  fs.mkdirSync(path.join(opts.dataDir, 'db'), { recursive: true });
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const PouchDB = require('pouchdb').defaults({ prefix: path.join(opts.dataDir, 'db') + path.sep, db: CachedLevelDOWN, ...levelOptions() });
  // Views: PouchDB's engine, with design functions compiled once instead of per document (mapreduce.ts).
  PouchDB.plugin(fastMapReduce);
  // `_all_docs` with keys: a point read per key instead of a range scan per key (keyed-reads.ts).
  keyedReads(PouchDB);
  // Our caching validation plugin stands in for pouchdb-validation (see validation.ts).
  const expressDir = path.dirname(require.resolve('express-pouchdb/package.json'));
  const validationPath = require.resolve('pouchdb-validation', { paths: [expressDir] });
  require.cache[validationPath] = { id: validationPath, filename: validationPath, loaded: true, exports: validationPlugin } as NodeJS.Module;
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const expressPouchDB = require('express-pouchdb');
  // Security objects remembered per database until one is written (security-memo.ts).
  memoizeSecurity(expressDir);
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
  const server = http.createServer((req, res) => {
    const reason = crashRouteReason(req.method || 'GET', req.url || '/');
    if (reason) {
      res.writeHead(400, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: 'bad_request', reason }) + '\n');
      return;
    }
    addChallenge(req, res);
    if (trace) {
      const t0 = process.hrtime.bigint();
      const key = `${req.method} ${(req.url || '/').split('?')[0].replace(/^\/[^/]+/, '/db').replace(/\/[0-9a-f]{56}$/, '/<id>').replace(/\/(heartbeat|lock|tj-)[^/]*$/, '/<$1>')}${/include_docs=true/.test(req.url || '') ? ' +docs' : ''}`;
      res.on('finish', () => {
        const t = trace.get(key) || { n: 0, ms: 0 };
        t.n++;
        t.ms += Number(process.hrtime.bigint() - t0) / 1e6;
        trace.set(key, t);
      });
    }
    app(req, res);
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
