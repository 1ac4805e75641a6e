/**
 * `couchstage start`: the whole system in one command. With no COUCHDB_URL, the embedded server
 * (supervised, restarted if it dies) on loopback, its admin created; with COUCHDB_URL, that server.
 * Then: deploy; with the demo (default on the embedded server), demo storage (XRootD storage
 * elements, or plain directories), the demo sites and links, and demo traffic; every agent of
 * agents/registry.ts as a supervised child process. Prints what runs and where, and
 * keeps running; Ctrl-C or SIGTERM stops traffic, agents, storage and the server, in that order.
 * What runs is recorded in <data>/run.json (pids, metrics URLs, logs).
 */
import * as path from 'path';
import { retireDemoUsers } from '../../demo/users';
import { loadConfig, projectRoot, withCredentials, type Config } from '../../../agents/platform/config';
import { AGENT_REGISTRY } from '../../../agents/registry';
import { Role } from '../../../views/schema';
import { AgentFleet } from '../../demo/agents';
import { writeDemoConfig } from '../../demo/config';
import { openDemoStorage, type DemoStorage } from '../../demo/storage';
import { DemoTraffic } from '../../demo/traffic';
import { agentPorts, readRunFile, stopLeftovers, writeRunFile, type RunRecord } from '../../demo/runfile';
import { stopSignals, type StopSignals } from '../../../agents/platform/signals';
import { DEMO_USERS, startSystem, type Started } from './start-system';

export { DEMO_USERS, startSystem, type Started } from './start-system';

export interface StartFlags {
  /** --demo / --no-demo; undefined: on for the embedded server, off on CouchDB. */
  readonly demo?: boolean;
  /** --demo-users / --no-demo-users; undefined: with the demo on the embedded server only. */
  readonly demoUsers?: boolean;
  /** --no-traffic turns the demo traffic off. */
  readonly traffic: boolean;
  /** --demo-files N: the most demo files written on this data directory, earlier starts included. */
  readonly demoFiles: number;
}

export const DEFAULT_DEMO_FILES = 2000;

export async function runStart(flags: StartFlags, out: (line: string) => void): Promise<number> {
  const cfg = loadConfig();
  const signals = stopSignals();
  const demo = flags.demo ?? !cfg.couchUrl;
  const demoUsers = flags.demoUsers ?? (demo && !cfg.couchUrl);
  const entry = path.join(projectRoot(), 'dist', 'cli.js');
  const runFile = path.join(cfg.dataDir, 'run.json');
  const previous = readRunFile(runFile);
  await stopLeftovers(previous, entry, cfg.couchUrl ? null : path.join(projectRoot(), 'dist', 'server.js'), out);

  const started = await startSystem(cfg, out, { demoUsers });
  if (!demoUsers) await retireDemoUsers(started.adminUrl, DEMO_USERS, flags.demoUsers === false, out);
  const run: Running = { started, storage: null, fleet: null, traffic: null };
  const record = () => writeRunFile(runFile, { server: started, fleet: run.fleet, storage: run.storage });
  const stopAll = leaveNothingRunning(run, runFile);
  try {
    if (demo) {
      run.storage = await openDemoStorage(cfg.dataDir, out);
      await writeDemoSites(cfg, started, run.storage, demoUsers, out);
    }
    if (started.agentUrl) {
      run.fleet = agentFleet(cfg, started.agentUrl, entry, out, record);
      await startAgents(run.fleet, previous, run.storage);
    } else {
      out(
        'agents: not started: on CouchDB, set COUCHSTAGE_AGENT_PASSWORD (the couchstage-agent account is created with it)',
      );
    }
    run.traffic = demoTraffic(cfg, flags, started, run.storage, run.fleet, demoUsers, out);
    run.traffic?.start();
    record();
  } catch (err) {
    await stopAll();
    throw err;
  }
  const { storage, fleet, traffic } = run;
  const parts = stopOrder(run);
  printSummary(
    cfg,
    {
      started,
      demo,
      demoUsers,
      storage,
      fleet,
      traffic: traffic ? { limit: flags.demoFiles, previous: traffic.previous } : null,
    },
    out,
  );
  out(`Press Ctrl-C (or kill -TERM ${process.pid}) to stop${parts ? ` ${parts}, in that order` : ''}.`);
  await stopRequested(signals, fleet, parts, out);
  await stopAll();
  out('stopped');
  return 0;
}

