/**
 * `npm run bench:catalog [-- FILES]`: the catalogue's three seed figures, measured in one run on
 * one server (COUCHDB_URL, or a fresh embedded server), loopback only, bounded:
 *   1. query rate under 50 concurrent clients, a mix of the catalogue queries
 *      (CSA06 DBS: 2.5-3 Hz at 50% CPU; target >= 2000 queries/s on CouchDB-class hardware)
 *   2. local -> global migration rate in files/min, by ordered _bulk_docs (the product's way)
 *      beside a whole-database _replicate of the same catalogue (what replication does at best)
 *      (CSA06: 1000 files/min, "too slow"; target >= 100k files/min)
 *   3. single-record insert/update/delete latency p50/p99 with 200 concurrent clients, and the
 *      failures (Belle II AMGA: ~3 s per operation, failed past 25 clients; target p99 < 50 ms),
 *      once as the seed's test ran them (a wait after each operation) and once saturated (no wait)
 * `--only queries|migration|records` measures one of them. Prints figures and ratios; asserts nothing.
 */
import { randomBytes } from 'crypto';
import { performance } from 'perf_hooks';
import { connect, type Db, type Server } from '../../agents/platform/couch';
import { withCredentials } from '../../agents/platform/config';
import { dbNames, Role } from '../../views/schema';
import { fileIdOf, guidOf } from '../../views/lib/catalog-ids';
import { deploy } from '../deploy';
import * as q from '../client/catalog';
import { migrate } from '../ops/catalog-migrate';
import { benchServer, type BenchServer } from './server';
import { catalogDocs, loadCatalogue, siteDocs, type BenchCatalogue } from './catalog-seed';
import { measureRecords, pct } from './catalog-records';

const QUERY_CLIENTS = 50;
const QUERY_SECONDS = 20;
const BASELINE_SECONDS = 10;

/** The databases of one run, all under a fresh prefix, and the plain user the queries run as. */
interface Run {
  readonly server: BenchServer;
  readonly admin: Server;
  readonly dbs: ReturnType<typeof dbNames>;
  readonly globalDb: string;
  readonly replicaDb: string;
  readonly reader: { name: string; password: string; roles: string[] };
}

/**
 * Every database call a client's queries make is counted, per client (a shared counter
 * counted the other 49 clients' calls too): HTTP requests per query, by type.
 */
function counted<T extends object>(db: T, count: { n: number }): T {
  return new Proxy(db, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv);
      return typeof v === 'function'
        ? (...args: unknown[]) => {
            count.n++;
            return (v as (...a: unknown[]) => unknown).apply(target, args);
          }
        : v;
    },
  });
}

const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];

/**
 * The same clients against the same server doing the cheapest request there is, a document
 * GET by id: the ceiling of one HTTP request on this server and machine, in the same run.
 */
async function baseline(db: Db, lfns: string[]): Promise<{ rate: number; p50: number }> {
  const gets: number[] = [];
  const gUntil = performance.now() + BASELINE_SECONDS * 1000;
  const g0 = performance.now();
  await Promise.all(
    Array.from({ length: QUERY_CLIENTS }, async () => {
      while (performance.now() < gUntil) {
        const s = performance.now();
        await db.get(fileIdOf(pick(lfns)));
        gets.push(performance.now() - s);
      }
    }),
  );
  return { rate: gets.length / ((performance.now() - g0) / 1000), p50: pct(gets, 50) };
}

type Query = (c: q.Catalog) => Promise<unknown>;

/**
 * QUERY_CLIENTS clients, each going round the queries for QUERY_SECONDS: latencies and HTTP
 * requests per query name, errors, and the seconds it took.
 */
