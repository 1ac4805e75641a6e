/**
 * `couchstage deploy --jwt-jwks FILE --jwt-issuer ISS`: the server settings that make a token
 * issuer's Bearer tokens sign users in, the same settings on both engines (CouchDB 3.4's
 * `jwt_authentication_handler`, and scripts/server/authz/jwt.ts which reads them as CouchDB does).
 *
 * - `[jwt_keys] rsa:<kid>` / `ec:<kid>`: each signing key of the JWKS (RS256/ES256 and their
 *   wider kin), as PEM with newlines written `\n` (CouchDB's format); `_default` for a key
 *   without `kid`. Keys no longer in the JWKS are removed, so a withdrawn key stops at once.
 * - `[jwt_auth] required_claims = exp, nbf, {iss, "<issuer>"}`: CouchDB checks a claim only if
 *   it is listed (an `nbf` in the future passes otherwise) and compares `iss` with one value;
 *   its keys are not bound to an issuer, so one issuer per deployment is the allow-list.
 * - `[jwt_auth] roles_claim_path` (default `wlcg\.groups`): the token's groups become roles.
 * - `[chttpd] authentication_handlers` with the JWT handler (CouchDB only; the embedded server
 *   always has it). CouchDB reads that list at start only: deploy says when a restart is needed.
 * Settings already as wanted are left alone; every change is logged `[section] key: old -> new`.
 */
import { createPublicKey } from 'crypto';
import * as fs from 'fs';
import { capabilities } from '../../agents/platform/capabilities';
import { AUTH_HANDLERS } from '../server/authz/proxy';
import { http } from './http';

export interface JwtDeploy {
  /** A JWKS file (`{"keys": [...]}`), the issuer's public keys. */
  readonly jwksFile: string;
  /** The one issuer accepted (`iss`, exactly). */
  readonly issuer: string;
  /** Where the token's groups are (CouchDB's roles_claim_path syntax: `.` nests, `\.` is a dot). */
  readonly rolesClaim?: string;
}

export const DEFAULT_ROLES_CLAIM = 'wlcg\\.groups';

interface Jwk {
  kty?: string;
  kid?: string;
  use?: string;
  alg?: string;
}

/** `[jwt_keys]` entries of a JWKS: name (`rsa:<kid>`) -> escaped PEM. Refuses what CouchDB could not use. */
export function jwtKeysOf(jwks: unknown, source = 'JWKS'): Map<string, string> {
  const keys = (jwks as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || !keys.length) throw new Error(`${source}: no "keys" array`);
  const out = new Map<string, string>();
  for (const k of keys as Jwk[]) {
    if (k.use !== undefined && k.use !== 'sig') continue;
    const kid = k.kid === undefined ? '_default' : String(k.kid);
    if (!/^[A-Za-z0-9._~+/-]+$/.test(kid))
      throw new Error(`${source}: kid ${JSON.stringify(kid)} cannot be a setting name`);
    const kty = k.kty === 'RSA' ? 'rsa' : k.kty === 'EC' ? 'ec' : null;
    if (!kty) throw new Error(`${source}: key ${kid}: kty ${JSON.stringify(k.kty)} (only RSA and EC public keys)`);
    if ('d' in k) throw new Error(`${source}: key ${kid} is a private key; give the issuer's public keys`);
    let pem: string;
    try {
      pem = createPublicKey({ key: k as import('crypto').JsonWebKey, format: 'jwk' })
        .export({ type: 'spki', format: 'pem' })
        .toString();
    } catch (err) {
      throw new Error(`${source}: key ${kid}: ${(err as Error).message}`, { cause: err });
    }
    const name = `${kty}:${kid}`;
    if (out.has(name)) throw new Error(`${source}: two keys with kid ${kid}`);
    out.set(name, pem.replace(/\n/g, '\\n'));
  }
  if (!out.size) throw new Error(`${source}: no signing keys`);
  return out;
}

