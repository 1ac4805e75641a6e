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
import { monitorEventLoopDelay, performance } from 'perf_hooks';
import { connect, type Db } from '../../agents/platform/couch';
import { put, type RawDoc } from '../../agents/platform/docs';
import { loadToolConfig, withCredentials } from '../../agents/platform/config';
import { DocId, CatalogId, dbNames, Role, uuidFromHex, Views } from '../../views/schema';
import { fileIdOf, guidOf, replicaIdOf } from '../../views/lib/catalog-ids';
import { sha224Hex } from '../../views/lib/sha224';
import { deploy } from '../deploy';
import * as q from '../client/catalog';
import { migrate } from '../ops/catalog-migrate';
import { benchServer } from './server';

const PER_BLOCK = 100; // the default max_files_per_block
const SITES = ['T2_CH_CERN', 'T2_IT_Pisa', 'T1_US_FNAL'];
const QUERY_CLIENTS = 50;
const QUERY_SECONDS = 20;
const BASELINE_SECONDS = 10;
const RECORD_CLIENTS = 200;
const RECORD_ROUNDS = 10; // per client: insert, update, delete each round -> 6000 operations
const THINK_MS = loadToolConfig().benchThinkMs; // the 'seed' mode's mean wait
const AT = '2026-11-26T06:00:00Z';

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] || 0;
}

type RecordOps = Record<'insert' | 'update' | 'delete', number[]>;

/**
 * Single-record insert/update/delete by RECORD_CLIENTS concurrent clients, RECORD_ROUNDS rounds each.
 * 'seed': the Belle II AMGA test's procedure (seed 000: "insert new entry and wait, modify entry and
 *   wait, delete entry and wait", one process per client): each client waits after every operation,
 *   an exponentially distributed time of mean THINK_MS (independent clients, so arrivals spread), and
 *   starts at a random point of the first THINK_MS.
 * 'saturated': no wait at all, so each client sends its next operation as soon as the last one is
 *   answered; latency is then clients / throughput (Little's law), and measures the server's capacity.
 * Both start after an untimed warm-up (each client inserts, updates and deletes one record of its own,
 * all at once; then 2 s of quiet).
 */
async function records(
  gdb: Db,
  block: string,
  dataset: string,
  mode: 'seed' | 'saturated',
): Promise<{ ops: RecordOps; failures: number; seconds: number; clientLoopP99: number }> {
  const ops: RecordOps = { insert: [], update: [], delete: [] };
  let failures = 0;
  const recordDoc = (lfn: string): RawDoc => ({
    _id: fileIdOf(lfn),
    type: 'file',
    lfn,
    guid: guidOf(lfn),
    size: 1,
    adler32: '0badcafe',
    valid: true,
    block,
    dataset,
    owner: 'alice',
    created_at: AT,
  });
  const think = () =>
    mode === 'seed'
      ? new Promise((r) => setTimeout(r, Math.min(10 * THINK_MS, -THINK_MS * Math.log(1 - Math.random()))))
      : Promise.resolve();
  // Untimed warm-up, as a long-running server and long-lived clients are: every client inserts,
  // updates and deletes one record of its own, all at once (the client's pool then holds a
  // connection per client, and the server's single-document write path is compiled), then the
  // server gets 2 s to settle after the catalogue load and index builds before anything is timed.
  await Promise.all(
    Array.from({ length: RECORD_CLIENTS }, async (_, k) => {
      const doc = recordDoc(`/store/user/alice/records/${mode}-warmup/${k}.root`);
      const a = await put(gdb, doc);
      const b = await put(gdb, { ...a, valid: false });
      await gdb.destroy(doc._id, b._rev);
    }),
  );
  await new Promise((r) => setTimeout(r, 2000));
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const t = performance.now();
  await Promise.all(
    Array.from({ length: RECORD_CLIENTS }, async (_, k) => {
      if (mode === 'seed') await new Promise((r) => setTimeout(r, Math.random() * THINK_MS));
      for (let r = 0; r < RECORD_ROUNDS; r++) {
        const doc = recordDoc(`/store/user/alice/records/${mode}/${k}/r_${r}.root`);
        try {
          let s = performance.now();
          const a = await put(gdb, doc);
          ops.insert.push(performance.now() - s);
          await think();
          s = performance.now();
          const b = await put(gdb, { ...a, valid: false });
          ops.update.push(performance.now() - s);
          await think();
          s = performance.now();
          await gdb.destroy(doc._id, b._rev);
          ops.delete.push(performance.now() - s);
          await think();
        } catch {
          failures++;
        }
      }
    }),
  );
  loop.disable();
  return { ops, failures, seconds: (performance.now() - t) / 1000, clientLoopP99: loop.percentile(99) / 1e6 };
}