async function runQueryMix(queries: Record<string, Query>, clientOf: (count: { n: number }) => q.Catalog) {
  const names = Object.keys(queries);
  const lat: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
  const requests: Record<string, number> = Object.fromEntries(names.map((k) => [k, 0]));
  let errors = 0;
  const until = performance.now() + QUERY_SECONDS * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: QUERY_CLIENTS }, async (_, k) => {
      const count = { n: 0 };
      const c = clientOf(count);
      for (let i = k; performance.now() < until; i++) {
        const name = names[i % names.length];
        const s = performance.now();
        try {
          const before = count.n;
          await queries[name](c);
          lat[name].push(performance.now() - s);
          requests[name] += count.n - before;
        } catch {
          errors++;
        }
      }
    }),
  );
  return { lat, requests, errors, secs: (performance.now() - t0) / 1000 };
}

/** Figure 1: query rate, as the plain user, under QUERY_CLIENTS concurrent clients. */
async function measureQueries(run: Run, { blocks, lfns, dataset }: BenchCatalogue): Promise<void> {
  const { server, admin, dbs, reader } = run;
  const cdb = admin.use<Record<string, unknown>>(dbs.catalog);
  const user = connect(withCredentials(server.url, reader.name, reader.password));
  const ucdb = user.use<Record<string, unknown>>(dbs.catalog);
  const clientOf = (count: { n: number }): q.Catalog => ({
    catalog: counted(ucdb, count),
    config: counted(user.use<Record<string, unknown>>(dbs.config), count),
  });
  const queries: Record<string, Query> = {
    lfn_to_guid: (c) => q.lfnToGuid(c, pick(lfns)),
    guid_to_lfn: (c) => q.guidToLfn(c, guidOf(pick(lfns))),
    files_of_block: (c) => q.files(c, dataset, pick(blocks)),
    block_locations: (c) => q.blockLocations(c, pick(blocks)),
    replicas_with_pfns: (c) => q.replicas(c, pick(lfns)),
    ls_directory: (c) => q.ls(c, pick(lfns).replace(/\/[^/]+$/, '')),
    datasets_glob: (c) => q.datasets(c, '/Bench/*'),
  };
  const names = Object.keys(queries);
  const { lat, requests, errors, secs } = await runQueryMix(queries, clientOf);
  const total = names.reduce((a, k) => a + lat[k].length, 0);
  console.log(
    `\n1. catalogue queries, ${QUERY_CLIENTS} concurrent clients, ${secs.toFixed(1)} s: ${(total / secs).toFixed(0)} queries/s, ${errors} errors`,
  );
  for (const k of names)
    console.log(
      `   ${k.padEnd(20)} ${String(lat[k].length).padStart(6)} queries  p50 ${pct(lat[k], 50).toFixed(1)} ms  p99 ${pct(lat[k], 99).toFixed(1)} ms  ${(requests[k] / Math.max(1, lat[k].length)).toFixed(1)} HTTP requests each`,
    );
  console.log(
    `   vs CSA06 DBS 2.5-3 Hz: x${(total / secs / 3).toFixed(0)}; vs target 2000 q/s: ${(total / secs / 2000).toFixed(2)}`,
  );
  // As the user, and as the server admin (what the first CouchDB figures were measured as).
  const asUser = await baseline(ucdb, lfns);
  const asAdmin = await baseline(cdb, lfns);
  const allRequests = names.reduce((a, k) => a + requests[k], 0);
  console.log(
    `   baseline, ${QUERY_CLIENTS} clients doing GET /catalog/<file id>: as the user ${asUser.rate.toFixed(0)} requests/s (p50 ${asUser.p50.toFixed(1)} ms), as the server admin ${asAdmin.rate.toFixed(0)} requests/s (p50 ${asAdmin.p50.toFixed(1)} ms)`,
  );
  console.log(
    `   the query mix made ${(allRequests / secs).toFixed(0)} requests/s (${(allRequests / total).toFixed(2)} per query), ${(allRequests / secs / asUser.rate).toFixed(2)} of the user's baseline rate; the ceiling at that many requests per query: ${(asUser.rate / (allRequests / total)).toFixed(0)} queries/s`,
  );
}

