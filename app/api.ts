/**
 * The page's only door to CouchDB: relative URLs from `/<db>/_design/monitor/index.html`, the
 * browser's session cookie, JSON. Every request sends `X-CouchDB-WWW-Authenticate: Cookie` so a
 * 401 (an expired session) does not pop up the browser's Basic dialog: the page shows its own
 * login form instead (CouchDB 3 and the embedded server both honour the header). After a token
 * sign-in every request carries `Authorization: Bearer` instead; the token is kept in this tab's
 * sessionStorage only (gone with the tab, never in a cookie or the URL).
 */
import type { ViewRef } from '../views/schema';
import { isDesignDocUpdated } from '../views/lib/ddoc-updated';

/** The transfers database, relative to the page. */
export const DB = '../../';
/** The design document (the page's own folder). */
export const DDOC = './';
/** The server root, for `_session`. */
export const ROOT = '../../../';

/**
 * The config database beside this transfers database (dbNames: one prefix for all four), from
 * the page's own path `/<prefix>transfers/_design/...`; null when the name does not say.
 */
export function configDb(pathname: string = location.pathname): string | null {
  const m = /^\/([^/]*)transfers\/_design\//.exec(pathname);
  return m ? `${ROOT}${m[1]}config/` : null;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    reason: string,
  ) {
    super(reason || error || `HTTP ${status}`);
  }
}

const TOKEN_KEY = 'couchstage-token';

/** The token this tab signed in with, or null. */
export function token(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** Sign in by token (null: forget it). */
export function setToken(t: string | null): void {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export async function getJson<T>(url: string, init: RequestInit = {}): Promise<T> {
  const t = token();
  const res = await fetch(url, {
    credentials: 'same-origin',
    ...init,
    headers: {
      Accept: 'application/json',
      'X-CouchDB-WWW-Authenticate': 'Cookie',
      ...(t ? { Authorization: `Bearer ${t}` } : {}),
      ...(init.body ? { 'Content-Type': 'application/json' } : {}),
      ...(init.headers || {}),
    },
  });
  const text = await res.text();
  let body: { error?: string; reason?: string };
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { error: 'bad_response', reason: text.slice(0, 200) };
  }
  if (!res.ok) throw new HttpError(res.status, body.error || '', body.reason || '');
  return body as T;
}

/** A view query: every parameter JSON-encoded as CouchDB expects. */
export function viewUrl(view: string, params: Record<string, unknown>): string {
  const q = Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(
      ([k, v]) =>
        `${k}=${encodeURIComponent(typeof v === 'string' && k !== 'startkey' && k !== 'endkey' && k !== 'key' ? v : JSON.stringify(v))}`,
    );
  return `${DDOC}_view/${view}?${q.join('&')}`;
}

export interface StatsValue {
  count: number;
  sum: number;
}
export interface ViewRow<K = unknown[], D = unknown> {
  id?: string;
  key: K;
  value: StatsValue | number;
  doc?: D;
}

/** A view of the page's own design document (`monitor`, which the page is served from). */
export async function view<K = unknown[], D = unknown>(
  ref: ViewRef & { readonly ddoc: 'monitor' },
  params: Record<string, unknown>,
): Promise<ViewRow<K, D>[]> {
  const url = viewUrl(ref.name, params);
  try {
    return (await getJson<{ rows: ViewRow<K, D>[] }>(url)).rows;
  } catch (e) {
    // A query in flight while an upgrade swaps the design document: once more reads the new one.
    if (!(e instanceof HttpError && isDesignDocUpdated(e.status, e.message))) throw e;
    return (await getJson<{ rows: ViewRow<K, D>[] }>(url)).rows;
  }
}

export interface UserCtx {
  name: string | null;
  roles: string[];
}

/** The signed-in user as every view of the page sees it. */
export interface Me {
  readonly name: string;
  readonly roles: readonly string[];
  readonly ops: boolean;
}

export async function session(): Promise<UserCtx> {
  return (await getJson<{ userCtx: UserCtx }>(`${ROOT}_session`)).userCtx;
}

/**
 * `_session?basic=true` without the page's `Cookie` challenge header: anonymous, CouchDB answers
 * 401 with its Basic challenge, which a browser holding credentials for the realm answers itself.
 */
export async function basicSession(): Promise<UserCtx> {
  const res = await fetch(`${ROOT}_session?basic=true`, {
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
  });
  if (!res.ok) throw new HttpError(res.status, 'unauthorized', 'not signed in');
  return ((await res.json()) as { userCtx: UserCtx }).userCtx;
}

export async function login(name: string, password: string): Promise<void> {
  await getJson(`${ROOT}_session`, { method: 'POST', body: JSON.stringify({ name, password }) });
}

export async function logout(): Promise<void> {
  await getJson(`${ROOT}_session`, { method: 'DELETE' });
}
