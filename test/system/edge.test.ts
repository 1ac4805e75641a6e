/**
 * Edge submission through a WAN outage. Two edges (`couchstage edge` processes, each with its own
 * local databases on the test server, and its own link to central that the test cuts: a loopback
 * proxy, test/support/link.ts) take jobs' PUTs while central is unreachable from both, then while
 * one link stays cut longer; one edge is SIGKILLed while it drains and started again, and the other
 * link is reset mid-drain (connections cut and refused: how a central restart looks from an edge).
 * Central runs scheduler, worker (instant backend) and retrier (conflicts). Afterwards: no
 * submission failed, every file is done exactly once centrally (one successful attempt, one
 * finished transfer job, one document per file, no conflict left; some files were PUT both at an
 * edge and centrally), the edges show the final states, and their backlog is back to 0.
 *
 * Sizes: COUCHSTAGE_EDGE_TEST_FILES files in all (default 1,000, not the design's 5,000: on this
 * shared 2-core machine 1,000 files took 63-109 s on the embedded server and 115-153 s on CouchDB
 * 3.4.3, and the time grows with the files, while the whole suite must stay well under 45 minutes)
 * and outages of COUCHSTAGE_EDGE_TEST_OUTAGE_S seconds (default 20, the longer one 1.5x as long;
 * the design's two minutes: COUCHSTAGE_EDGE_TEST_OUTAGE_S=120). The central server itself is not
 * restarted (it is the test run's one server, shared with the other test files): cutting the link
 * is what a stopped central looks like from an edge.
 */
import { execFile, spawn, type ChildProcess } from 'child_process';
import * as path from 'path';
import { withCredentials } from '../../agents/platform/config';
import { EDGE_SITE_ROLE_PREFIX, Role, TERMINAL_STATES, type TransferDoc } from '../../views/schema';
import { configure, makeStorage, ROOT, startAgent, waitFor, type AgentProcess, type Storage } from '../support/agents';
import { createTestEnv, transferFixture, type TestEnv } from '../support/env';
import { openLink, type Link } from '../../scripts/bench/link';
import { checkEdges } from '../../scripts/ops/doctor/edge';
import type { Finding } from '../../scripts/ops/doctor';

const FILES = Number(process.env.COUCHSTAGE_EDGE_TEST_FILES || 1000);
const OUTAGE_MS = Number(process.env.COUCHSTAGE_EDGE_TEST_OUTAGE_S || 20) * 1000;
const DEST = 'T2_IT_Pisa';

jest.setTimeout(600_000);

