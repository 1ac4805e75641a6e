/**
 * The embedded server's settings as couchstage gives them to every embedded server it starts.
 * The environment is read by the one config module (agents/platform/config.ts); the server package
 * (scripts/server) takes these as typed options of its Supervisor and reads no environment itself.
 */
import type { SupervisorOptions } from './server';
import { loadEmbeddedServerConfig } from '../agents/platform/config';
import { Role } from '../views/schema';

export function embeddedServerOptions(
  env: NodeJS.ProcessEnv = process.env,
): Pick<SupervisorOptions, 'settings' | 'nodeArgs' | 'agentName' | 'portHint'> {
  const c = loadEmbeddedServerConfig(env);
  return {
    settings: { cacheMb: c.embeddedCacheMb, leveldbCacheMb: c.leveldbCacheMb, trace: c.trace },
    nodeArgs: c.nodeArgs,
    agentName: Role.agent,
    portHint: 'set COUCHSTAGE_PORT',
  };
}