export function requiredClaims(issuer: string): string {
  if (!issuer || /["{},\s]/.test(issuer)) throw new Error(`--jwt-issuer ${JSON.stringify(issuer)}: one issuer URL`);
  return `exp, nbf, {iss, "${issuer}"}`;
}

type Put = { section: string; key: string; value: string | null };

/** The settings to write; null: remove. */
export function jwtSettingsFor(opts: JwtDeploy, current: Record<string, string>): Put[] {
  const keys = jwtKeysOf(JSON.parse(fs.readFileSync(opts.jwksFile, 'utf8')), opts.jwksFile);
  const puts: Put[] = [...keys].map(([key, value]) => ({ section: 'jwt_keys', key, value }));
  for (const key of Object.keys(current)) if (!keys.has(key)) puts.push({ section: 'jwt_keys', key, value: null });
  puts.push({ section: 'jwt_auth', key: 'required_claims', value: requiredClaims(opts.issuer) });
  puts.push({ section: 'jwt_auth', key: 'roles_claim_path', value: opts.rolesClaim || DEFAULT_ROLES_CLAIM });
  return puts;
}

async function nodesOf(url: string, route: 'node' | 'server'): Promise<string[]> {
  if (route === 'server') return [''];
  const m = await http<{ cluster_nodes?: string[] }>(url, 'GET', '/_membership');
  return m.status === 200 && m.body.cluster_nodes?.length ? m.body.cluster_nodes : ['_local'];
}

/**
 * Writes the token settings on every node; returns the `[section] key` lines changed. A caller
 * who is not a server admin gets an error naming what to set.
 */
export async function configureTokens(url: string, opts: JwtDeploy, log: (l: string) => void): Promise<string[]> {
  const caps = await capabilities(url);
  const base = (node: string) =>
    caps.configRoute === 'server' ? '/_config' : `/_node/${encodeURIComponent(node)}/_config`;
  const changed: string[] = [];
  let restart = false;
  for (const node of await nodesOf(url, caps.configRoute)) {
    const cur = await http<Record<string, string>>(url, 'GET', `${base(node)}/jwt_keys`);
    if (cur.status === 401 || cur.status === 403)
      throw new Error('token settings: not a server admin, nothing changed; a server admin must run deploy --jwt-jwks');
    const puts = jwtSettingsFor(opts, cur.status === 200 ? cur.body : {});
    if (caps.configRoute === 'node')
      puts.push({ section: 'chttpd', key: 'authentication_handlers', value: AUTH_HANDLERS });
    for (const p of puts) {
      const path = `${base(node)}/${encodeURIComponent(p.section)}/${encodeURIComponent(p.key)}`;
      const old = await http<unknown>(url, 'GET', path);
      const was = old.status === 200 && typeof old.body === 'string' ? old.body : null;
      if (was === p.value) continue;
      const w = p.value === null ? await http(url, 'DELETE', path) : await http(url, 'PUT', path, { body: p.value });
      if (w.status !== 200) throw new Error(`setting [${p.section}] ${p.key}: ${w.status} ${JSON.stringify(w.body)}`);
      const line = `${node ? node + ' ' : ''}[${p.section}] ${p.key}: ${short(was)} -> ${short(p.value)}`;
      changed.push(line);
      log(`token setting ${line}`);
      if (p.section === 'chttpd') restart = true;
    }
  }
  if (!changed.length) log('token settings: keys, issuer and roles claim already set');
  if (restart || !(await jwtActive(url)))
    log(
      'token settings: CouchDB reads [chttpd] authentication_handlers at start only: restart every node for Bearer tokens to sign in',
    );
  return changed;
}

function short(v: string | null): string {
  if (v === null) return '(none)';
  return v.startsWith('-----BEGIN') ? `public key ${v.length} chars` : JSON.stringify(v);
}

/** Whether the server lists the JWT handler (CouchDB's `_session` names the active handlers). */
async function jwtActive(url: string): Promise<boolean> {
  const s = await http<{ info?: { authentication_handlers?: string[] } }>(url, 'GET', '/_session');
  return !!s.body.info?.authentication_handlers?.includes('jwt');
}
