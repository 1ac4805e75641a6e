/**
 * The environment, read once, typed, with defaults; a bad value fails fast with a clear message.
 * The server URL is the only switch between the embedded server and Apache CouchDB 3.x:
 *   COUCHDB_URL            http(s)://user:password@host:port of CouchDB 3.x; unset = embedded
 *   COUCHSTAGE_DB_PREFIX   prefix of the three database names (tests use test_<random>_)
 *   COUCHSTAGE_DATA_DIR    embedded server data, credentials and storage (default ./data)
 *   COUCHSTAGE_PORT        embedded server port (default 5984)
 *   COUCHSTAGE_USER / COUCHSTAGE_PASSWORD   act as this CouchDB user instead of the URL's
 * Settings that change at run time live in the `settings` document, not here.
 */
import * as fs from 'fs';
import * as path from 'path';
import { dbNames, type DbRole } from '../../views/schema';

export class ConfigError extends Error {}

export interface Config {
  /** Server URL with credentials, or null when the embedded server is to be used. */
  readonly couchUrl: string | null;
  readonly dbPrefix: string;
  readonly dbs: Record<DbRole, string>;
  readonly dataDir: string;
  readonly embeddedPort: number;
  readonly user: string | null;
  readonly password: string | null;
}

/** The project root: two levels above this file in the source tree, one above dist/ when bundled. */
export function projectRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 4; i++) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  return process.cwd();
}

function port(name: string, raw: string | undefined, dflt: number): number {
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new ConfigError(`${name}: must be a TCP port 1-65535, got "${raw}"`);
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const couchUrl = env.COUCHDB_URL ? env.COUCHDB_URL.replace(/\/+$/, '') : null;
  if (couchUrl) {
    let u: URL;
    try {
      u = new URL(couchUrl);
    } catch {
      // Never echo credentials: show the value with anything before an @ masked.
      throw new ConfigError(`COUCHDB_URL: not a URL: "${couchUrl.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^@]*@/i, '$1***@')}"`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError('COUCHDB_URL: must be http:// or https://');
    if (u.pathname !== '/' && u.pathname !== '') throw new ConfigError('COUCHDB_URL: must point to the server root, not a database');
  }
  const dbPrefix = env.COUCHSTAGE_DB_PREFIX || '';
  if (dbPrefix && !/^[a-z][a-z0-9_$()+/-]*$/.test(dbPrefix)) {
    throw new ConfigError(`COUCHSTAGE_DB_PREFIX: must start with a lowercase letter and use a-z 0-9 _$()+-/, got "${dbPrefix}"`);
  }
  return {
    couchUrl,
    dbPrefix,
    dbs: dbNames(dbPrefix),
    dataDir: path.resolve(env.COUCHSTAGE_DATA_DIR || path.join(projectRoot(), 'data')),
    embeddedPort: port('COUCHSTAGE_PORT', env.COUCHSTAGE_PORT, 5984),
    user: env.COUCHSTAGE_USER || null,
    password: env.COUCHSTAGE_PASSWORD || null,
  };
}

/** What `couchstage start` writes for the other commands when the embedded server runs. */
export interface EmbeddedState {
  readonly url: string;
  readonly admin: { readonly name: string; readonly password: string };
  readonly agent: { readonly name: string; readonly password: string };
  readonly pid?: number;
}

export function embeddedStatePath(cfg: Pick<Config, 'dataDir'>): string {
  return path.join(cfg.dataDir, 'server.json');
}

export function readEmbeddedState(cfg: Pick<Config, 'dataDir'>): EmbeddedState | null {
  try {
    return JSON.parse(fs.readFileSync(embeddedStatePath(cfg), 'utf8')) as EmbeddedState;
  } catch {
    return null;
  }
}

export function withCredentials(url: string, name: string, password: string): string {
  const u = new URL(url);
  u.username = encodeURIComponent(name);
  u.password = encodeURIComponent(password);
  return u.toString().replace(/\/+$/, '');
}

export function withoutCredentials(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  return u.toString().replace(/\/+$/, '');
}

/** The URL the current process talks to: COUCHDB_URL, else the running embedded server's. */
export function serverUrl(cfg: Config): string {
  let url = cfg.couchUrl;
  if (!url) {
    const state = readEmbeddedState(cfg);
    if (!state) {
      throw new ConfigError(`no COUCHDB_URL and no embedded server state in ${embeddedStatePath(cfg)}: run "couchstage start" first, or set COUCHDB_URL`);
    }
    url = withCredentials(state.url, state.admin.name, state.admin.password);
  }
  if (cfg.user) url = withCredentials(url, cfg.user, cfg.password || '');
  return url;
}

/**
 * The URL agents use: COUCHSTAGE_USER/PASSWORD if given; on the embedded server its
 * `couchstage-agent` account; else COUCHDB_URL as is (give it the agent's credentials).
 */
export function agentUrl(cfg: Config): string {
  if (cfg.user) return serverUrl(cfg);
  if (!cfg.couchUrl) {
    const state = readEmbeddedState(cfg);
    if (state) return withCredentials(state.url, state.agent.name, state.agent.password);
  }
  return serverUrl(cfg);
}
