/**
 * `npm run bench:datahandling [-- USERS FILES]`: data-handling throughput under parallel users
 * (seed 000: Belle II's replication needed one process per file and site, and its AMGA
 * bookkeeping took ~3 s per operation and failed past 25 parallel clients). In one run on one
 * server: USERS users (default 30) each own a dataset of FILES files (default 50) at site A
 * (native file storage in a temporary directory); all submit a replicate request to site B at
 * once, then all submit a delete request for both sites at once. Real agent processes (scheduler
 * + retrier, 2 workers, requests, deleter) on the native backend. Prints request submission
 * latency, request latency (PUT to done) p50/p99, files/s replicated and deleted, failures.
 * Asserts nothing; stops by itself (gives up after 10 minutes).
 */
import { fileIdOf, guidOf, replicaIdOf } from '../../views/lib/catalog-ids';
import { spawn, type ChildProcess } from 'child_process';
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { logLevel, projectRoot, withCredentials, withoutCredentials } from '../../agents/platform/config';
import { connect } from '../../agents/platform/couch';
import { fetchDocs } from '../../agents/platform/bulk';
import { put } from '../../agents/platform/docs';
import {
  DocId,
  CatalogId,
  dbNames,
  REQUEST_TERMINAL_STATES,
  Role,
  uuidFromHex,
  DataRequestState,
  type DataRequestDoc,
} from '../../views/schema';
import { adler32 } from '../../agents/backends/adler32';
import { deploy } from '../deploy';
import { requestId } from '../cli/commands/datahandling';
import { benchServer, type BenchServer } from './server';

const sha224 = (s: string) => createHash('sha224').update(s).digest('hex');
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

const SITES = ['T2_CH_CERN', 'T2_IT_Pisa'];

/** One run: its server, accounts (all with the tag as password), databases and storage directory. */
interface Run {
  readonly server: BenchServer;
  readonly admin: ReturnType<typeof connect>;
  /** The server's URL without credentials; each account connects with its own. */
  readonly base: string;
  readonly tag: string;
  readonly prefix: string;
  readonly dbs: ReturnType<typeof dbNames>;
  readonly users: string[];
  readonly agentUser: string;
  readonly opsUser: string;
  /** The sites' storage elements are directories under it. */
  readonly dir: string;
}

/** What one phase measured. */
interface PhaseResult {
  submitMs: number[];
  doneMs: number[];
  seconds: number;
  states: Record<string, number>;
  units: number;
}

const siteRoot = (run: Run, site: string) => path.join(run.dir, site);

/** The databases, the users, the agent and operator accounts, and the two sites with native file storage. */
async function setUp(run: Run): Promise<void> {
  const { server, dbs, users, agentUser, opsUser, tag, base } = run;
  await deploy({
    url: server.url,
    dbs,
    version: 'bench',
    users: [
      ...users.map((name) => ({ name, password: tag, roles: [Role.user] })),
      { name: agentUser, password: tag, roles: [Role.agent] },
      { name: opsUser, password: tag, roles: [Role.ops] },
    ],
  });
  const root = (s: string) => siteRoot(run, s);
  // A storage element's root exists before anything is copied to it: the native backend
  // resolves a destination's real path under its site root and refuses one that does not exist.
  for (const s of SITES) fs.mkdirSync(root(s), { recursive: true });
  await connect(withCredentials(base, opsUser, tag))
    .use(dbs.config)
    .bulk({
      docs: [
        ...SITES.map((name) => ({
          _id: DocId.site(name),
          type: 'site',
          name,
          endpoints: { file: 'file://' + root(name) },
          tfc: [{ protocol: 'file', path_match: '/+(.*)', result: `file://${root(name)}/$1` }],
        })),
        { _id: 'settings', type: 'settings', lease_seconds: 30 },
      ],
    });
}

