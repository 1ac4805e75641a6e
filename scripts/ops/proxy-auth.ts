/**
 * Proxy authentication for the TLS gateway (scripts/gateway), set by `deploy` as server admin
 * when COUCHSTAGE_PROXY_SECRET_FILE names the secret file: `[chttpd] authentication_handlers`
 * (the one list, scripts/server/authz/proxy.ts), `[chttpd_auth] proxy_use_secret = true` and
 * `[chttpd_auth] secret`, on every node of a CouchDB cluster and on the embedded server (its
 * `/_config`, express-pouchdb's route, server admins only as on CouchDB).
 *
 * The secret is the gateway's and the server's alone: whoever holds it can claim any name and
 * any role, `_admin` too. It lives in a file of mode 0600; a file others may read is refused.
 * CouchDB signs its session cookies with the same secret, so the first deploy takes the server's
 * own secret into the file when it has one (sessions stay valid) and makes one otherwise.
 * CouchDB reads the handler list only when it starts: after a change deploy says to restart.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import { capabilities } from '../../agents/platform/capabilities';
import { AUTH_HANDLERS } from '../server/authz/proxy';
import { http } from './http';

/** The lines a CouchDB node's local.ini needs (the secret is added by deploy or by hand). */
export const PROXY_INI = ['[chttpd]', `authentication_handlers = ${AUTH_HANDLERS}`];

/** The secret from its file; refuses a file others could read, or an empty one. */
export function readSecretFile(file: string): string {
  const st = fs.statSync(file);
  if ((st.mode & 0o077) !== 0)
    throw new Error(
      `${file}: the proxy secret must be readable by its owner alone (chmod 600), mode is ${(st.mode & 0o777).toString(8)}`,
    );
  const secret = fs.readFileSync(file, 'utf8').trim();
  if (secret.length < 16) throw new Error(`${file}: the proxy secret must have at least 16 characters`);
  return secret;
}

function writeSecretFile(file: string, secret: string): void {
  fs.writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' });
}

type Node = { path: (section: string, key: string) => string };

async function nodesOf(url: string): Promise<Node[]> {
  if (!(await capabilities(url)).serverConfig)
    return [{ path: (s, k) => `/_config/${encodeURIComponent(s)}/${encodeURIComponent(k)}` }];
  const m = await http<{ cluster_nodes?: string[] }>(url, 'GET', '/_membership');
  const names = m.status === 200 && m.body.cluster_nodes?.length ? m.body.cluster_nodes : ['_local'];
  return names.map((n) => ({
    path: (s: string, k: string) =>
      `/_node/${encodeURIComponent(n)}/_config/${encodeURIComponent(s)}/${encodeURIComponent(k)}`,
  }));
}

async function current(url: string, p: string): Promise<string | null> {
  const a = await http<unknown>(url, 'GET', p);
  if (a.status === 401 || a.status === 403)
    throw new Error(`proxy authentication: ${a.status} reading the server's settings; deploy must run as server admin`);
  return a.status === 200 && typeof a.body === 'string' ? a.body : null;
}

/**
 * Makes the server accept the gateway's proxy headers signed with the secret in `file` (created
 * if missing). Returns the secret. Idempotent: settings already in place are not written again.
 */
export async function configureProxyAuth(
  url: string,
  file: string,
  log: (l: string) => void = () => {},
): Promise<string> {
  const nodes = await nodesOf(url);
  let secret: string;
  if (fs.existsSync(file)) secret = readSecretFile(file);
  else {
    const existing = await current(url, nodes[0].path('chttpd_auth', 'secret'));
    secret = existing && existing.length >= 16 ? existing : randomBytes(32).toString('hex');
    writeSecretFile(file, secret);
    log(`proxy secret written to ${file} (mode 0600)${existing === secret ? ": the server's own secret" : ''}`);
  }
  const wanted: [string, string, string][] = [
    ['chttpd_auth', 'secret', secret],
    ['chttpd_auth', 'proxy_use_secret', 'true'],
    ['chttpd', 'authentication_handlers', AUTH_HANDLERS],
  ];
  let handlersChanged = false;
  for (const node of nodes) {
    for (const [section, key, value] of wanted) {
      const p = node.path(section, key);
      if ((await current(url, p)) === value) continue;
      const put = await http(url, 'PUT', p, { body: value });
      if (put.status !== 200) throw new Error(`setting [${section}] ${key}: ${put.status} ${JSON.stringify(put.body)}`);
      if (key === 'authentication_handlers') handlersChanged = true;
      log(`server setting [${section}] ${key} ${key === 'secret' ? 'set from ' + file : '= ' + value}`);
    }
  }
  if (handlersChanged && (await capabilities(url)).serverConfig)
    log('proxy authentication: restart every CouchDB node, which reads [chttpd] authentication_handlers only at start');
  return secret;
}
