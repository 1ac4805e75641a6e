/**
 * Proxy authentication as CouchDB 3.4's `{chttpd_auth, proxy_authentication_handler}` does it:
 * a front that has authenticated the caller (the TLS gateway, scripts/gateway) names the user in
 * `X-Auth-CouchDB-UserName`, the roles in `X-Auth-CouchDB-Roles` and proves it holds the server's
 * secret with `X-Auth-CouchDB-Token` = lower-case hex HMAC of the name. Measured on CouchDB 3.4.3
 * and answered the same here: HMAC-SHA256 and HMAC-SHA1 are both accepted (`[chttpd_auth]
 * hash_algorithms = sha256, sha`); an upper-case, wrong or missing token does not authenticate
 * (the request goes on to Basic credentials or stays anonymous, never a 401 of its own); roles are
 * split at commas with the blanks around them removed (`a, b ,,c` gives `a`, `b`, ``, `c`); the
 * header names are case-insensitive; the secret is `[chttpd_auth] secret`, else `[couch_httpd_auth]
 * secret`; without `proxy_use_secret = true` CouchDB trusts the headers alone, so deploy always
 * sets it (scripts/ops/proxy-auth.ts).
 */
import { createHmac, timingSafeEqual } from 'crypto';
import type { UserCtx } from './identity';

/**
 * The one list of authentication handlers, in CouchDB's order: a session cookie first, then the
 * gateway's proxy headers, then a Bearer token (JWT), then Basic credentials. Deploy writes it into CouchDB's `[chttpd]`
 * (which reads it at start only: a changed list needs a restart); the embedded server uses it as
 * its default.
 */
export const AUTH_HANDLERS = [
  '{chttpd_auth, cookie_authentication_handler}',
  '{chttpd_auth, proxy_authentication_handler}',
  '{chttpd_auth, jwt_authentication_handler}',
  '{chttpd_auth, default_authentication_handler}',
].join(', ');

type Get = (section: string, key: string) => unknown;

/** `cookie`, `proxy`, `default`...: the names `_session` lists, from a handler list as CouchDB writes it. */
export function handlerNames(list: string): string[] {
  const out: string[] = [];
  for (const m of list.matchAll(/\{\s*\w+\s*,\s*(\w+?)_authentication_handler\s*\}/g)) out.push(m[1]);
  return out;
}

/** The handlers this server runs: `[chttpd] authentication_handlers`, else AUTH_HANDLERS. */
export function configuredHandlers(get: Get): string[] {
  const v = get('chttpd', 'authentication_handlers');
  const names = typeof v === 'string' && v.trim() ? handlerNames(v) : [];
  return names.length ? names : handlerNames(AUTH_HANDLERS);
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The hex HMAC CouchDB expects for `name`, with each algorithm it accepts (first: the one to send). */
export function proxyTokens(secret: string, name: string, algorithms = ['sha256', 'sha1']): string[] {
  return algorithms.map((a) => createHmac(a, secret).update(name, 'utf8').digest('hex'));
}

function algorithmsOf(get: Get): string[] {
  const v = get('chttpd_auth', 'hash_algorithms');
  const names = typeof v === 'string' ? v.split(',').map((s) => s.trim()) : ['sha256', 'sha'];
  return names.map((n) => (n === 'sha' ? 'sha1' : n)).filter((n) => n === 'sha256' || n === 'sha1');
}

/**
 * The user the proxy headers name, or null when they do not authenticate (no name, no secret,
 * a token that is not the HMAC): the request then goes on to the next handler.
 */
export function proxyUser(headers: Record<string, string | string[] | undefined>, get: Get): UserCtx | null {
  if (!configuredHandlers(get).includes('proxy')) return null;
  const name = header(headers, 'x-auth-couchdb-username');
  if (!name) return null;
  const rolesHeader = header(headers, 'x-auth-couchdb-roles');
  const roles = rolesHeader ? rolesHeader.trim().split(/\s*,\s*/) : [];
  if (String(get('chttpd_auth', 'proxy_use_secret')) !== 'true') return { name, roles };
  const secret = get('chttpd_auth', 'secret') ?? get('couch_httpd_auth', 'secret');
  const token = header(headers, 'x-auth-couchdb-token');
  if (typeof secret !== 'string' || !secret || !token) return null;
  const given = Buffer.from(token, 'utf8');
  const ok = proxyTokens(secret, name, algorithmsOf(get)).some((t) => {
    const want = Buffer.from(t, 'utf8');
    return want.length === given.length && timingSafeEqual(want, given);
  });
  return ok ? { name, roles } : null;
}
