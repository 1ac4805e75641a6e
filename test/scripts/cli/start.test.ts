/**
 * `couchstage start` as a user runs it: a child process `node dist/cli.js start` with its own data
 * directory and port, and its OWN embedded server (COUCHDB_URL is removed from its environment even
 * when the suite runs against CouchDB). Checked from the outside over HTTP: the page, the
 * databases, the demo sites, demo transfers reaching `done`, the agents' heartbeats and metrics,
 * an agent restarted after a crash; SIGTERM stops everything it started; a second start on the
 * same data reuses the credentials, the storage ports and the transfers. The demo users (known
 * passwords) are announced, removed by --no-demo-users, and never created on a COUCHDB_URL server.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { freePort, stopStorageElements } from '../../../scripts/se/xrootd';
import { adminUrl, randomName } from '../../support/env';
import { dbNames } from '../../../views/schema';
import { AGENT_NAMES } from '../../../agents/registry';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const SITES = ['T2_CH_CERN', 'T2_IT_Pisa', 'T1_US_FNAL'];
const DEMO_FILES = 40;

interface StartProcess {
  readonly child: ChildProcess;
  readonly output: string[];
  readonly exited: Promise<number | NodeJS.Signals | null>;
  /** Resolves with the output so far once a line matches, or rejects after `ms`. */
  waitFor(re: RegExp, ms: number): Promise<string>;
}

interface RunRecord {
  pid: number;
  server: { url: string; pid: number | null };
  agents: { name: string; pid: number | null; metrics_url: string; log: string; restarts: number }[];
  storage: { mode: string; sites: { name: string; endpoint: string; pid: number | null }[] } | null;
}

