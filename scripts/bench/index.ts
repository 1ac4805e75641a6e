/**
 * `npm run bench:index [-- N]` (default 100000): view index cost, seed 002's problem (ASO: 800k
 * documents, 33 views, 28 h to index before view hygiene, 25 min after). In one run on the same
 * server: N transfer documents in a realistic mix of states; the full index build of every view
 * of every design doc in DESIGNS (time, docs/s, and a linear estimate for 800k); then a staged
 * upgrade end to end (`upgrade` adding one view: upload, staged build, COPY, clean-up) and the
 * first query on the live doc after the swap, against a query that had to build. Prints figures,
 * asserts nothing, stops by itself.
 */
import { createHash, randomBytes } from 'crypto';
import { performance } from 'perf_hooks';
import { DESIGNS, buildDesign } from '../../design';
import { projectRoot } from '../../agents/platform/config';
import { dbNames, TransferState } from '../../views/schema';
import { deploy } from '../deploy';
import { buildIndexes } from '../ops/index-build';
import { http } from '../ops/http';
import { upgrade } from '../ops/upgrade';
import { benchServer, type BenchServer } from './server';

const STATES = Object.values(TransferState);

function doc(i: number, tag: string) {
  const source_lfn = `/store/temp/user/u${i % 50}/${tag}/out_${i}.root`;
  const state = STATES[i % STATES.length];
  return {
    _id: createHash('sha224').update(source_lfn).digest('hex'),
    type: 'transfer',
    user: `u${i % 50}`,
    workflow: `${tag}_${i % 200}`,
    jobid: String(i),
    job_retry_count: 0,
    file_type: 'output',
    source: ['T2_CH_CERN', 'T2_DE_DESY', 'T2_IT_Pisa'][i % 3],
    destination: 'T1_US_FNAL',
    source_lfn,
    destination_lfn: source_lfn.replace('/temp/', '/'),
    size: 1000 + (i % 5000),
    checksums: { adler32: '0badcafe' },
    publish: false,
    priority: 3,
    state,
    created_at: new Date(Date.now() - (i % 1000) * 60_000).toISOString(),
  };
}

type Dbs = ReturnType<typeof dbNames>;

/** N transfer documents into a fresh transfers database, before any design document. */
async function insertDocs(server: BenchServer, dbs: Dbs, n: number, tag: string): Promise<void> {
  // The documents go in before the design documents: CouchDB indexes in the background as soon
  // as a design document exists (its ken service), so with the views deployed first the insert
  // ran 43 min beside the indexer (800k, validated) and the "full build" that followed measured
  // only the last 30 s of it. Deployed afterwards, the build below is the whole build.
  const created = await http(server.url, 'PUT', `/${dbs.transfers}`);
  if (created.status !== 201)
    throw new Error(`creating ${dbs.transfers}: ${created.status} ${JSON.stringify(created.body)}`);
  const t0 = performance.now();
  for (let i = 0; i < n; i += 1000) {
    const docs = Array.from({ length: Math.min(1000, n - i) }, (_, j) => doc(i + j, tag));
    const a = await http<{ error?: string }[]>(server.url, 'POST', `/${dbs.transfers}/_bulk_docs`, {
      body: { docs },
    });
    if (a.status !== 201 || a.body.some((r) => r.error))
      throw new Error(`bulk insert failed: ${JSON.stringify(a.body).slice(0, 300)}`);
  }
  console.log(
    `server: ${server.kind}; ${n} transfer docs inserted in ${((performance.now() - t0) / 1000).toFixed(1)} s (before any design document)`,
  );
}

/** Full build of the whole view set (everything DESIGNS registers today), with its figures. */
async function fullBuild(server: BenchServer, dbs: Dbs, root: string, n: number): Promise<void> {
  let views = 0;
  const t1 = performance.now();
  for (const spec of DESIGNS) {
    if (!spec.views) continue;
    const built = await buildDesign(spec, root, 'bench');
    const r = await buildIndexes(server.url, dbs[spec.db], built.id, spec.views, {
      log: (l) => console.log(l),
      pollMs: 10_000,
    });
    views += r.views;
  }
  const full = (performance.now() - t1) / 1000;
  const rate = n / full;
  console.log(
    `full index build: ${views} views over ${n} docs in ${full.toFixed(1)} s = ${rate.toFixed(0)} docs/s (${(rate * views).toFixed(0)} doc-views/s)`,
  );
  console.log(
    `  linear estimate for 800k docs with these ${views} views: ${(800_000 / rate / 60).toFixed(1)} min; with ASO's 30 views: ${((800_000 * 30) / (rate * views) / 3600).toFixed(1)} h (ASO: 25 min after view hygiene, 28 h before)`,
  );
}

/** A staged upgrade end to end: one more view on the transfers monitor, then its first query. */
async function stagedUpgrade(server: BenchServer, dbs: Dbs): Promise<void> {
  const designs = DESIGNS.map((s) =>
    s.db === 'transfers' && s.name === 'monitor'
      ? {
          ...s,
          views: {
            ...(s.views || {}),
            bench_by_destination: { map: 'test/fixtures/design/by_destination/map.ts', reduce: '_sum' as const },
          },
        }
      : s,
  );
  const t2 = performance.now();
  const steps = await upgrade({
    url: server.url,
    dbs,
    designs,
    version: 'bench-v2',
    log: (l) => console.log(l),
    pollMs: 10_000,
  });
  const up = (performance.now() - t2) / 1000;
  const staged = steps.find((s) => s.action === 'staged');
  const t3 = performance.now();
  const q = await http(
    server.url,
    'GET',
    `/${dbs.transfers}/_design/monitor/_view/bench_by_destination?limit=1&reduce=false`,
  );
  const first = (performance.now() - t3) / 1000;
  console.log(
    `staged upgrade end to end: ${up.toFixed(1)} s (staged build ${staged?.build?.seconds.toFixed(1)} s), first query on the new live view after the swap: ${(first * 1000).toFixed(0)} ms (status ${q.status})`,
  );
  console.log(
    `  ratio staged build / first query after swap: ${((staged?.build?.seconds || 0) / Math.max(first, 0.001)).toFixed(0)}x (the swap reused the index)`,
  );
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] || 100000);
  const server = await benchServer();
  const tag = randomBytes(4).toString('hex');
  const dbs = dbNames(`bench_${tag}_`);
  const root = projectRoot();
  try {
    await insertDocs(server, dbs, n, tag);
    await deploy({ url: server.url, dbs, version: 'bench' });
    await fullBuild(server, dbs, root, n);
    await stagedUpgrade(server, dbs);
  } finally {
    for (const db of Object.values(dbs)) await http(server.url, 'DELETE', `/${db}`).catch(() => undefined);
    await server.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
