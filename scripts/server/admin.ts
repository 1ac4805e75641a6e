/**
 * The embedded server's admin and the agent account's password, kept in `<stateDir>/server.json`
 * (state.ts) for the caller's other processes; later starts reuse them.
 *
 * prepareEmbeddedAdmin runs before the server starts (the supervisor calls it): it creates the
 * credentials once and writes the admin, hashed as CouchDB 3.4 hashes it, into the server's
 * config, so the server never runs without its admin (express-pouchdb without one serves every
 * request as an admin's). ensureEmbeddedAdmin runs once it listens and checks that the server
 * accepts them.
 */
import { randomBytes } from 'crypto';
import { configPath, ensureAdminInConfig } from './server-config';
import { readState, statePath, writeState, type EmbeddedState } from './state';

/** Where the state file lives, and the name of the account the caller's agents use. */
export interface AdminOptions {
  /** The folder of `server.json` (state.ts). */
  readonly stateDir: string;
  /** The agents' account, created with the credentials (default `agent`). */
  readonly agentName?: string;
}

function secret(): string {
  return randomBytes(18).toString('base64url');
}

/** Before the start: the credentials (created once) and the admin in `<serverDir>/config.json`. */
export async function prepareEmbeddedAdmin(opts: AdminOptions, serverDir: string): Promise<EmbeddedState> {
  const existing = readState(opts.stateDir);
  const state: EmbeddedState = existing ?? {
    url: '',
    admin: { name: 'admin', password: secret() },
    agent: { name: opts.agentName ?? 'agent', password: secret() },
  };
  try {
    await ensureAdminInConfig(configPath(serverDir), state.admin.name, state.admin.password);
  } catch (err) {
    throw new Error(
      `cannot set the embedded server's admin (${(err as Error).message}): ${serverDir} holds a server whose admin password is not in ${statePath(opts.stateDir)}; remove ${opts.stateDir} to start afresh`,
      { cause: err },
    );
  }
  writeState(opts.stateDir, state);
  return state;
}

/** Once the server listens: its admin must be the one in server.json; the URL is recorded. */
export async function ensureEmbeddedAdmin(
  opts: Pick<AdminOptions, 'stateDir'>,
  baseUrl: string,
): Promise<EmbeddedState> {
  const existing = readState(opts.stateDir);
  if (!existing)
    throw new Error(
      `no admin credentials in ${statePath(opts.stateDir)}: the server in ${opts.stateDir} was not started by the supervisor, which writes them first`,
    );
  const basic = Buffer.from(`${existing.admin.name}:${existing.admin.password}`).toString('base64');
  const check = await fetch(baseUrl.replace(/\/+$/, '') + '/_session', {
    headers: { Authorization: 'Basic ' + basic, 'Content-Type': 'application/json' },
  });
  const body = (await check.json()) as { userCtx?: { roles?: string[] } };
  if (!body.userCtx?.roles?.includes('_admin')) {
    throw new Error(
      `the admin credentials in ${statePath(opts.stateDir)} are not accepted by the server in ${opts.stateDir}`,
    );
  }
  const state = { ...existing, url: baseUrl };
  writeState(opts.stateDir, state);
  return state;
}