/** What a stop stops here, in its order ('' when nothing runs here: CouchDB without agents or demo). */
function stopOrder(run: Running): string {
  return [
    run.traffic && 'demo traffic',
    run.fleet && 'agents',
    run.storage?.mode === 'xrootd' && 'storage elements',
    run.started.supervisor && 'server',
  ]
    .filter(Boolean)
    .join(', ');
}

/** What start has running, filled in as each part starts (null: not started, or not run). */
interface Running {
  readonly started: Started;
  storage: DemoStorage | null;
  fleet: AgentFleet | null;
  traffic: DemoTraffic | null;
}

/**
 * The ordered stop (traffic, agents, then storage and server), recorded in the run file; and,
 * until it has run, an exit hook that signals whatever still runs.
 */
function leaveNothingRunning(run: Running, runFile: string): () => Promise<void> {
  // If start throws after this, or the process ends some other way, leave nothing running.
  let stopped = false;
  process.once('exit', () => {
    if (stopped) return;
    run.fleet?.signalAll();
    try {
      if (run.started.supervisor?.pid) process.kill(run.started.supervisor.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  });
  return async () => {
    await run.traffic?.stop();
    await run.fleet?.stop();
    await Promise.all([run.storage?.stop(), run.started.stop()]);
    stopped = true;
    writeRunFile(runFile, { server: run.started, fleet: run.fleet, storage: run.storage, stopped: true });
  };
}

/** The demo sites and links on the demo storage, written to the config database (as the demo operator). */
async function writeDemoSites(
  cfg: Config,
  started: Started,
  storage: DemoStorage,
  demoUsers: boolean,
  out: (line: string) => void,
): Promise<void> {
  const ops = DEMO_USERS.find((u) => u.roles.includes(Role.ops))!;
  const configUrl = demoUsers ? withCredentials(started.url, ops.name, ops.password) : started.adminUrl;
  const report = await writeDemoConfig(configUrl, cfg.dbs.config, storage.sites);
  out(
    `demo config: ${report.created.length} documents created, ${report.updated.length} updated (storage moved), ${report.kept.length} kept as they were`,
  );
}

/** The agents' fleet, run as the agents' account, not as whoever started couchstage. */
function agentFleet(
  cfg: Config,
  agentUrl: string,
  entry: string,
  out: (line: string) => void,
  record: () => void,
): AgentFleet {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    COUCHDB_URL: agentUrl,
    COUCHSTAGE_DB_PREFIX: cfg.dbPrefix,
  };
  delete env.COUCHSTAGE_USER;
  delete env.COUCHSTAGE_PASSWORD;
  return new AgentFleet({ entry, env, logDir: path.join(cfg.dataDir, 'logs'), notice: out, onChange: record });
}

/** Every agent of the registry, on the metrics ports of the previous run where they are still free. */
async function startAgents(fleet: AgentFleet, previous: RunRecord | null, storage: DemoStorage | null): Promise<void> {
  const ports = await agentPorts(
    previous,
    AGENT_REGISTRY.map((a) => a.name),
  );
  const backend = storage ? ['--backend', storage.backend] : [];
  fleet.start(
    AGENT_REGISTRY.map((a) => ({ name: a.name, metricsPort: ports[a.name], args: a.needsBackend ? backend : [] })),
  );
}

/** Demo traffic (not started yet), submitted as the demo users, where there are storage, agents and files to send. */
function demoTraffic(
  cfg: Config,
  flags: StartFlags,
  started: Started,
  storage: DemoStorage | null,
  fleet: AgentFleet | null,
  demoUsers: boolean,
  out: (line: string) => void,
): DemoTraffic | null {
  if (storage && fleet && flags.traffic && flags.demoFiles > 0 && !demoUsers) {
    out('demo traffic: off: it is submitted as the demo users alice and bob (--demo-users)');
  } else if (storage && fleet && flags.traffic && flags.demoFiles > 0) {
    const users = DEMO_USERS.filter((u) => u.roles.includes(Role.user));
    return new DemoTraffic({
      cfg,
      url: started.url,
      sites: storage.sites,
      users,
      maxFiles: flags.demoFiles,
      stateFile: path.join(cfg.dataDir, 'demo', 'traffic.json'),
      log: out,
    });
  }
  return null;
}

/** Waits for Ctrl-C or SIGTERM; a second signal kills the agents at once. */
async function stopRequested(
  signals: StopSignals,
  fleet: AgentFleet | null,
  parts: string,
  out: (line: string) => void,
): Promise<void> {
  // Signal listeners do not keep Node's event loop alive: on CouchDB with no agents and no
  // traffic nothing else did, and start exited at once after saying how to stop it, leaving its
  // storage elements to their watchdogs (and a SIGTERM that arrived while it exited killed it).
  const keepAlive = setInterval(() => undefined, 60_000);
  const sig = await signals.requested;
  clearInterval(keepAlive);
  // Agents that the same signal reached directly (a process group, a control group) exit now:
  // they must not be restarted while the rest stops.
  fleet?.holdRestarts();
  signals.onHurry(() => {
    out('stopping at once: agents killed without finishing the item in hand');
    fleet?.signalAll('SIGKILL');
  });
  out(`stopping (${sig}): ${parts || 'nothing runs here'}...`);
}

function printSummary(
  cfg: Config,
  s: {
    started: Started;
    demo: boolean;
    demoUsers: boolean;
    storage: DemoStorage | null;
    fleet: AgentFleet | null;
    traffic: { limit: number; previous: number } | null;
  },
  out: (line: string) => void,
): void {
  const { started, storage, fleet } = s;
  const rel = (p: string) =>
    path.relative(process.cwd(), p).startsWith('..') ? p : './' + path.relative(process.cwd(), p);
  out('');
  out(`couchstage is running on ${cfg.couchUrl ? 'CouchDB at ' : 'the embedded server at '}${started.url}`);
  out(`  monitoring page: ${started.url}/${cfg.dbs.transfers}/_design/monitor/index.html`);
  out(`  transfers db:    ${started.url}/${cfg.dbs.transfers}`);
  if (!cfg.couchUrl) out(`  admin credentials: ${rel(path.join(cfg.dataDir, 'server.json'))}`);
  if (s.demoUsers) {
    const who = DEMO_USERS.map((u) => `${u.name}/${u.password}${u.roles.includes(Role.ops) ? ' (operator)' : ''}`).join(
      ', ',
    );
    out(`  demo users: ${who}`);
    out(
      `    known passwords: anyone who reaches ${started.url} can sign in as them; --no-demo-users runs (and removes them) without`,
    );
  } else if (s.demo) {
    out(`  demo users: none (known passwords; --demo-users creates ${DEMO_USERS.map((u) => u.name).join(', ')})`);
  }
  if (fleet) {
    out(`  agents (logs in ${rel(path.join(cfg.dataDir, 'logs'))}/, restarted if they exit):`);
    for (const a of fleet.info) out(`    ${a.name.padEnd(9)} pid ${String(a.pid).padEnd(7)} metrics ${a.metrics_url}`);
  }
  if (storage) {
    out(
      storage.mode === 'xrootd'
        ? `  storage: xrootd, 3 storage elements under ${rel(path.join(cfg.dataDir, 'se'))}/ (worker backend gfal2)`
        : `  storage: native, directories under ${rel(path.join(cfg.dataDir, 'storage'))}/ (worker backend native; install xrootd-server and python3-gfal2 for XRootD)`,
    );
    for (const site of storage.sites) out(`    ${site.name.padEnd(11)} ${site.endpoint}`);
  }
  if (s.traffic) {
    const { limit, previous } = s.traffic;
    const earlier = previous
      ? `, ${previous} of them sent by earlier runs on this data: ${Math.max(0, limit - previous)} to go`
      : '';
    out(
      `  demo traffic: alice and bob submit 3-20 files every 2-5 s, up to ${limit} files in all${earlier} (--demo-files N, --no-traffic)`,
    );
  }
}
