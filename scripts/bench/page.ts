/**
 * `npm run bench:page [-- N]`: the monitoring page's time to first complete render with N
 * transfer documents (default 100,000) on the embedded server (or COUCHDB_URL), in headless
 * chromium, to the page's `body[data-rendered]` marker; and what the monitor views cost to index.
 *
 * 1. Seeds N known documents with `_bulk_docs` as an admin (scripts/bench/monitor-seed.ts).
 * 2. Runs the real stats agent until its roll-up has seen all N (its catch-up time is printed).
 * 3. Opens the overview signed in as an operator, R times: first (cold) and median, and a
 *    drill-down into one workflow of the same user for comparison (its key range is small, but
 *    on a fresh index it builds the view index first: measured separately on a small db).
 * 4. Index cost: per monitor view, the time its first query takes to index M documents.
 * Prints figures and ratios; asserts nothing; stops by itself (every wait is bounded).
 */
import { spawn, type ChildProcess } from 'child_process';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { randomBytes } from 'crypto';
import { chromium, type Browser } from 'playwright-core';
import { loadToolConfig, projectRoot, withCredentials, withoutCredentials } from '../../agents/platform/config';
import { connect, type Db } from '../../agents/platform/couch';
import { get } from '../../agents/platform/docs';
import { dbNames, MONITOR_STATS_ID, Role, Views, type MonitorStatsDoc } from '../../views/schema';
import { deploy } from '../deploy';
import { seedSiteDocs, seedTransfers } from './monitor-seed';
import { benchServer, type BenchServer } from './server';