function catalogDocs(n: number): {
  docs: Record<string, unknown>[];
  blocks: string[];
  lfns: string[];
  dataset: string;
} {
  const dataset = '/Bench/alice-bench-v1/USER';
  const docs: Record<string, unknown>[] = [
    {
      _id: CatalogId.dataset(dataset),
      type: 'dataset',
      name: dataset,
      data_tier: 'USER',
      access_type: 'VALID',
      owner: 'alice',
      created_at: AT,
    },
  ];
  const blocks: string[] = [];
  const lfns: string[] = [];
  for (let b = 0; b * PER_BLOCK < n; b++) {
    const name = dataset + '#' + uuidFromHex(sha224Hex('bench-block-' + b));
    blocks.push(name);
    const count = Math.min(PER_BLOCK, n - b * PER_BLOCK);
    for (let i = 0; i < count; i++) {
      const lfn = `/store/user/alice/bench/${String(b).padStart(4, '0')}/out_${i}.root`;
      lfns.push(lfn);
      const site = SITES[b % SITES.length];
      docs.push({
        _id: fileIdOf(lfn),
        type: 'file',
        lfn,
        guid: guidOf(lfn),
        size: 1000 + i,
        adler32: '0badcafe',
        valid: true,
        block: name,
        dataset,
        owner: 'alice',
        created_at: AT,
      });
      docs.push({
        _id: replicaIdOf(lfn, site),
        type: 'replica',
        lfn,
        site,
        block: name,
        dataset,
        size: 1000 + i,
        created_at: AT,
        owner: 'alice',
      });
    }
    docs.push({
      _id: CatalogId.block(name),
      type: 'block',
      name,
      dataset,
      owner: 'alice',
      open: false,
      origin_site: SITES[b % SITES.length],
      file_count: count,
      total_size: 0,
      created_at: AT,
      closed_at: AT,
    });
  }
  // total_size as the sum of the block's files
  for (const d of docs)
    if (d.type === 'block')
      d.total_size = docs
        .filter((f) => f.type === 'file' && f.block === d.name)
        .reduce((a, f) => a + (f.size as number), 0);
  return { docs, blocks, lfns, dataset };
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
  const dbs = dbNames(prefix);
  const globalDb = prefix + 'global_catalog';
  const replicaDb = prefix + 'global_replicated';
  const admin = connect(server.url);
  // The queries run as a plain user, as the catalogue's clients do; the first CouchDB figures
  // were a server admin's, whose Basic credentials cost more per request on CouchDB 3.4.3 (GET
  // by id, 50 clients, one run on a quiet machine: 587 against 1,088 requests/s).
  const reader = { name: `bench-reader-${tag}`, password: randomBytes(12).toString('hex'), roles: [Role.user] };
  try {
    await deploy({ url: server.url, dbs, users: [reader], version: 'bench' });
    await admin.use(dbs.config).bulk({
      docs: SITES.map((s) => ({
        _id: DocId.site(s),
        type: 'site',
        name: s,
        endpoints: { root: 'root://x:1094' },
        tfc: [
          { protocol: 'root', path_match: '/+(.*)', result: `root://${s.toLowerCase()}.example:1094//$1` },
          { protocol: 'file', path_match: '/+(.*)', result: `file:///${s}/$1` },
        ],
      })),
    });
    const { docs, blocks, lfns, dataset } = catalogDocs(n);
    let t = performance.now();
    const cdb = admin.use<Record<string, unknown>>(dbs.catalog);
    for (let i = 0; i < docs.length; i += 1000) {
      const res = await cdb.bulk({ docs: docs.slice(i, i + 1000) });
      const bad = res.find((r) => r.error);
      if (bad) throw new Error(`load: ${bad.id}: ${bad.error} ${bad.reason}`);
    }
    console.log(
      `server: ${server.kind}; catalogue of ${n} files, ${blocks.length} closed blocks, ${n} replicas (${docs.length} documents) loaded in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
    t = performance.now();
    for (const v of [Views.contents, Views.names, Views.children, Views.replicas])
      await cdb.view(v.ddoc, v.name, { limit: 1, reduce: false });
    console.log(`view indexes built in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    if (want('queries')) {
      // 1. query rate, as the plain user
      const user = connect(withCredentials(server.url, reader.name, reader.password));
      const ucdb = user.use<Record<string, unknown>>(dbs.catalog);
      // Every database call a client's queries make is counted, per client (a shared counter
      // counted the other 49 clients' calls too): HTTP requests per query, by type.
      const counted = <T extends object>(db: T, count: { n: number }): T =>
        new Proxy(db, {
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
      const clientOf = (count: { n: number }): q.Catalog => ({
        catalog: counted(ucdb, count),
        config: counted(user.use<Record<string, unknown>>(dbs.config), count),
      });
      const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];
      const queries: Record<string, (c: q.Catalog) => Promise<unknown>> = {
        lfn_to_guid: (c) => q.lfnToGuid(c, pick(lfns)),
        guid_to_lfn: (c) => q.guidToLfn(c, guidOf(pick(lfns))),
        files_of_block: (c) => q.files(c, dataset, pick(blocks)),
        block_locations: (c) => q.blockLocations(c, pick(blocks)),
        replicas_with_pfns: (c) => q.replicas(c, pick(lfns)),
        ls_directory: (c) => q.ls(c, pick(lfns).replace(/\/[^/]+$/, '')),
        datasets_glob: (c) => q.datasets(c, '/Bench/*'),
      };
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
      const secs = (performance.now() - t0) / 1000;
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
      // The same clients against the same server doing the cheapest request there is, a document
      // GET by id: the ceiling of one HTTP request on this server and machine, in the same run;
      // as the user, and as the server admin (what the first CouchDB figures were measured as).
      const baseline = async (db: typeof cdb) => {
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
      };
      const asUser = await baseline(ucdb);
      const asAdmin = await baseline(cdb);
      const allRequests = names.reduce((a, k) => a + requests[k], 0);
      console.log(
        `   baseline, ${QUERY_CLIENTS} clients doing GET /catalog/<file id>: as the user ${asUser.rate.toFixed(0)} requests/s (p50 ${asUser.p50.toFixed(1)} ms), as the server admin ${asAdmin.rate.toFixed(0)} requests/s (p50 ${asAdmin.p50.toFixed(1)} ms)`,
      );
      console.log(
        `   the query mix made ${(allRequests / secs).toFixed(0)} requests/s (${(allRequests / total).toFixed(2)} per query), ${(allRequests / secs / asUser.rate).toFixed(2)} of the user's baseline rate; the ceiling at that many requests per query: ${(asUser.rate / (allRequests / total)).toFixed(0)} queries/s`,
      );
    }

    if (want('migration')) {
      // 2. migration
      t = performance.now();
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

    if (want('records')) {
      // 3. single-record latency, two ways (see records())
      const gdb: Db = admin.use(dbs.catalog);
      for (const mode of ['seed', 'saturated'] as const) {
        const r = await records(gdb, blocks[0], dataset, mode);
        const all = [...r.ops.insert, ...r.ops.update, ...r.ops.delete];
        const how =
          mode === 'seed'
            ? `as the seed's test: insert, wait, modify, wait, delete, wait (wait ~ exponential, mean ${THINK_MS} ms)`
            : 'saturated: no wait between operations';
        console.log(
          `\n3${mode === 'seed' ? 'a' : 'b'}. single-record operations, ${RECORD_CLIENTS} concurrent clients, ${how}`,
        );
        console.log(
          `   ${all.length} operations in ${r.seconds.toFixed(1)} s (${(all.length / r.seconds).toFixed(0)} ops/s), ${r.failures} failures; the clients' own event-loop delay p99 ${r.clientLoopP99.toFixed(1)} ms`,
        );
        for (const k of ['insert', 'update', 'delete'] as const)
          console.log(
            `   ${k.padEnd(7)} p50 ${pct(r.ops[k], 50).toFixed(1)} ms  p99 ${pct(r.ops[k], 99).toFixed(1)} ms`,
          );
        console.log(
          `   all     p50 ${pct(all, 50).toFixed(1)} ms  p99 ${pct(all, 99).toFixed(1)} ms  max ${pct(all, 100).toFixed(1)} ms; vs AMGA ~3000 ms/op: x${(3000 / Math.max(0.1, pct(all, 50))).toFixed(0)} at p50; vs target p99 < 50 ms: ${(pct(all, 99) / 50).toFixed(2)}`,
        );
      }
    }
  } finally {
    for (const name of [...Object.values(dbs), globalDb, replicaDb])
      await admin.db.destroy(name).catch(() => undefined);
    // The reader account too: on a COUCHDB_URL server it would outlive the run.
    const users = admin.use<Record<string, unknown>>('_users');
    const id = `org.couchdb.user:${reader.name}`;
    await users
      .get(id)
      .then((d) => users.destroy(id, d._rev as string))
      .catch(() => undefined);
    await server.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