/** Datasets: files on disk at A, catalogued with their replicas there. Returns the dataset of each user. */
async function seedDatasets(run: Run, nFiles: number): Promise<string[]> {
  const { users, tag, base, agentUser, dbs } = run;
  const siteA = siteRoot(run, SITES[0]);
  const now = new Date().toISOString();
  const datasets: string[] = [];
  const catalogDocs: Record<string, unknown>[] = [];
  for (const user of users) {
    const dataset = `/Bench${tag}/${user}-v1/USER`;
    const block = `${dataset}#${uuidFromHex(sha224(dataset))}`;
    datasets.push(dataset);
    for (let i = 0; i < nFiles; i++) {
      const lfn = `/store/user/${user}/bench/f${i}.root`;
      const data = randomBytes(1024);
      fs.mkdirSync(path.dirname(path.join(siteA, lfn)), { recursive: true });
      fs.writeFileSync(path.join(siteA, lfn), data);
      const sum = adler32(data);
      catalogDocs.push({
        _id: fileIdOf(lfn),
        type: 'file',
        lfn,
        guid: guidOf(lfn),
        size: 1024,
        adler32: sum,
        valid: true,
        block,
        dataset,
        owner: user,
        created_at: now,
      });
      catalogDocs.push({
        _id: replicaIdOf(lfn, SITES[0]),
        type: 'replica',
        lfn,
        site: SITES[0],
        block,
        dataset,
        size: 1024,
        created_at: now,
        owner: user,
      });
    }
    catalogDocs.push({
      _id: CatalogId.dataset(dataset),
      type: 'dataset',
      name: dataset,
      data_tier: 'USER',
      access_type: 'VALID',
      owner: user,
      created_at: now,
    });
  }
  const agentDb = connect(withCredentials(base, agentUser, tag));
  for (let i = 0; i < catalogDocs.length; i += 1000)
    await agentDb.use(dbs.catalog).bulk({ docs: catalogDocs.slice(i, i + 1000) });
  return datasets;
}

/** Real agent processes as the agent account: scheduler + retrier, 2 workers, requests, deleter. */
async function startAgents(run: Run, children: ChildProcess[]): Promise<void> {
  const env = {
    ...process.env,
    COUCHDB_URL: withCredentials(run.base, run.agentUser, run.tag),
    COUCHSTAGE_DB_PREFIX: run.prefix,
    COUCHSTAGE_LOG_LEVEL: logLevel(process.env, 'warn'),
  };
  const cli = path.join(projectRoot(), 'dist', 'cli.js');
  for (const name of ['scheduler,retrier', 'worker', 'worker', 'requests', 'deleter']) {
    children.push(
      spawn(process.execPath, [cli, 'agent', name, ...(name === 'scheduler,retrier' ? [] : ['--backend', 'native'])], {
        env,
        stdio: ['ignore', 'ignore', 'inherit'],
      }),
    );
  }
  await new Promise((r) => setTimeout(r, 3000));
}

/** All users submit one request each at once; returns submission and completion latencies. */
async function phase(
  run: Run,
  datasets: string[],
  kind: 'replicate' | 'delete',
  sitesOf: string[],
): Promise<PhaseResult> {
  const { users, base, tag, dbs, admin } = run;
  const t0 = performance.now();
  const submitMs: number[] = [];
  const started = new Map<string, number>();
  const ids = await Promise.all(
    users.map(async (user, i) => {
      const fields = {
        type: 'request' as const,
        kind,
        user,
        sites: sitesOf,
        dataset: datasets[i],
        created_at: new Date().toISOString(),
      };
      const doc = { _id: requestId(fields), ...fields, state: DataRequestState.new };
      const s = performance.now();
      await put(connect(withCredentials(base, user, tag)).use(dbs.transfers), doc);
      submitMs.push(performance.now() - s);
      started.set(doc._id, s);
      return doc._id;
    }),
  );
  const doneMs: number[] = [];
  const states: Record<string, number> = {};
  let units = 0;
  const open = new Set(ids);
  while (open.size) {
    if ((performance.now() - t0) / 1000 > 600)
      throw new Error(`${kind}: gave up after 10 minutes, ${open.size} requests open`);
    const found = await fetchDocs<DataRequestDoc>(admin.use(dbs.transfers), [...open]);
    for (const d of found.values()) {
      if (!REQUEST_TERMINAL_STATES.includes(d.state)) continue;
      open.delete(d._id);
      doneMs.push(performance.now() - started.get(d._id)!);
      states[d.state] = (states[d.state] || 0) + 1;
      units += d.progress?.done || 0;
    }
    process.stderr.write(
      `\r${kind}: ${ids.length - open.size}/${ids.length} requests done after ${((performance.now() - t0) / 1000).toFixed(0)} s   `,
    );
    if (open.size) await new Promise((r) => setTimeout(r, 250));
  }
  process.stderr.write('\n');
  return {
    submitMs: submitMs.sort((a, b) => a - b),
    doneMs: doneMs.sort((a, b) => a - b),
    seconds: (performance.now() - t0) / 1000,
    states,
    units,
  };
}

