/**
 * `npm run bench:engine [-- --n 20000]`: figures behind two choices made for the embedded
 * server, measured on whichever server runs (COUCHDB_URL, else a fresh embedded one):
 *   1. the monitoring roll-up (one `_local` document the stats agent keeps) instead of reduce
 *      queries: time of `group_level` queries on the monitor views against one document read;
 *   2. lookups by primary key (LFN -> GUID as `file:<sha224(lfn)>`) instead of by a view key:
 *      `GET /db/<id>` against `_view/by_user?key=...&limit=1`, 20 clients at once.
 *   3. the agents' in-memory tracker instead of views or Mango queues: what one more index costs,
 *      as the time from its creation to its first answer over the seeded documents (a trivial JS
 *      view with CouchDB's background indexer off for it, and a Mango index on `state`).
 * Prints figures only; nothing is asserted (the machine is shared).
 */
import { randomBytes } from 'crypto';
import { performance } from 'perf_hooks';
import { dbNames, TransferState, type TransferDoc } from '../../views/schema';
import { deploy } from '../deploy';
import { connect } from '../../agents/platform/couch';
import { capabilities } from '../../agents/platform/capabilities';
import { http } from '../ops/http';
import { benchServer } from './server';
import { seedTransfers } from './monitor-seed';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function p99(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))];
}

async function timed(url: string, path: string): Promise<number> {
  const t = performance.now();
  const a = await http(url, 'GET', path);
  if (a.status !== 200) throw new Error(`${path}: ${a.status} ${JSON.stringify(a.body)}`);
  return performance.now() - t;
}

async function concurrent(url: string, paths: string[], clients: number): Promise<{ ms: number[]; perSecond: number }> {
  const ms: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < paths.length) ms.push(await timed(url, paths[next++]));
    }),
  );
  return { ms, perSecond: paths.length / ((performance.now() - t0) / 1000) };
}

type Dbs = ReturnType<typeof dbNames>;

/** 1. reduce queries on the monitor views against one document read (the roll-up). */
async function reduceVsRollup(url: string, dbs: Dbs, ddoc: string): Promise<void> {
  const rollup = { _id: '_local/bench-rollup', body: randomBytes(6000).toString('hex') };
  await http(url, 'PUT', `/${dbs.transfers}/${rollup._id}`, { body: rollup });
  for (const [what, path] of [
    ['totals group_level=1 (state totals)', `${ddoc}/totals?group_level=1`],
    ['by_user group_level=3 (per user and workflow)', `${ddoc}/by_user?group_level=3`],
    ['overview group_level=2', `${ddoc}/overview?group_level=2`],
    ['one 12 KB _local document (the roll-up read)', `/${dbs.transfers}/${rollup._id}`],
  ] as const) {
    const ms: number[] = [];
    for (let i = 0; i < 20; i++) ms.push(await timed(url, path));
    console.log(`${what}: median ${median(ms).toFixed(1)} ms, max ${Math.max(...ms).toFixed(1)} ms (20 in a row)`);
  }
}

/** 2. lookups by primary key against lookups by view key, 20 clients. */
async function keyLookups(url: string, dbs: Dbs, ddoc: string, seeded: TransferDoc[]): Promise<void> {
  const ids = seeded.slice(0, 1000).map((d) => d._id);
  const users = seeded.slice(0, 1000).map((d) => [d.user, d.workflow]);
  const byId = await concurrent(
    url,
    ids.map((id) => `/${dbs.transfers}/${id}`),
    20,
  );
  const byView = await concurrent(
    url,
    users.map((k) => `${ddoc}/by_user?reduce=false&limit=1&startkey=${encodeURIComponent(JSON.stringify(k))}`),
    20,
  );
  console.log(
    `1000 lookups by primary key, 20 clients: ${byId.perSecond.toFixed(0)}/s, median ${median(byId.ms).toFixed(1)} ms, p99 ${p99(byId.ms).toFixed(1)} ms`,
  );
  console.log(
    `1000 lookups by view key, 20 clients: ${byView.perSecond.toFixed(0)}/s, median ${median(byView.ms).toFixed(1)} ms, p99 ${p99(byView.ms).toFixed(1)} ms`,
  );
}

/** 3. what one more index costs: a trivial JS view and a Mango index, created to first answer. */
async function oneMoreIndex(url: string, dbs: Dbs, n: number): Promise<void> {
  let t = performance.now();
  await http(url, 'PUT', `/${dbs.transfers}/_design/bench-trivial`, {
    body: { autoupdate: false, views: { t: { map: 'function (doc) { emit(doc.state, null); }' } } },
  });
  await timed(url, `/${dbs.transfers}/_design/bench-trivial/_view/t?limit=1`);
  console.log(
    `one trivial JS view, created to first answer over ${n} documents: ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
  t = performance.now();
  await http(url, 'POST', `/${dbs.transfers}/_index`, {
    body: { index: { fields: ['state'] }, ddoc: 'bench-mango', name: 'state', type: 'json' },
  });
  const found = await http<{ docs: unknown[] }>(url, 'POST', `/${dbs.transfers}/_find`, {
    body: { selector: { state: TransferState.new }, use_index: 'bench-mango', limit: 500, fields: ['_id'] },
  });
  console.log(
    `one Mango index on state, created to first _find over ${n} documents: ${((performance.now() - t) / 1000).toFixed(1)} s (${found.body.docs?.length} of 500 asked)`,
  );
  const ms: number[] = [];
  for (let i = 0; i < 20; i++) {
    const q0 = performance.now();
    await http(url, 'POST', `/${dbs.transfers}/_find`, {
      body: { selector: { state: TransferState.new }, use_index: 'bench-mango', limit: 500, fields: ['_id'] },
    });
    ms.push(performance.now() - q0);
  }
  console.log(`_find state=new, 500 ids, index built: median ${median(ms).toFixed(1)} ms (20 in a row)`);
}

async function main(): Promise<void> {
  const n = arg('n', 20_000);
  const server = await benchServer();
  const prefix = `bench_engine_${randomBytes(4).toString('hex')}_`;
  const dbs = dbNames(prefix);
  try {
    const caps = await capabilities(server.url);
    console.log(`engine: ${caps.engine} ${caps.version} (stored reduce: ${caps.storedReduce}); ${n} transfers`);
    await deploy({ url: server.url, dbs, version: 'bench' });
    const db = connect(server.url).use<Record<string, unknown>>(dbs.transfers);
    const seeded = await seedTransfers(db, {
      users: ['alice', 'bob', 'carol'],
      n,
      workflowsPerUser: 5,
      spreadSeconds: 3600,
      now: new Date(),
    });
    const ddoc = `/${dbs.transfers}/_design/monitor/_view`;
    const build = await timed(server.url, `${ddoc}/totals?group_level=1`);
    // CouchDB's background indexer (ken) builds during the seed; the embedded server only at a query.
    console.log(`first query after the seed (the index build left to do): ${(build / 1000).toFixed(1)} s`);
    await reduceVsRollup(server.url, dbs, ddoc);
    await keyLookups(server.url, dbs, ddoc, seeded);
    await oneMoreIndex(server.url, dbs, n);
  } finally {
    for (const name of Object.values(dbs)) await http(server.url, 'DELETE', '/' + name).catch(() => undefined);
    await server.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
