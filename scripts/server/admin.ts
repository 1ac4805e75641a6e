/**
 * First start of the embedded server: create the server admin and the agent's password, and keep
 * them in <data>/server.json (mode 0600) for the other commands and the agents. Later starts
 * reuse them. The embedded server begins in "admin party" mode, so the first PUT needs no auth.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import { embeddedStatePath, readEmbeddedState, withCredentials, type Config, type EmbeddedState } from '../../agents/lib/config';

async function request(url: string, init: RequestInit = {}): Promise<Response> {
  const u = new URL(url);
  const headers: Record<string, string> = { 'Content-Type': 'application/json', ...(init.headers as Record<string, string>) };
  if (u.username) headers.Authorization = 'Basic ' + Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64');
  u.username = '';
  u.password = '';
  return fetch(u, { ...init, headers });
}

function secret(): string {
  return randomBytes(18).toString('base64url');
}

export async function ensureEmbeddedAdmin(cfg: Pick<Config, 'dataDir'>, baseUrl: string): Promise<EmbeddedState> {
  const existing = readEmbeddedState(cfg);
  if (existing) {
    const check = await request(withCredentials(baseUrl, existing.admin.name, existing.admin.password) + '/_session');
    const body = (await check.json()) as { userCtx?: { roles?: string[] } };
    if (!body.userCtx?.roles?.includes('_admin')) {
      throw new Error(`the admin credentials in ${embeddedStatePath(cfg)} are not accepted by the server in ${cfg.dataDir}`);
    }
    const state = { ...existing, url: baseUrl };
    fs.writeFileSync(embeddedStatePath(cfg), JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
    return state;
  }
  const state: EmbeddedState = {
    url: baseUrl,
    admin: { name: 'admin', password: secret() },
    agent: { name: 'couchstage-agent', password: secret() },
  };
  const res = await request(`${baseUrl}/_config/admins/${state.admin.name}`, { method: 'PUT', body: JSON.stringify(state.admin.password) });
  if (res.status !== 200) {
    throw new Error(`cannot create the embedded server's admin (HTTP ${res.status}): ${cfg.dataDir} holds a server whose admin password is not in ${embeddedStatePath(cfg)}; remove ${cfg.dataDir} to start afresh`);
  }
  fs.writeFileSync(embeddedStatePath(cfg), JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  return state;
}