const RUNS = 5;
const INDEX_DOCS = loadToolConfig().benchIndexDocs;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function within<T>(ms: number, what: string, fn: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`bench: gave up waiting for ${what} after ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** One run: its server, the operator and agent accounts (one password), and its databases. */
interface Run {
  readonly server: BenchServer;
  readonly tag: string;
  /** The server's URL without credentials; each account connects with its own. */
  readonly base: string;
  readonly dbs: ReturnType<typeof dbNames>;
  readonly password: string;
  readonly ops: string;
  readonly agent: string;
  /** The transfers database, as an admin. */
  readonly db: Db;
  readonly users: string[];
  readonly n: number;
}

const out = (k: string, v: string) => console.log(`${k.padEnd(58)} ${v}`);

/** 1. The sites and N known transfers, with `_bulk_docs` as an admin. */
async function seed(run: Run): Promise<void> {
  const { server, dbs, db, users, n } = run;
  const t0 = performance.now();
  await connect(server.url).use(dbs.config).bulk({ docs: seedSiteDocs() });
  await seedTransfers(db, { users, n, workflowsPerUser: 10, spreadSeconds: 30 * 86400, now: new Date() });
  const seedS = (performance.now() - t0) / 1000;
  out('seeded with _bulk_docs (admin, validated)', `${seedS.toFixed(1)} s (${Math.round(n / seedS)} docs/s)`);
}

function startStatsAgent(run: Run): ChildProcess {
  return spawn(process.execPath, [path.join(projectRoot(), 'dist', 'cli.js'), 'agent', 'stats'], {
    env: {
      ...process.env,
      COUCHDB_URL: withCredentials(run.base, run.agent, run.password),
      COUCHSTAGE_DB_PREFIX: `bench_${run.tag}_`,
      COUCHSTAGE_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: loadToolConfig().chromiumPath,
    args: [
      '--no-sandbox',
      '--headless=new',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** 3. The overview signed in as an operator, RUNS times: the first (cold) render and the median. */
async function measureRenders(run: Run, browser: Browser): Promise<void> {
  const { base, dbs, ops, password, db } = run;
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const login = await context.request.post(`${base}/_session`, { data: { name: ops, password } });
  if (!login.ok()) throw new Error(`_session: ${login.status()}`);
  const url = `${base}/${dbs.transfers}/_design/monitor/index.html`;
  const times: number[] = [];
  const inPage: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const page = await context.newPage();
    if (loadToolConfig().benchTrace) {
      page.on('requestfinished', (r) => {
        const tm = r.timing();
        console.log(
          `  ${r.method()} ${r.url().replace(base, '').slice(0, 90)} start ${tm.startTime.toFixed(0)} ttfb ${tm.responseStart.toFixed(0)} end ${tm.responseEnd.toFixed(0)} ms`,
        );
      });
    }
    const t = performance.now();
    await page.goto(url);
    await page.waitForSelector('body[data-rendered=overview]', { timeout: 120_000 });
    times.push(performance.now() - t);
    inPage.push(Number(await page.evaluate(() => document.body.dataset.firstRenderMs)));
    await page.close();
  }
  out('overview, first complete render (cold page)', `${times[0].toFixed(0)} ms`);
  out(`overview, median of ${RUNS} renders`, `${median(times).toFixed(0)} ms`);
  out('  the same, measured in the page from navigation start', `first ${inPage[0]} ms, median ${median(inPage)} ms`);
  out('target: under 2000 ms; ratio median / target', (median(times) / 2000).toFixed(2));
  const stats = await get<MonitorStatsDoc>(db, MONITOR_STATS_ID);
  out('roll-up document size', `${(JSON.stringify(stats).length / 1024).toFixed(1)} KiB`);
  await context.close();
}

/** 4. Index cost of the monitor views, on a small separate db (the 100k db would take minutes per view). */
async function measureIndexCost(run: Run): Promise<void> {
  const { server, tag, users } = run;
  const small = dbNames(`bench_${tag}_idx_`);
  await deploy({ url: server.url, dbs: small, version: 'bench' });
  const sdb = connect(server.url).use<Record<string, unknown>>(small.transfers);
  await seedTransfers(sdb, { users, n: INDEX_DOCS, workflowsPerUser: 10, spreadSeconds: 86400, now: new Date() });
  const perDoc: Record<string, number> = {};
  let t0;
  for (const { ddoc, name: v } of [Views.totals, Views.byUser, Views.overview]) {
    t0 = performance.now();
    await sdb.view(ddoc, v, { limit: 1, reduce: false });
    perDoc[v] = (performance.now() - t0) / INDEX_DOCS;
    out(
      `index ${v} over ${INDEX_DOCS} docs`,
      `${((perDoc[v] * INDEX_DOCS) / 1000).toFixed(1)} s (${perDoc[v].toFixed(2)} ms/doc)`,
    );
  }
  out(
    'monitor views, index cost per document update (sum)',
    `${(perDoc.totals + perDoc.by_user + perDoc.overview).toFixed(2)} ms/doc`,
  );
  // totals is queried first and also pays the design document's first load: compare with by_user.
  out('ratio overview view (up to 4 emits) / by_user view (1 emit)', (perDoc.overview / perDoc.by_user).toFixed(2));
  t0 = performance.now();
  await sdb.view(Views.overview.ddoc, Views.overview.name, {
    group_level: 2,
    startkey: ['fail'],
    endkey: ['fail', {}],
  });
  out(`a reduce over ${INDEX_DOCS} docs' failure rows (indexed)`, `${(performance.now() - t0).toFixed(0)} ms`);
  t0 = performance.now();
  await sdb.view(Views.totals.ddoc, Views.totals.name, { group_level: 1 });
  out(`totals reduce over all ${INDEX_DOCS} docs (indexed)`, `${(performance.now() - t0).toFixed(0)} ms`);
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] || 100_000);
  const server = await benchServer();
  const tag = randomBytes(4).toString('hex');
  const dbs = dbNames(`bench_${tag}_`);
  const run: Run = {
    server,
    tag,
    base: withoutCredentials(server.url),
    dbs,
    password: 'pw-' + tag,
    ops: `ops_${tag}`,
    agent: `agent_${tag}`,
    db: connect(server.url).use<Record<string, unknown>>(dbs.transfers),
    users: Array.from({ length: 50 }, (_, i) => `user${String(i).padStart(2, '0')}`),
    n,
  };
  await deploy({
    url: server.url,
    dbs,
    version: 'bench',
    users: [
      { name: run.ops, password: run.password, roles: [Role.ops] },
      { name: run.agent, password: run.password, roles: [Role.agent] },
    ],
  });
  console.log(`bench:page on the ${server.kind} server, ${n} transfers`);
  await seed(run);

  // 2. The real stats agent until its roll-up has seen all N.
  const t0 = performance.now();
  const child = startStatsAgent(run);
  const browser = await launchBrowser();
  try {
    await within(240_000, 'the stats roll-up', async () => {
      const d = await get<MonitorStatsDoc>(run.db, MONITOR_STATS_ID);
      return d && d.transfers === n ? d : null;
    });
    out('stats agent: start to roll-up of every transfer written', `${((performance.now() - t0) / 1000).toFixed(1)} s`);
    await measureRenders(run, browser);
  } finally {
    await browser.close();
    child.kill('SIGTERM');
  }
  await measureIndexCost(run);
  await server.close();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
