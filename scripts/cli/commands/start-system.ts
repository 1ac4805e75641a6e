/**
 * The server half of `couchstage start`: the embedded server (supervised, its admin and agent
 * accounts created) or the CouchDB of COUCHDB_URL, then deploy with the accounts it needs (the
 * demo accounts among them). Apart from runStart because it is the part that owns the server:
 * everything else start runs (storage, agents, traffic) comes after it and stops before it.
 */
import * as path from 'path';
import { projectRoot, withCredentials, withoutCredentials, type Config } from '../../../agents/platform/config';
import { deploy, type UserSpec } from '../../deploy';
import { embeddedServerOptions } from '../../embedded-env';
import { ensureEmbeddedAdmin, Supervisor } from '../../server';
import { Role } from '../../../views/schema';

/**
 * Demo accounts, with known passwords: created by default only with the demo on the embedded server
 * (loopback only); on CouchDB only with --demo-users. --no-demo-users removes any that still have them.
 */
export const DEMO_USERS: readonly UserSpec[] = [
  { name: 'alice', password: 'alice-demo', roles: [Role.user] },
  { name: 'bob', password: 'bob-demo', roles: [Role.user] },
  { name: 'ops', password: 'ops-demo', roles: [Role.ops] },
];

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