/** Figure 2: migration by ordered _bulk_docs beside a whole-database _replicate. */
async function measureMigration(run: Run, { blocks }: BenchCatalogue, n: number): Promise<void> {
  const { server, admin, dbs, globalDb, replicaDb } = run;
  let t = performance.now();
  const report = await migrate({
    source: { server: admin, url: server.url, db: dbs.catalog },
    target: { server: admin, url: server.url, db: globalDb },
  });
  const migMin = (performance.now() - t) / 60000;
  if (report.failed_blocks.length || report.files !== n)
    throw new Error(`migration incomplete: ${JSON.stringify(report).slice(0, 300)}`);
  await admin.db.create(replicaDb);
  t = performance.now();
  // The embedded server answers docs_written at the top; CouchDB 3 in its session's history entry.
  const rep = (await admin.request({
    path: '_replicate',
    method: 'POST',
    body: { source: `${server.url}/${dbs.catalog}`, target: `${server.url}/${replicaDb}` },
  })) as { ok?: boolean; docs_written?: number; history?: { docs_written?: number }[] };
  const repMin = (performance.now() - t) / 60000;
  console.log(
    `\n2. local -> global migration of ${n} files in ${blocks.length} closed blocks (${report.files + report.replicas + report.blocks + report.datasets} documents)`,
  );
  console.log(
    `   ordered _bulk_docs (couchstage catalog migrate): ${(n / migMin).toFixed(0)} files/min (${(migMin * 60).toFixed(1)} s)`,
  );
  console.log(
    `   whole-db _replicate, unordered, for comparison: ${(n / repMin).toFixed(0)} files/min (${(repMin * 60).toFixed(1)} s, ${rep.docs_written ?? rep.history?.[0]?.docs_written ?? '?'} docs written)`,
  );
  console.log(
    `   vs CSA06 1000 files/min: x${(n / migMin / 1000).toFixed(0)}; vs target 100k files/min: ${(n / migMin / 100000).toFixed(2)}`,
  );
}

/** Every database of the run, the reader account, and the embedded server if the run started one. */
async function cleanUp(run: Run): Promise<void> {
  const { admin, dbs, globalDb, replicaDb, reader } = run;
  for (const name of [...Object.values(dbs), globalDb, replicaDb]) await admin.db.destroy(name).catch(() => undefined);
  // The reader account too: on a COUCHDB_URL server it would outlive the run.
  const users = admin.use<Record<string, unknown>>('_users');
  const id = `org.couchdb.user:${reader.name}`;
  await users
    .get(id)
    .then((d) => users.destroy(id, d._rev as string))
    .catch(() => undefined);
  await run.server.close();
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] || 5000);
  // --only queries|migration|records: one of the three figures (the catalogue is loaded either way)
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : null;
  if (only !== null && !['queries', 'migration', 'records'].includes(only))
    throw new Error(`--only takes queries, migration or records, not ${only}`);
  const want = (phase: string) => only === null || only === phase;
  const server = await benchServer();
  const tag = randomBytes(4).toString('hex');
  const prefix = `bench_${tag}_`;
  const run: Run = {
    server,
    admin: connect(server.url),
    dbs: dbNames(prefix),
    globalDb: prefix + 'global_catalog',
    replicaDb: prefix + 'global_replicated',
    // The queries run as a plain user, as the catalogue's clients do; the first CouchDB figures
    // were a server admin's, whose Basic credentials cost more per request on CouchDB 3.4.3 (GET
    // by id, 50 clients, one run on a quiet machine: 587 against 1,088 requests/s).
    reader: { name: `bench-reader-${tag}`, password: randomBytes(12).toString('hex'), roles: [Role.user] },
  };
  try {
    await deploy({ url: server.url, dbs: run.dbs, users: [run.reader], version: 'bench' });
    await run.admin.use(run.dbs.config).bulk({ docs: siteDocs() });
    const cat = catalogDocs(n);
    await loadCatalogue(run.admin, run.dbs.catalog, n, cat, server.kind);
    if (want('queries')) await measureQueries(run, cat);
    if (want('migration')) await measureMigration(run, cat, n);
    if (want('records')) await measureRecords(run.admin.use(run.dbs.catalog), cat.blocks[0], cat.dataset);
  } finally {
    await cleanUp(run);
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
