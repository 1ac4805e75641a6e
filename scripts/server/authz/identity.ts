/**
 * Who sent a request (Basic credentials, an `AuthSession` cookie or a Bearer token, jwt.ts), established once per request
 * and remembered per credential: the control plane sends thousands of requests a second with a
 * handful of credentials, and each uncached answer costs a `_users` read and a password check
 * (pbkdf2). Remembered answers end after TTL_MS and at once when anything writes `_users` or the
 * `[admins]` or `[couch_httpd_auth]` configuration changes (the generation below), so a changed
 * password, role or deleted user applies from the next request on.
 */
import { createHmac, randomBytes } from 'crypto';
import { bearerToken, verifyToken, type JwtSettings } from './jwt';

export interface UserCtx {
  name: string | null;
  roles: string[];
}
export interface Session {
  ok: true;
  userCtx: UserCtx;
  info: { authentication_handlers: string[]; authentication_db: string; authenticated?: string };
}
interface AuthDb {
  multiUserLogIn(name: string, password: string): Promise<{ name: string; roles: string[] }>;
  multiUserSession(id: string): Promise<{ userCtx: UserCtx; info: { authenticated?: string }; sessionID?: string }>;
}

/** Long enough that the control plane's few credentials are nearly always hits, short enough to bound memory. */
const TTL_MS = 10_000;
/** Bounded as CouchDB's auth cache is; oldest first out. */
const MAX_ENTRIES = 10_000;

type Entry = { ctx: UserCtx | null; authenticated: string; until: number; gen: number; cookie?: string };

export class Identities {
  private readonly cache = new Map<string, Entry>();
  private readonly pepper = randomBytes(32);
  private gen = 0;
  /** Proxy authentication (proxy.ts), between the cookie and Basic credentials as CouchDB orders them. */
  proxy: (headers: Record<string, string | string[] | undefined>) => UserCtx | null = () => null;
  /** The handler names `_session` lists. */
  handlers: () => string[] = () => ['cookie', 'default'];
  constructor(
    private readonly db: () => Promise<AuthDb>,
    private readonly usersGen: () => string,
    private readonly anonymous: () => UserCtx,
    private readonly timeoutS: () => number,
  ) {}

  private tokens: (() => JwtSettings) | null = null;
  /** Accept Bearer tokens with these settings (CouchDB's handler order, AUTH_HANDLERS in proxy.ts: cookie, proxy, jwt, default). */
  useTokens(settings: () => JwtSettings): void {
    this.tokens = settings;
  }

  /** Forget every remembered answer (a write of `_users`, a change of admins). */
  invalidate(): void {
    this.gen++;
    this.cache.clear();
  }

  private key(kind: string, secret: string): string {
    return createHmac('sha256', this.pepper).update(kind).update('\u0000').update(secret).digest('base64');
  }

  private remember(key: string, e: Entry): void {
    if (this.cache.size >= MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, e);
  }

  private lastUsers = '';
  private fresh(e: Entry | undefined, now: number): e is Entry {
    const g = this.usersGen();
    if (g !== this.lastUsers) {
      this.lastUsers = g;
      this.invalidate();
      return false;
    }
    return !!e && e.gen === this.gen && e.until > now;
  }

  /** The session of a request, or null for wrong Basic credentials (401). Sets a refreshed cookie. */
  async session(
    headers: { authorization?: string; cookie?: string } & Record<string, string | string[] | undefined>,
    setCookie: (v: string) => void,
  ): Promise<Session | null> {
    const now = Date.now();
    const cookie = authSessionCookie(headers.cookie);
    if (cookie) {
      const k = this.key('cookie', cookie);
      let e = this.cache.get(k);
      if (!this.fresh(e, now)) {
        const gen = this.gen;
        const db = await this.db();
        const s = await db.multiUserSession(cookie).catch(() => null);
        const ts = cookieTime(cookie);
        const timeout = this.timeoutS() * 1000;
        // CouchDB sends a new cookie once a tenth of the session's lifetime has passed.
        const refreshAt = ts + timeout / 10;
        const ok = s && s.info.authenticated && s.userCtx.name;
        e = {
          ctx: ok ? { name: s!.userCtx.name, roles: [...s!.userCtx.roles] } : null,
          authenticated: 'cookie',
          gen,
          until: ok ? Math.min(now + TTL_MS, ts + timeout, refreshAt > now ? refreshAt : Infinity) : now + TTL_MS,
          cookie: ok && refreshAt <= now ? s!.sessionID : undefined,
        };
        this.remember(k, e);
        if (e.cookie) setCookie(e.cookie);
      }
      if (e.ctx) return sessionOf(e.ctx, 'cookie', this.handlers());
    }
    const proxied = this.proxy(headers);
    if (proxied) return sessionOf(proxied, 'proxy', this.handlers());
    const bearer = this.tokens ? bearerToken(headers.authorization) : undefined;
    // Refusals are thrown (TokenRefused, with CouchDB's status and reason); a token is not remembered.
    if (bearer) return sessionOf(await verifyToken(bearer, this.tokens!()), 'jwt', this.handlers());
    const basic = parseBasic(headers.authorization);
    if (!basic) return sessionOf(this.anonymous(), undefined, this.handlers());
    const k = this.key('basic', headers.authorization!);
    let e = this.cache.get(k);
    if (!this.fresh(e, now)) {
      const gen = this.gen;
      const db = await this.db();
      const r = await db.multiUserLogIn(basic.name, basic.password).catch(() => null);
      e = {
        ctx: r ? { name: r.name, roles: [...(r.roles || [])] } : null,
        authenticated: 'default',
        gen,
        until: now + TTL_MS,
      };
      this.remember(k, e);
    }
    return e.ctx ? sessionOf(e.ctx, 'default', this.handlers()) : null;
  }
}

/** A fresh object each request: express-pouchdb writes into the userCtx it is given. */
function sessionOf(ctx: UserCtx, authenticated: string | undefined, handlers: string[]): Session {
  const s: Session = {
    ok: true,
    userCtx: { name: ctx.name, roles: ctx.roles.slice() },
    info: { authentication_handlers: handlers, authentication_db: '_users' },
  };
  if (authenticated) s.info.authenticated = authenticated;
  return s;
}

function parseBasic(h: string | undefined): { name: string; password: string } | null {
  if (!h || !/^basic /i.test(h)) return null;
  const text = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
  const i = text.indexOf(':');
  return i < 0 ? null : { name: text.slice(0, i), password: text.slice(i + 1) };
}

function authSessionCookie(h: string | undefined): string | null {
  if (!h) return null;
  const m = /(?:^|;\s*)AuthSession=([^;]*)/.exec(h);
  if (!m || !m[1]) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return null;
  }
}

/** The cookie's issue time (ms): `base64url(name:hexSeconds:mac)`. */
function cookieTime(cookie: string): number {
  const parts = Buffer.from(cookie, 'base64url').toString('utf8').split(':');
  const t = parseInt(parts[1] ?? '', 16);
  return Number.isFinite(t) ? t * 1000 : 0;
}
