/**
 * What the server behind a URL can do, probed once per server and kept in one object: the only
 * place where Apache CouchDB 3 and the embedded server (express-pouchdb over PouchDB) differ in
 * product logic. Everything else asks `capabilities(url)` and never tests for an engine.
 *
 * One `GET /` names the engine (CouchDB says `"couchdb": "Welcome"` and lists `features`;
 * express-pouchdb says `"express-pouchdb": "Welcome!"`), and two harmless reads confirm the parts
 * an operator may have turned off or a proxy may hide (`/_scheduler/jobs`, `/_node/_local/_config`).
 * The rest is behaviour of the engine's code, not of its configuration, measured on both
 * (CouchDB 3.4.3, express-pouchdb 4.2.0 over PouchDB 9) and written down here rather than probed
 * with writes: probing `_changes?filter=_selector` on the embedded server fails the request,
 * and `_purge` there is routed as an attachment upload (400 only_multipart_accepted).
 */
import { withoutCredentials } from './config';
import { nodeFetch } from './nodes';

export interface Capabilities {
  /** `couchdb`: Apache CouchDB 2.x/3.x; `pouchdb-server`: the embedded server or another express-pouchdb. */
  readonly engine: 'couchdb' | 'pouchdb-server';
  readonly version: string;
  /** `_active_tasks` lists indexer tasks with changes_done/total_changes (the embedded one is always []). */
  readonly activeTasks: boolean;
  /** A view query with `update=false` answers from the index as it is, without building it. */
  readonly staleViews: boolean;
  /** `_changes?filter=_selector` (and Mango selectors in replication). */
  readonly selectorFilter: boolean;
  /**
   * The path form COPY is routed on: CouchDB takes `/db/_design/x`; express-pouchdb routes COPY
   * of a design doc only with the slash encoded (`/db/_design%2Fx`).
   */
  readonly copyForm: 'slash' | 'encoded';
  /**
   * Reduce values stored in the index's b-tree: a `group_level` query reads a few nodes. The
   * embedded server recomputes the reduce over every row on each query (~7 s per 100k rows).
   */
  readonly storedReduce: boolean;
  /** `POST /db/_purge` removes revisions (tombstones included) for good. */
  readonly purge: boolean;
  /** The server's own replicator with `_scheduler/jobs` (state, errors, docs written). */
  readonly schedulerJobs: boolean;
  /** Server settings over HTTP, `/_node/<node>/_config/<section>/<key>` (server admin only). */
  readonly serverConfig: boolean;
  /**
   * Where a server admin writes settings: `node`, `/_node/<node>/_config/<section>/<key>` per
   * node (CouchDB 2+); `server`, `/_config/<section>/<key>` (express-pouchdb, which keeps
   * them in its config.json and applies them at once).
   */
  readonly configRoute: 'node' | 'server';
  /** `POST /db/_compact/<ddoc>` (express-pouchdb takes that path for an attachment: 400). */
  readonly viewCompaction: boolean;
  /**
   * The index's users are recorded in `_local/mrviews` and `_view_cleanup` drops every index no
   * recorded design doc has (PouchDB's mapreduce); CouchDB keys indexes by signature only.
   */
  readonly indexRecord: boolean;
}

const cache = new Map<string, Promise<Capabilities>>();

async function status(url: string, path: string): Promise<number> {
  try {
    const res = await nodeFetch(url, path, { signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** Reads the answers of one server; callers use the cached `capabilities()`. */
export async function probeCapabilities(url: string): Promise<Capabilities> {
  const res = await nodeFetch(url, '/', { signal: AbortSignal.timeout(10_000) });
  if (!res.ok)
    throw Object.assign(new Error(`probing ${withoutCredentials(url)}: ${res.status}`), { statusCode: res.status });
  const root = (await res.json()) as { couchdb?: string; version?: string; features?: string[] };
  if (!root.couchdb) {
    return {
      engine: 'pouchdb-server',
      version: String(root.version || ''),
      activeTasks: false,
      staleViews: false,
      selectorFilter: false,
      copyForm: 'encoded',
      storedReduce: false,
      purge: false,
      schedulerJobs: false,
      serverConfig: false,
      configRoute: 'server',
      viewCompaction: false,
      indexRecord: true,
    };
  }
  const major = Number(String(root.version || '0').split('.')[0]);
  // Any answer but 404 means the route exists (401/403 for a caller who is not a server admin).
  const [scheduler, config] = await Promise.all([
    status(url, '/_scheduler/jobs?limit=0'),
    status(url, '/_node/_local/_config/csp'),
  ]);
  return {
    engine: 'couchdb',
    version: String(root.version),
    activeTasks: true,
    staleViews: major >= 2,
    selectorFilter: major >= 2,
    copyForm: 'slash',
    storedReduce: true,
    purge: major >= 2,
    schedulerJobs: scheduler !== 404 && scheduler !== 0,
    serverConfig: config !== 404 && config !== 0,
    configRoute: 'node',
    viewCompaction: true,
    indexRecord: false,
  };
}

/** The capabilities of the server at `url`, probed at the first call for that server. */
export function capabilities(url: string): Promise<Capabilities> {
  const key = withoutCredentials(url);
  let p = cache.get(key);
  if (!p) {
    p = probeCapabilities(url);
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}