function startCouchstage(
  dataDir: string,
  port: number,
  args: string[],
  extraEnv: NodeJS.ProcessEnv = {},
): StartProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, COUCHSTAGE_DATA_DIR: dataDir, COUCHSTAGE_PORT: String(port) };
  for (const k of [
    'COUCHDB_URL',
    'COUCHSTAGE_DB_PREFIX',
    'COUCHSTAGE_USER',
    'COUCHSTAGE_PASSWORD',
    'COUCHSTAGE_AGENT_PASSWORD',
  ])
    delete env[k];
  Object.assign(env, extraEnv);
  const child = spawn(process.execPath, [CLI, 'start', ...args], {
    env,
    cwd: dataDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout!.on('data', (b) => output.push(String(b)));
  child.stderr!.on('data', (b) => output.push(String(b)));
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.on('exit', (code, sig) => resolve(code ?? sig)),
  );
  const waitFor = async (re: RegExp, ms: number) => {
    const deadline = Date.now() + ms;
    while (!re.test(output.join(''))) {
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(
          `no ${re} in the output of start (${child.exitCode === null ? 'timed out' : `exited ${child.exitCode}`}):\n${output.join('')}`,
        );
      await sleep(100);
    }
    return output.join('');
  };
  return { child, output, exited, waitFor };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The exit code, or 'still running' after `ms` (the timer is cleared: jest exits promptly). */
async function exitWithin(p: StartProcess, ms: number): Promise<number | NodeJS.Signals | null | 'still running'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'still running'>((r) => (timer = setTimeout(() => r('still running'), ms)));
  try {
    return await Promise.race([p.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Stops `p` with SIGTERM and expects exit code 0; otherwise fails with how it ended and its last output. */
async function expectCleanStop(p: StartProcess): Promise<void> {
  // Still running until told to stop (it once exited by itself when nothing kept it alive).
  expect(await exitWithin(p, 1_000)).toBe('still running');
  p.child.kill('SIGTERM');
  const how = await exitWithin(p, 20_000);
  if (how !== 0)
    throw new Error(
      `start ended with ${String(how)} after SIGTERM, not exit code 0; its last output:\n${p.output.join('').slice(-4000)}`,
    );
  expect(p.output.join('')).toMatch(/^stopped$/m); // its own ordered stop ran
}

/** Whether `pid` runs and its command line contains `marker` (not a recycled pid, not a zombie). */
function running(pid: number | null | undefined, marker: string): boolean {
  if (!pid) return false;
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').includes(marker);
  } catch {
    return false;
  }
}

async function get(url: string, auth?: [string, string]): Promise<{ status: number; body: string }> {
  const headers: Record<string, string> = auth
    ? { Authorization: 'Basic ' + Buffer.from(auth.join(':')).toString('base64') }
    : {};
  const res = await fetch(url, { headers });
  return { status: res.status, body: await res.text() };
}

async function poll<T>(what: string, ms: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => null);
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(500);
  }
}

describe('couchstage start runs the whole system', () => {
  let dataDir: string;
  let port: number;
  let base: string;
  let admin: [string, string];
  let first: StartProcess | null = null;
  let second: StartProcess | null = null;
  let run: RunRecord;
  let firstIds: string[] = [];

  const readRun = () => JSON.parse(fs.readFileSync(path.join(dataDir, 'run.json'), 'utf8')) as RunRecord;
  const transfers = async () => {
    const res = await get(`${base}/transfers/_all_docs?include_docs=true`, admin);
    return (JSON.parse(res.body) as { rows: { doc: Record<string, unknown> }[] }).rows.map((r) => r.doc);
  };

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-start-'));
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    for (const p of [first, second]) {
      if (p && p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGTERM');
        if ((await exitWithin(p, 20_000)) === 'still running') p.child.kill('SIGKILL');
      }
    }
    // Whatever a failed run left: agents, the server, storage elements.
    try {
      const r = readRun();
      for (const pid of [...r.agents.map((a) => a.pid), r.server.pid])
        if (running(pid, dataDir) || running(pid, CLI + ' agent')) process.kill(pid!, 'SIGKILL');
    } catch {
      /* no run.json */
    }
    await stopStorageElements(path.join(dataDir, 'se'));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('starts the server, storage, agents and demo traffic, and says so', async () => {
    first = startCouchstage(dataDir, port, ['--demo-files', String(DEMO_FILES)]);
    const out = await first.waitFor(/Press Ctrl-C/, 120_000);
    expect(out).toContain(`couchstage is running on the embedded server at ${base}`);
    for (const name of AGENT_NAMES)
      expect(out).toMatch(new RegExp(`\\n    ${name} +pid \\d+ +metrics http://127\\.0\\.0\\.1:\\d+/metrics`));
    expect(out).toMatch(/\n {2}storage: (xrootd|native)/);
    expect(out).toContain('\n  demo users: alice/alice-demo, bob/bob-demo, ops/ops-demo (operator)\n');
    expect(out).toMatch(
      /\n {4}known passwords: anyone who reaches http:\/\/127\.0\.0\.1:\d+ can sign in as them; --no-demo-users runs \(and removes them\) without\n/,
    );
    run = readRun();
    expect(run.agents.map((a) => a.name)).toEqual(AGENT_NAMES);
    for (const a of run.agents) expect(running(a.pid, `${CLI} agent ${a.name}`)).toBe(true);
    const state = JSON.parse(fs.readFileSync(path.join(dataDir, 'server.json'), 'utf8')) as {
      admin: { name: string; password: string };
    };
    admin = [state.admin.name, state.admin.password];
  }, 150_000);

  it('serves the monitoring page to a demo user, with the databases deployed', async () => {
    expect((await get(`${base}/transfers/_design/monitor/index.html`, ['alice', 'alice-demo'])).status).toBe(200);
    expect((await get(`${base}/transfers/_design/monitor/index.html`, ['alice', 'wrong'])).status).toBe(401);
    for (const db of ['transfers', 'catalog', 'config']) expect((await get(`${base}/${db}`, admin)).status).toBe(200);
  });

  it('configures the demo sites on the storage it started', async () => {
    const sites = run.storage!.sites;
    expect(sites.map((s) => s.name)).toEqual(SITES);
    for (const s of sites) {
      const doc = JSON.parse((await get(`${base}/config/site:${s.name}`, admin)).body) as {
        endpoints: Record<string, string>;
        tfc: { result: string }[];
      };
      expect(Object.values(doc.endpoints)).toEqual([s.endpoint]);
      expect(doc.tfc[0].result.startsWith(s.endpoint)).toBe(true);
      if (run.storage!.mode === 'xrootd') expect(running(s.pid, '/usr/bin/xrootd')).toBe(true);
    }
    expect((await get(`${base}/config/link:T2_CH_CERN:T1_US_FNAL`, admin)).body).toMatch(/"max_active":20/);
  });

  it('moves demo transfers to done, and submits no more than --demo-files', async () => {
    const done = await poll('a demo transfer in state done', 120_000, async () => {
      const docs = (await transfers()).filter((d) => d.type === 'transfer');
      return docs.some((d) => d.state === 'done') ? docs : null;
    });
    for (const d of done) {
      expect(['alice', 'bob']).toContain(d.user);
      expect(d.workflow).toMatch(/^demo_\d{8}_\d+$/);
    }
    await first!.waitFor(new RegExp(`stopping at the --demo-files limit of ${DEMO_FILES}\\b`), 120_000);
    const all = (await transfers()).filter((d) => d.type === 'transfer');
    expect(all).toHaveLength(DEMO_FILES);
    firstIds = all.map((d) => String(d._id));
  }, 250_000);

  it('runs three agents that write heartbeats and serve metrics', async () => {
    const beats = await poll('heartbeats of the three agents', 60_000, async () => {
      const agents = new Set((await transfers()).filter((d) => d.type === 'heartbeat').map((d) => d.agent));
      return AGENT_NAMES.every((a) => agents.has(a)) ? agents : null;
    });
    expect([...beats].sort()).toEqual([...AGENT_NAMES].sort());
    for (const a of run.agents) {
      const res = await get(a.metrics_url);
      expect(res.status).toBe(200);
      expect(res.body).toContain('couchstage_changes_total');
      expect(fs.readFileSync(a.log, 'utf8')).toMatch(new RegExp(`^${a.name} \\{`, 'm'));
    }
  }, 90_000);

  it('restarts an agent that dies', async () => {
    const retrier = run.agents.find((a) => a.name === 'retrier')!;
    process.kill(retrier.pid!, 'SIGKILL');
    await first!.waitFor(/agent retrier exited \(SIGKILL\); restarting in 1 s/, 10_000);
    const again = await poll('a new retrier process', 15_000, async () => {
      const a = readRun().agents.find((x) => x.name === 'retrier')!;
      return a.pid !== retrier.pid && running(a.pid, `${CLI} agent retrier`) ? a : null;
    });
    expect(again.restarts).toBe(1);
    run = readRun();
  }, 30_000);

  it('stops everything it started on SIGTERM, exiting 0', async () => {
    const seDir = path.join(dataDir, 'se');
    const dogs = (fs.existsSync(seDir) ? fs.readdirSync(seDir, { withFileTypes: true }) : []).flatMap((d) => {
      try {
        return [Number(fs.readFileSync(path.join(seDir, d.name, 'watchdog.pid'), 'utf8'))];
      } catch {
        return [];
      }
    });
    const t0 = Date.now();
    await expectCleanStop(first!);
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(first!.output.join('')).toMatch(/stopping \(SIGTERM\)[^\n]*\nstopped\n/);
    const left = [
      ...run.agents.map((a) => ({ what: a.name, alive: running(a.pid, `${CLI} agent`) })),
      { what: 'server', alive: running(run.server.pid, 'server.js') },
      ...(run.storage?.sites ?? []).map((s) => ({ what: `xrootd of ${s.name}`, alive: running(s.pid, 'xrootd') })),
      ...dogs.map((pid) => ({ what: `watchdog ${pid}`, alive: running(pid, 'kill -0') })),
    ].filter((p) => p.alive);
    expect(left).toEqual([]);
  }, 30_000);

  it('starts again on the same data: same credentials, same storage, the transfers still there; --no-demo-users removes the demo accounts', async () => {
    expect(firstIds).toHaveLength(DEMO_FILES);
    const before = fs.readFileSync(path.join(dataDir, 'server.json'), 'utf8');
    second = startCouchstage(dataDir, port, ['--no-traffic', '--no-demo-users']);
    const out = await second.waitFor(/Press Ctrl-C/, 120_000);
    expect(out).toMatch(/demo config: 0 documents created, 0 updated/);
    expect(out).not.toMatch(/demo traffic: alice and bob/);
    for (const u of ['alice', 'bob', 'ops']) {
      expect(out).toContain(`demo users: removed ${u}, which still had its demo password\n`);
      expect((await get(`${base}/_users/org.couchdb.user:${u}`, admin)).status).toBe(404);
    }
    expect(out).not.toMatch(/demo users: alice/);
    expect((await get(`${base}/_session`, ['alice', 'alice-demo'])).status).toBe(401);
    expect((await get(`${base}/transfers/_design/monitor/index.html`, ['ops', 'ops-demo'])).status).toBe(401);
    const state = JSON.parse(fs.readFileSync(path.join(dataDir, 'server.json'), 'utf8')) as {
      admin: { password: string };
    };
    expect(state.admin.password).toBe(JSON.parse(before).admin.password);
    expect(readRun().storage!.sites.map((s) => s.endpoint)).toEqual(run.storage!.sites.map((s) => s.endpoint));
    const docs = await transfers();
    const ids = new Set(docs.map((d) => String(d._id)));
    expect(firstIds.filter((id) => !ids.has(id))).toEqual([]);
    expect(docs.filter((d) => d.type === 'transfer')).toHaveLength(DEMO_FILES);
    await expectCleanStop(second);
  }, 150_000);

  it('continues the demo traffic where the last start stopped: nothing more at the same limit, the difference at a larger one', async () => {
    const count = async () => (await transfers()).filter((d) => d.type === 'transfer').length;
    const third = startCouchstage(dataDir, port, ['--demo-files', String(DEMO_FILES)]);
    second = third;
    let out = await third.waitFor(/Press Ctrl-C/, 120_000);
    expect(out).toContain(
      `demo traffic: alice and bob submit 3-20 files every 2-5 s, up to ${DEMO_FILES} files in all, ${DEMO_FILES} of them sent by earlier runs on this data: 0 to go`,
    );
    out = await third.waitFor(/demo traffic: none: earlier runs/, 30_000);
    expect(out).toContain(
      `demo traffic: none: earlier runs on this data already sent ${DEMO_FILES} files, the --demo-files limit of ${DEMO_FILES}`,
    );
    // Long enough for two batches (one every 2-5 s) had the traffic gone on.
    await sleep(11_000);
    expect(await count()).toBe(DEMO_FILES);
    await expectCleanStop(third);
    const fourth = startCouchstage(dataDir, port, ['--demo-files', String(DEMO_FILES + 5)]);
    second = fourth;
    out = await fourth.waitFor(/Press Ctrl-C/, 120_000);
    expect(out).toContain(
      `up to ${DEMO_FILES + 5} files in all, ${DEMO_FILES} of them sent by earlier runs on this data: 5 to go`,
    );
    await fourth.waitFor(new RegExp(`stopping at the --demo-files limit of ${DEMO_FILES + 5}\\b`), 60_000);
    expect(
      await poll('the 5 more transfers', 30_000, async () => ((await count()) === DEMO_FILES + 5 ? true : null)),
    ).toBe(true);
    await expectCleanStop(fourth);
  }, 300_000);
});

describe('couchstage start where COUCHDB_URL points at a server', () => {
  const DEMO = ['alice', 'bob', 'ops'];
  let dataDir: string;
  let proc: StartProcess | null = null;
  const url = adminUrl();
  const prefix = randomName('test_') + '_';
  const auth = (): [string, string] => {
    const u = new URL(url);
    return [decodeURIComponent(u.username), decodeURIComponent(u.password)];
  };
  const plain = () => {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/+$/, '');
  };
  /** The demo users' documents as they are now: status and revision. */
  const demoDocs = async () =>
    Promise.all(
      DEMO.map(async (name) => {
        const res = await get(`${plain()}/_users/org.couchdb.user:${name}`, auth());
        return {
          name,
          status: res.status,
          rev: res.status === 200 ? (JSON.parse(res.body) as { _rev: string })._rev : null,
        };
      }),
    );
  let before: Awaited<ReturnType<typeof demoDocs>> = [];

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-start-url-'));
    before = await demoDocs();
  });

  afterAll(async () => {
    if (proc && proc.child.exitCode === null && proc.child.signalCode === null) {
      proc.child.kill('SIGTERM');
      if ((await exitWithin(proc, 20_000)) === 'still running') proc.child.kill('SIGKILL');
    }
    await stopStorageElements(path.join(dataDir, 'se'));
    fs.rmSync(dataDir, { recursive: true, force: true });
    // Never leave known passwords on a shared server, even when the check below failed.
    for (const d of await demoDocs()) {
      const was = before.find((b) => b.name === d.name)!;
      if (was.status === 404 && d.rev)
        await fetch(`${plain()}/_users/org.couchdb.user:${d.name}?rev=${d.rev}`, {
          method: 'DELETE',
          headers: { Authorization: 'Basic ' + Buffer.from(auth().join(':')).toString('base64') },
        });
    }
    for (const db of Object.values(dbNames(prefix))) {
      await fetch(`${plain()}/${db}`, {
        method: 'DELETE',
        headers: { Authorization: 'Basic ' + Buffer.from(auth().join(':')).toString('base64') },
      });
    }
  }, 60_000);

  it('runs the demo asked for with --demo, without creating the demo users, and says how to get them', async () => {
    proc = startCouchstage(dataDir, await freePort(), ['--demo', '--no-traffic'], {
      COUCHDB_URL: url,
      COUCHSTAGE_DB_PREFIX: prefix,
    });
    const out = await proc.waitFor(/Press Ctrl-C/, 120_000);
    expect(out).toMatch(/demo config: \d+ documents created/); // written as the server admin
    expect(await demoDocs()).toEqual(before);
    expect(out).toContain('\n  demo users: none (known passwords; --demo-users creates alice, bob, ops)\n');
    await expectCleanStop(proc);
  }, 150_000);
});