function report(run: Run, nFiles: number, rep: PhaseResult, del: PhaseResult): void {
  const left = fs.readdirSync(run.dir, { recursive: true }).filter((f) => String(f).endsWith('.root')).length;
  console.log(
    `server: ${run.server.kind}; ${run.users.length} users in parallel, ${nFiles} files each; agents: scheduler+retrier, 2 workers, requests, deleter (native backend)`,
  );
  for (const [name, p] of [
    ['replicate', rep],
    ['delete', del],
  ] as const) {
    console.log(
      `${name.padEnd(9)} requests: ${JSON.stringify(p.states)}; ${p.units} (file, site) copies in ${p.seconds.toFixed(1)} s = ${(p.units / p.seconds).toFixed(0)}/s`,
    );
    console.log(
      `${name.padEnd(9)} PUT of a request: p50 ${pct(p.submitMs, 50).toFixed(0)} ms, p99 ${pct(p.submitMs, 99).toFixed(0)} ms; PUT to done: p50 ${(pct(p.doneMs, 50) / 1000).toFixed(1)} s, p99 ${(pct(p.doneMs, 99) / 1000).toFixed(1)} s`,
    );
  }
  console.log(`files left on disk after deleting everything: ${left}`);
  console.log(
    `seed 000 reference: AMGA bookkeeping ~3 s per operation, failures past 25 parallel clients; replication one process per (file, site)`,
  );
}

/** Stops the agents, then removes the databases, the accounts and the storage directory. */
async function cleanUp(run: Run, children: ChildProcess[]): Promise<void> {
  const { admin } = run;
  for (const c of children) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1500));
  for (const name of Object.values(run.dbs)) await admin.db.destroy(name).catch(() => undefined);
  for (const u of [...run.users, run.agentUser, run.opsUser]) {
    await admin
      .use<{ _rev: string }>('_users')
      .get('org.couchdb.user:' + u)
      .then((d) => admin.use('_users').destroy(d._id, d._rev))
      .catch(() => undefined);
  }
  fs.rmSync(run.dir, { recursive: true, force: true });
  await run.server.close();
}

async function main(): Promise<void> {
  const nUsers = Number(process.argv[2] || 30);
  const nFiles = Number(process.argv[3] || 50);
  const server = await benchServer();
  const tag = randomBytes(4).toString('hex');
  const prefix = `bench_${tag}_`;
  const run: Run = {
    server,
    admin: connect(server.url),
    base: withoutCredentials(server.url),
    tag,
    prefix,
    dbs: dbNames(prefix),
    users: Array.from({ length: nUsers }, (_, i) => `bench_u${i}_${tag}`),
    agentUser: `bench_agent_${tag}`,
    opsUser: `bench_ops_${tag}`,
    dir: fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-bench-dh-')),
  };
  const children: ChildProcess[] = [];
  try {
    await setUp(run);
    const datasets = await seedDatasets(run, nFiles);
    await startAgents(run, children);
    const rep = await phase(run, datasets, 'replicate', [SITES[1]]);
    const del = await phase(run, datasets, 'delete', SITES);
    report(run, nFiles, rep, del);
  } finally {
    await cleanUp(run, children);
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
