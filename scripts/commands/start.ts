/**
 * `couchstage start`: with no COUCHDB_URL, start the embedded server (supervised, restarted if it
 * dies) on loopback, create its admin, deploy, and keep running; with COUCHDB_URL, deploy there.
 * Prints the URLs and the demo accounts. Ctrl-C stops everything it started.
 */
import * as path from 'path';
import { loadConfig, projectRoot, withCredentials, withoutCredentials, type Config } from '../../agents/lib/config';
import { deploy, type UserSpec } from '../deploy';
import { ensureEmbeddedAdmin } from '../server/admin';
import { Supervisor } from '../server/supervisor';
import { Role } from '../../views/schema';

/** Demo accounts for the embedded default only: known passwords, loopback only. */
export const DEMO_USERS: readonly UserSpec[] = [
  { name: 'alice', password: 'alice-demo', roles: [Role.user] },
  { name: 'bob', password: 'bob-demo', roles: [Role.user] },
  { name: 'ops', password: 'ops-demo', roles: [Role.ops] },
];

export interface Started {
  readonly url: string;
  readonly adminUrl: string;
  readonly supervisor: Supervisor | null;
  stop(): Promise<void>;
}

export async function startSystem(cfg: Config, log: (line: string) => void, opts: { demo: boolean }): Promise<Started> {
  let supervisor: Supervisor | null = null;
  let adminUrl: string;
  const users: UserSpec[] = [];
  if (cfg.couchUrl) {
    adminUrl = cfg.couchUrl;
    const agentPassword = process.env.COUCHSTAGE_AGENT_PASSWORD;
    if (agentPassword) users.push({ name: 'couchstage-agent', password: agentPassword, roles: [Role.agent] });
  } else {
    supervisor = new Supervisor({
      dataDir: path.join(cfg.dataDir, 'couchdb'),
      port: cfg.embeddedPort,
      entry: path.join(projectRoot(), 'dist', 'server.js'),
      log,
    });
    const base = await supervisor.start();
    const state = await ensureEmbeddedAdmin(cfg, base);
    adminUrl = withCredentials(base, state.admin.name, state.admin.password);
    users.push({ name: state.agent.name, password: state.agent.password, roles: [Role.agent] });
  }
  if (opts.demo) users.push(...DEMO_USERS);
  await deploy({ url: adminUrl, dbs: cfg.dbs, users, log: (l) => log('deploy: ' + l) });
  const url = withoutCredentials(adminUrl);
  return {
    url,
    adminUrl,
    supervisor,
    stop: async () => {
      if (supervisor) await supervisor.stop();
    },
  };
}

export async function runStart(demo: boolean, out: (line: string) => void): Promise<number> {
  const cfg = loadConfig();
  const started = await startSystem(cfg, out, { demo: demo && !cfg.couchUrl });
  out('');
  out(`couchstage is running on ${cfg.couchUrl ? 'CouchDB at ' : 'the embedded server at '}${started.url}`);
  out(`  monitoring page: ${started.url}/${cfg.dbs.transfers}/_design/monitor/index.html`);
  out(`  transfers db:    ${started.url}/${cfg.dbs.transfers}`);
  if (!cfg.couchUrl) {
    out(`  admin credentials: ${path.join(cfg.dataDir, 'server.json')}`);
    if (demo) out(`  demo users: ${DEMO_USERS.map((u) => `${u.name}/${u.password}`).join(', ')}`);
  }
  out('Press Ctrl-C to stop.');
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  out('stopping...');
  await started.stop();
  return 0;
}
