/**
 * `npm run bench:lifecycle [-- N [workers [jobs]]]`: control-plane throughput of couchstage. In one run on
 * the same server: the raw `_bulk_docs` rate of N transfer documents, then N transfers submitted
 * by a user and taken from PUT to done by real agent processes (scheduler and retrier in one, and
 * `workers` worker processes with `jobs` transfer jobs in flight each; default 1 worker, 2 jobs)
 * with the instant backend (no storage: this measures couchstage and CouchDB), and the
 * PUT-to-done latency p50/p99 under that load. Prints figures and ratios; asserts nothing.
 */
import { spawn, type ChildProcess } from 'child_process';
import { createHash, randomBytes } from 'crypto';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { logLevel, projectRoot, withCredentials, withoutCredentials } from '../../agents/platform/config';
import { connect, type Db } from '../../agents/platform/couch';
import { fetchDocs } from '../../agents/platform/bulk';
import { docsOf } from '../../agents/platform/docs';
import { DocId, dbNames, Role, TransferState, type TransferDoc } from '../../views/schema';
import { deploy, securityObject } from '../deploy';
import { benchServer, type BenchServer } from './server';

const BATCH = 500;

function docs(n: number, user: string, tag: string) {
  return Array.from({ length: n }, (_, i) => {
    const source_lfn = `/store/temp/user/${user}/${tag}/out_${i}.root`;
    return {
      _id: createHash('sha224').update(source_lfn).digest('hex'),
      type: 'transfer',
      user,
      workflow: tag,
      jobid: String(i),
      job_retry_count: 0,
      file_type: 'output',
      source: i % 2 ? 'T2_CH_CERN' : 'T2_DE_DESY',
      destination: 'T1_US_FNAL',
      source_lfn,
      destination_lfn: source_lfn.replace('/temp/', '/'),
      size: 1000,
      checksums: { adler32: '0badcafe' },
      publish: false,
      priority: 3,
      state: TransferState.new,
      created_at: '',
    };
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** One run: its server, accounts (all with the tag as password) and databases. */
interface Run {
  readonly server: BenchServer;
  readonly admin: ReturnType<typeof connect>;
  /** The server's URL without credentials; each account connects with its own. */
  readonly base: string;
  readonly tag: string;
  readonly prefix: string;
  readonly dbs: ReturnType<typeof dbNames>;
  readonly users: { submit: string; agent: string; ops: string };
}

/** The databases, the three accounts, and three sites with the two links between them. */
async function setUp(run: Run): Promise<void> {
  const { server, dbs, users, tag, base } = run;
  await deploy({
    url: server.url,
    dbs,
    version: 'bench',
    users: [
      { name: users.submit, password: tag, roles: [Role.user] },
      { name: users.agent, password: tag, roles: [Role.agent] },
      { name: users.ops, password: tag, roles: [Role.ops] },
    ],
  });
  const ops = connect(withCredentials(base, users.ops, tag)).use(dbs.config);
  const site = (name: string) => ({
    _id: DocId.site(name),
    type: 'site',
    name,
    endpoints: { file: `file:///bench/${name}` },
    tfc: [{ protocol: 'file', path_match: '/+(.*)', result: `file:///bench/${name}/$1` }],
  });
  await ops.bulk({
    docs: [
      site('T2_CH_CERN'),
      site('T2_DE_DESY'),
      site('T1_US_FNAL'),
      {
        _id: 'link:T2_CH_CERN:T1_US_FNAL',
        type: 'link',
        source: 'T2_CH_CERN',
        destination: 'T1_US_FNAL',
        max_active: 5000,
      },
      {
        _id: 'link:T2_DE_DESY:T1_US_FNAL',
        type: 'link',
        source: 'T2_DE_DESY',
        destination: 'T1_US_FNAL',
        max_active: 5000,
      },
    ],
  });
}

/** 1. Raw _bulk_docs rate of the same documents, no validation, no agents: docs/s. */
async function measureRawBulk(run: Run, n: number): Promise<number> {
  const { admin, prefix, users } = run;
  const rawDb = prefix + 'raw';
  await admin.db.create(rawDb);
  await admin.request({ db: rawDb, method: 'PUT', path: '_security', body: securityObject() });
  const raw = docs(n, users.submit, 'raw');
  const t0 = performance.now();
  for (let i = 0; i < n; i += BATCH)
    await admin
      .use(rawDb)
      .bulk({ docs: raw.slice(i, i + BATCH).map((d) => ({ ...d, created_at: new Date().toISOString() })) });
  return n / ((performance.now() - t0) / 1000);
}

/** Scheduler and retrier in one process, and `workers` workers on the instant backend. */
async function startAgents(run: Run, workers: number, jobs: number, children: ChildProcess[]): Promise<void> {
  const env = {
    ...process.env,
    COUCHDB_URL: withCredentials(run.base, run.users.agent, run.tag),
    COUCHSTAGE_DB_PREFIX: run.prefix,
    COUCHSTAGE_LOG_LEVEL: logLevel(process.env, 'warn'),
  };
  const cli = path.join(projectRoot(), 'dist', 'cli.js');
  const names = ['scheduler,retrier', ...Array.from({ length: workers }, () => 'worker')];
  for (const name of names)
    children.push(
      spawn(
        process.execPath,
        [cli, 'agent', name, ...(name === 'worker' ? ['--backend', 'instant', '--jobs', String(jobs)] : [])],
        { env, stdio: ['ignore', 'ignore', 'inherit'] },
      ),
    );
  await new Promise((r) => setTimeout(r, 3000)); // agents load and start following the feed
}

/** 2. The same number of transfers submitted by a user as fast as the server takes them, then waited for. */
async function measureControlPlane(
  run: Run,
  n: number,
): Promise<{ submitSeconds: number; seconds: number; latencies: number[]; t0wall: number }> {
  const userDb = connect(withCredentials(run.base, run.users.submit, run.tag)).use(run.dbs.transfers);
  const batch = docs(n, run.users.submit, 'run');
  const t0 = performance.now();
  const t0wall = Date.now();
  for (let i = 0; i < n; i += BATCH) {
    const res = await userDb.bulk({
      docs: batch.slice(i, i + BATCH).map((d) => ({ ...d, created_at: new Date().toISOString() })),
    });
    const bad = res.find((r) => r.error);
    if (bad) throw new Error(`submit refused: ${bad.error} ${bad.reason}`);
  }
  const submitSeconds = (performance.now() - t0) / 1000;
  const agentDb: Db = run.admin.use(run.dbs.transfers);
  await waitAllDone(
    agentDb,
    batch.map((d) => d._id),
    t0,
  );
  const seconds = (performance.now() - t0) / 1000;
  process.stderr.write('\n');
  const latencies: number[] = [];
  const all = await agentDb.list({ include_docs: true });
  for (const d of docsOf<TransferDoc>(all.rows)) {
    if (d.type === 'transfer' && d.finished_at) latencies.push(Date.parse(d.finished_at) - Date.parse(d.created_at));
  }
  latencies.sort((a, b) => a - b);
  return { submitSeconds, seconds, latencies, t0wall };
}

/**
 * Done is checked on the oldest outstanding documents by id: a view, a Mango query or a feed
 * with documents here would cost the server as much as an agent and slow down the run it
 * measures. While the oldest one is pending only it is read again (every 500 ms); once it is
 * done, the next 200 are read at once.
 */
async function waitAllDone(agentDb: Db, outstanding: string[], t0: number): Promise<void> {
  const n = outstanding.length;
  let checked = 0;
  let waiting = false;
  while (checked < n) {
    const keys = outstanding.slice(checked, checked + (waiting ? 1 : 200));
    const found = await fetchDocs<TransferDoc>(agentDb, keys);
    const firstPending = keys.findIndex((k) => found.get(k)?.state !== TransferState.done);
    waiting = firstPending >= 0;
    if (firstPending < 0) checked += keys.length;
    else {
      checked += firstPending;
      await new Promise((r) => setTimeout(r, 500));
    }
    process.stderr.write(`\r${checked}/${n} done after ${((performance.now() - t0) / 1000).toFixed(0)} s   `);
    if ((performance.now() - t0) / 1000 > 3600) throw new Error('gave up after an hour');
  }
}

/** Stops the agents, then removes the databases and the accounts. */
async function cleanUp(run: Run, children: ChildProcess[]): Promise<void> {
  const { admin } = run;
  for (const c of children) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1500));
  for (const name of [...Object.values(run.dbs), run.prefix + 'raw'])
    await admin.db.destroy(name).catch(() => undefined);
  for (const u of Object.values(run.users)) {
    await admin
      .use<{ _rev: string }>('_users')
      .get('org.couchdb.user:' + u)
      .then((d) => admin.use('_users').destroy(d._id, d._rev))
      .catch(() => undefined);
  }
  await run.server.close();
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] || 100000);
  const workers = Number(process.argv[3] || 1);
  const jobs = Number(process.argv[4] || 2);
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
    users: { submit: `bench_${tag}`, agent: `bench_agent_${tag}`, ops: `bench_ops_${tag}` },
  };
  const children: ChildProcess[] = [];
  try {
    await setUp(run);
    const rawRate = await measureRawBulk(run, n);
    await startAgents(run, workers, jobs, children);
    const { submitSeconds, seconds, latencies, t0wall } = await measureControlPlane(run, n);
    const rate = n / seconds;
    console.log(
      `server: ${server.kind}; ${n} transfers; ${workers} worker process(es) x ${jobs} jobs in flight (instant backend); started ${new Date(t0wall).toISOString()}`,
    );
    console.log(`raw _bulk_docs rate:                 ${rawRate.toFixed(0)} docs/s`);
    console.log(`user submission rate (validated):    ${(n / submitSeconds).toFixed(0)} docs/s`);
    console.log(`control plane, PUT to done:          ${rate.toFixed(0)} files/s (${seconds.toFixed(1)} s)`);
    console.log(`ratio control plane / raw bulk_docs: ${(rate / rawRate).toFixed(3)}`);
    console.log(
      `PUT-to-done latency:                 p50 ${(percentile(latencies, 50) / 1000).toFixed(2)} s, p99 ${(percentile(latencies, 99) / 1000).toFixed(2)} s`,
    );
    console.log(
      `ASO reference (seed 002):            600k files/day = ${(600000 / 86400).toFixed(1)} files/s; target 100x = 694 files/s`,
    );
  } finally {
    await cleanUp(run, children);
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
