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
import {
  loadConfig,
  projectRoot,
  withCredentials,
  withoutCredentials,
  type Config,
} from '../../../agents/platform/config';
import { AGENT_REGISTRY } from '../../../agents/registry';
import { deploy, type UserSpec } from '../../deploy';
import { embeddedServerOptions } from '../../embedded-env';
import { ensureEmbeddedAdmin, Supervisor } from '../../server';
import { Role } from '../../../views/schema';
import { AgentFleet } from '../../demo/agents';
import { writeDemoConfig } from '../../demo/config';
import { openDemoStorage, type DemoStorage } from '../../demo/storage';
import { DemoTraffic } from '../../demo/traffic';
import { agentPorts, readRunFile, stopLeftovers, writeRunFile } from '../../demo/runfile';
import { stopSignals } from '../../../agents/platform/signals';

/**
 * Demo accounts, with known passwords: created by default only with the demo on the embedded server
 * (loopback only); on CouchDB only with --demo-users. --no-demo-users removes any that still have them.
 */
export const DEMO_USERS: readonly UserSpec[] = [
  { name: 'alice', password: 'alice-demo', roles: [Role.user] },
  { name: 'bob', password: 'bob-demo', roles: [Role.user] },
  { name: 'ops', password: 'ops-demo', roles: [Role.ops] },
];

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

export interface Started {
  readonly url: string;
  readonly adminUrl: string;
  /** The agents' account, or null on CouchDB without COUCHSTAGE_AGENT_PASSWORD. */
  readonly agentUrl: string | null;
  readonly supervisor: Supervisor | null;
  stop(): Promise<void>;
}

export async function startSystem(
  cfg: Config,
  log: (line: string) => void,
  opts: { demoUsers: boolean },
): Promise<Started> {
  let supervisor: Supervisor | null = null;
  let adminUrl: string;
  let agentUrl: string | null = null;
  const users: UserSpec[] = [];
  if (cfg.couchUrl) {
    adminUrl = cfg.couchUrl;
    const agentPassword = cfg.agentPassword;
    if (agentPassword) {
      users.push({ name: 'couchstage-agent', password: agentPassword, roles: [Role.agent] });
      agentUrl = withCredentials(withoutCredentials(adminUrl), 'couchstage-agent', agentPassword);
    }
  } else {
    supervisor = new Supervisor({
      dataDir: path.join(cfg.dataDir, 'couchdb'),
      port: cfg.embeddedPort,
      entry: path.join(projectRoot(), 'dist', 'server.js'),
      log,
      detached: true,
      ...embeddedServerOptions(),
    });
    const base = await supervisor.start();
    const state = await ensureEmbeddedAdmin({ stateDir: cfg.dataDir }, base).catch(async (err) => {
      await supervisor!.stop();
      throw err;
    });
    adminUrl = withCredentials(base, state.admin.name, state.admin.password);
    agentUrl = withCredentials(base, state.agent.name, state.agent.password);
    users.push({ name: state.agent.name, password: state.agent.password, roles: [Role.agent] });
  }
  if (opts.demoUsers) users.push(...DEMO_USERS);
  try {
    await deploy({ url: adminUrl, dbs: cfg.dbs, users, log: (l) => log('deploy: ' + l) });
  } catch (err) {
    await supervisor?.stop();
    throw err;
  }
  const url = withoutCredentials(adminUrl);
  return {
    url,
    adminUrl,
    agentUrl,
    supervisor,
    stop: async () => {
      if (supervisor) await supervisor.stop();
    },
  };
}

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
  let storage: DemoStorage | null = null;
  let fleet: AgentFleet | null = null;
  let traffic: DemoTraffic | null = null;
  const record = () => writeRunFile(runFile, { server: started, fleet, storage });
  // If anything below throws, or the process ends some other way, leave nothing running.
  let stopped = false;
  process.once('exit', () => {
    if (stopped) return;
    fleet?.signalAll();
    try {
      if (started.supervisor?.pid) process.kill(started.supervisor.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  });
  const stopAll = async () => {
    await traffic?.stop();
    await fleet?.stop();
    await Promise.all([storage?.stop(), started.stop()]);
    stopped = true;
    writeRunFile(runFile, { server: started, fleet, storage, stopped: true });
  };
  try {
    if (demo) {
      storage = await openDemoStorage(cfg.dataDir, out);
      const ops = DEMO_USERS.find((u) => u.roles.includes(Role.ops))!;
      const configUrl = demoUsers ? withCredentials(started.url, ops.name, ops.password) : started.adminUrl;
      const report = await writeDemoConfig(configUrl, cfg.dbs.config, storage.sites);
      out(
        `demo config: ${report.created.length} documents created, ${report.updated.length} updated (storage moved), ${report.kept.length} kept as they were`,
      );
    }
    if (started.agentUrl) {
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        COUCHDB_URL: started.agentUrl,
        COUCHSTAGE_DB_PREFIX: cfg.dbPrefix,
      };
      delete env.COUCHSTAGE_USER;
      delete env.COUCHSTAGE_PASSWORD;
      fleet = new AgentFleet({ entry, env, logDir: path.join(cfg.dataDir, 'logs'), notice: out, onChange: record });
      const ports = await agentPorts(
        previous,
        AGENT_REGISTRY.map((a) => a.name),
      );
      const backend = storage ? ['--backend', storage.backend] : [];
      fleet.start(
        AGENT_REGISTRY.map((a) => ({ name: a.name, metricsPort: ports[a.name], args: a.needsBackend ? backend : [] })),
      );
    } else {
      out(
        'agents: not started: on CouchDB, set COUCHSTAGE_AGENT_PASSWORD (the couchstage-agent account is created with it)',
      );
    }
    if (storage && fleet && flags.traffic && flags.demoFiles > 0 && !demoUsers) {
      out('demo traffic: off: it is submitted as the demo users alice and bob (--demo-users)');
    } else if (storage && fleet && flags.traffic && flags.demoFiles > 0) {
      const users = DEMO_USERS.filter((u) => u.roles.includes(Role.user));
      traffic = new DemoTraffic({
        cfg,
        url: started.url,
        sites: storage.sites,
        users,
        maxFiles: flags.demoFiles,
        stateFile: path.join(cfg.dataDir, 'demo', 'traffic.json'),
        log: out,
      });
      traffic.start();
    }
    record();
  } catch (err) {
    await stopAll();
    throw err;
  }
  const parts = [
    traffic && 'demo traffic',
    fleet && 'agents',
    storage?.mode === 'xrootd' && 'storage elements',
    started.supervisor && 'server',
  ]
    .filter(Boolean)
    .join(', ');
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
  const sig = await signals.requested;
  // Agents that the same signal reached directly (a process group, a control group) exit now:
  // they must not be restarted while the rest stops.
  fleet?.holdRestarts();
  signals.onHurry(() => {
    out('stopping at once: agents killed without finishing the item in hand');
    fleet?.signalAll('SIGKILL');
  });
  out(`stopping (${sig}): ${parts || 'nothing runs here'}...`);
  await stopAll();
  out('stopped');
  return 0;
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