interface EdgeProc {
  readonly site: string;
  readonly prefix: string;
  /** Central through this edge's link, as the edge account. */
  central: string;
  child: ChildProcess;
  output: string[];
  metricsUrl: Promise<string>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('edge submission through a WAN outage', () => {
  let env: TestEnv;
  let storage: Storage;
  let agents: AgentProcess[] = [];
  const edges: EdgeProc[] = [];
  const links: Link[] = [];
  const edgeAccounts: string[] = [];

  beforeAll(async () => {
    env = await createTestEnv();
    storage = makeStorage(['T2_CH_CERN', 'T2_US_MIT', DEST]);
    await configure(env, storage, { max_files_per_transfer: 100, lease_seconds: 30 }, [
      { source: 'T2_CH_CERN', destination: DEST, max_active: 1000 },
      { source: 'T2_US_MIT', destination: DEST, max_active: 1000 },
    ]);
  });
  afterAll(async () => {
    for (const e of edges) e.child.kill('SIGKILL');
    await Promise.all(agents.map((a) => a.stop()));
    await Promise.all(links.map((l) => l.close()));
    for (const e of edges)
      for (const db of ['transfers', 'catalog', 'config', 'service'])
        await env.admin.db.destroy(e.prefix + db).catch(() => undefined);
    const users = env.admin.use<{ _rev: string }>('_users');
    for (const n of edgeAccounts) {
      const d = await users.get('org.couchdb.user:' + n).catch(() => null);
      if (d) await users.destroy(d._id, d._rev);
    }
    await env?.cleanup();
    storage?.cleanup();
  });

  /** The edge account of `site` on central. */
  async function edgeAccount(site: string): Promise<string> {
    const name = `edge_${site.toLowerCase()}_${env.prefix.slice(5, 15)}`;
    await env.admin.use('_users').insert({
      _id: 'org.couchdb.user:' + name,
      name,
      type: 'user',
      roles: [Role.edge, EDGE_SITE_ROLE_PREFIX + site],
      password: env.password,
    } as never);
    edgeAccounts.push(name);
    return withCredentials(env.baseUrl, name, env.password);
  }

  function spawnEdge(e: EdgeProc): void {
    e.output = [];
    e.child = spawn(
      process.execPath,
      [
        path.join(ROOT, 'dist', 'cli.js'),
        'edge',
        '--site',
        e.site,
        '--local',
        env.adminUrl,
        '--local-prefix',
        e.prefix,
        '--central',
        e.central,
        '--metrics-port',
        '0',
        '--interval',
        '1',
      ],
      { env: { ...process.env, COUCHSTAGE_DB_PREFIX: env.prefix }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    e.metricsUrl = new Promise((resolve, reject) => {
      const seen = (b: Buffer) => {
        e.output.push(String(b));
        const m = /metrics: (http:\S+)/.exec(e.output.join(''));
        if (m) resolve(m[1]);
      };
      e.child.stdout!.on('data', seen);
      e.child.stderr!.on('data', (b) => e.output.push(String(b)));
      e.child.on('exit', (code) => reject(new Error(`edge ${e.site} exited ${code}: ${e.output.join('')}`)));
    });
    e.metricsUrl.catch(() => undefined);
  }

  async function metric(e: EdgeProc, name: string): Promise<number> {
    const text = await (await fetch(await e.metricsUrl)).text();
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : NaN;
  }

  async function until(what: string, check: () => Promise<boolean>, ms = 120_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await check().catch(() => false))) {
      if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
      await sleep(500);
    }
  }

  function files(site: string, from: number, to: number): Record<string, unknown>[] {
    const user = env.names.owner;
    return Array.from({ length: to - from }, (_, k) => {
      const i = from + k;
      const lfn = `/store/temp/user/${user}/edgewf/${site}/out_${i}.root`;
      return transferFixture(user, {
        workflow: 'edgewf',
        source: site,
        destination: DEST,
        source_lfn: lfn,
        destination_lfn: lfn.replace('/store/temp/user/', '/store/user/'),
        created_at: new Date().toISOString(),
      });
    });
  }

  /** PUTs each document as a job does (one request per file, 16 at a time); the statuses. */
  async function putAll(dbUrl: string, docs: readonly Record<string, unknown>[]): Promise<number[]> {
    const u = new URL(dbUrl);
    const auth = 'Basic ' + Buffer.from(`${env.names.owner}:${env.password}`).toString('base64');
    const statuses: number[] = [];
    let next = 0;
    const one = async () => {
      while (next < docs.length) {
        const d = docs[next++];
        const res = await fetch(`${u.origin}${u.pathname}/${d._id}`, {
          method: 'PUT',
          headers: { Authorization: auth, 'Content-Type': 'application/json' },
          body: JSON.stringify(d),
        });
        await res.arrayBuffer();
        statuses.push(res.status);
      }
    };
    await Promise.all(Array.from({ length: 16 }, one));
    return statuses;
  }

  /** `couchstage ARGS` on the test's databases: its output. */
  function cli(args: string[]): Promise<string> {
    return new Promise((resolve, reject) =>
      execFile(
        process.execPath,
        [path.join(ROOT, 'dist', 'cli.js'), ...args],
        { env: { ...process.env, COUCHSTAGE_DB_PREFIX: env.prefix } },
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}: ${stderr}`)) : resolve(stdout)),
      ),
    );
  }

  const localDb = (e: EdgeProc) => `${env.baseUrl}/${e.prefix}transfers`;

  it('loses, fails and duplicates nothing; the edges show the final states', async () => {
    agents = [
      startAgent(env, 'scheduler'),
      startAgent(env, 'worker', ['--backend', 'instant']),
      startAgent(env, 'retrier'),
    ];
    for (const site of ['T2_CH_CERN', 'T2_US_MIT']) {
      const link = await openLink(env.baseUrl);
      links.push(link);
      const central = link.url(await edgeAccount(site));
      const prefix = `${env.prefix}e${edges.length}_`;
      const e: EdgeProc = { site, prefix, central, child: null!, output: [], metricsUrl: null! };
      spawnEdge(e);
      edges.push(e);
      await e.metricsUrl;
    }
    const [a, b] = edges;
    const [linkA, linkB] = links;
    const half = Math.floor(FILES / 4);
    const docsA = files(a.site, 0, FILES / 2);
    const docsB = files(b.site, 0, FILES / 2);

    // Central unreachable from both edges: every submission still succeeds, at once.
    await Promise.all([linkA.cut(), linkB.cut()]);
    const outageStart = Date.now();
    const first = await Promise.all([
      putAll(localDb(a), docsA.slice(0, half)),
      putAll(localDb(b), docsB.slice(0, half)),
    ]);
    expect(first.flat().filter((s) => s !== 201)).toEqual([]);
    // Bad input gets central's answers at the edge, without the WAN.
    const bad = await putAll(localDb(a), [{ ...docsA[0], _id: 'not-the-sha224', state: 'done' }]);
    expect(bad).toEqual([403]);
    await until('edge A counts its backlog', async () => (await metric(a, 'couchstage_edge_backlog')) === half);
    expect(await metric(a, 'couchstage_edge_central_reachable')).toBe(0);
    expect(await metric(a, 'couchstage_edge_oldest_waiting_seconds')).toBeGreaterThan(0);
    const during: Finding[] = [];
    await checkEdges([await a.metricsUrl], Date.now(), (f) => during.push(f));
    expect(during).toMatchObject([
      { check: 'edge', level: 'warning', message: expect.stringMatching(/NOT reachable/) },
    ]);
    // A few of edge A's files are PUT centrally too (the same job retried against central).
    const twice = docsA.slice(0, 20);
    expect(await putAll(`${env.baseUrl}/${env.dbs.transfers}`, twice)).toEqual(twice.map(() => 201));
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - outageStart)));

    // B's link comes back; A's stays cut. The rest is submitted meanwhile.
    await linkB.restore();
    const second = await Promise.all([putAll(localDb(a), docsA.slice(half)), putAll(localDb(b), docsB.slice(half))]);
    expect(second.flat().filter((s) => s !== 201)).toEqual([]);
    // Edge B killed while it drains, started again; then its link reset mid-drain.
    await until('edge B pushes', async () => (await metric(b, 'couchstage_edge_docs_total{direction="push"}')) > 0);
    b.child.kill('SIGKILL');
    spawnEdge(b);
    await b.metricsUrl;
    await linkB.cut();
    await sleep(2000);
    await linkB.restore();
    await sleep(Math.max(0, OUTAGE_MS * 1.5 - (Date.now() - outageStart)));
    await until(
      'edge A counts all of its files',
      async () => (await metric(a, 'couchstage_edge_backlog')) === FILES / 2,
    );
    await linkA.restore();

    const ids = [...docsA, ...docsB].map((d) => String(d._id));
    const done: TransferDoc[] = await waitFor(env, ids, { ms: 400_000 });
    expect(done.filter((d) => d.state !== 'done').map((d) => `${d._id} ${d.state}`)).toEqual([]);
    expect(done.filter((d) => (d.attempts || []).filter((x) => !x.error).length !== 1).map((d) => d._id)).toEqual([]);
    const jobs = await env.admin
      .use(env.dbs.transfers)
      .find({ selector: { type: 'transfer_job', state: 'done' }, limit: 100_000 } as never);
    const perFile = new Map<string, number>();
    for (const j of jobs.docs as unknown as { files: { id: string }[] }[])
      for (const f of j.files) perFile.set(f.id, (perFile.get(f.id) || 0) + 1);
    expect(ids.filter((id) => perFile.get(id) !== 1)).toEqual([]);
    const all = await env.admin
      .use(env.dbs.transfers)
      .find({ selector: { type: 'transfer', workflow: 'edgewf' }, limit: 100_000 } as never);
    expect(all.docs).toHaveLength(FILES);
    await until('no conflict left centrally', async () => {
      const res = await env.admin.use(env.dbs.transfers).fetch({ keys: twice.map((d) => String(d._id)) }, {
        conflicts: true,
      } as never);
      return res.rows.every((r) => 'doc' in r && r.doc && !(r.doc as { _conflicts?: string[] })._conflicts);
    });

    // The edges show the final states, and have nothing left to send.
    for (const [e, docs] of [
      [a, docsA],
      [b, docsB],
    ] as const) {
      await until(`edge ${e.site} shows every file done`, async () => {
        const res = await env.admin.use(`${e.prefix}transfers`).fetch({ keys: docs.map((d) => String(d._id)) });
        return res.rows.every((r) => 'doc' in r && r.doc && TERMINAL_STATES.includes((r.doc as TransferDoc).state));
      });
      await until(`edge ${e.site} backlog 0`, async () => (await metric(e, 'couchstage_edge_backlog')) === 0);
      expect(await metric(e, 'couchstage_edge_last_replication_timestamp_seconds')).toBeGreaterThan(outageStart / 1000);
      expect(await metric(e, 'couchstage_edge_refused_total')).toBe(0);
      expect(e.output.join('')).not.toMatch(/ REFUSED: /);
    }
    // The operator's view: `couchstage doctor` reads the edges' metrics, `edge status` the store.
    const findings: Finding[] = [];
    await checkEdges(await Promise.all(edges.map((e) => e.metricsUrl)), Date.now(), (f) => findings.push(f));
    expect(findings.map((f) => f.level)).toEqual(['ok', 'ok']);
    expect(findings[0].message).toMatch(/^backlog 0, .* central reachable$/);
    b.child.kill('SIGKILL');
    const status = await cli([
      'edge',
      'status',
      '--site',
      b.site,
      '--local',
      env.adminUrl,
      '--local-prefix',
      b.prefix,
      '--central',
      b.central,
    ]);
    expect(status).toMatch(/^backlog: 0 document\(s\) not yet on central$/m);
    expect(status).toMatch(/^last successful replication: 20\d\d-/m);
  });
});
