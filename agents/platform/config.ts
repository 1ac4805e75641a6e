/**
 * The environment, read once, typed, with defaults; a bad value fails fast with a ConfigError
 * that names the variable and the value. Every variable the project reads is read here (ENV_VARS
 * lists them; README's environment table has one row for each). The server URL is the only switch
 * between the embedded server and Apache CouchDB 3.x. Settings that change at run time live in
 * the `settings` document, not here.
 */
import * as fs from 'fs';
import * as path from 'path';
import { dbNames, type DbRole } from '../../views/schema';
import { readState, statePath, type EmbeddedState } from '../../scripts/server';
import { mapNodes, nodeUrls } from './node-urls';

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
  /** Agents' log threshold. */
  readonly logLevel: LogLevel;
  /** Seconds a CLI command waits for each answer; 0 waits without bound. */
  readonly answerTimeoutS: number;
  /** Password of the `couchstage-agent` account that start/deploy create on CouchDB. */
  readonly agentPassword: string | null;
  /** Deploy version stamped into design documents; null: `git describe`. */
  readonly version: string | null;
  /** The embedded server's own settings (it runs as a separate process and is handed these). */
  readonly embedded: EmbeddedServerConfig;
  /** The gfal2 helper's settings (it reads them from its environment; checked here first). */
  readonly gfal2: Gfal2Config;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface EmbeddedServerConfig {
  /** MiB of LevelDB values kept in memory per database by the server's read cache; 0 = off. */
  readonly embeddedCacheMb: number;
  /** MiB of LevelDB's own block cache per database. */
  readonly leveldbCacheMb: number;
  /** Print request and cache counts on exit: null off, 'stderr' (value 1), else a file to append to. */
  readonly trace: string | null;
  /** Extra node flags for the server process. */
  readonly nodeArgs: readonly string[];
}

export interface Gfal2Config {
  readonly streams: number;
  readonly streamThreads: number;
  readonly plugins: readonly string[];
}

/** Development tools (CouchDB test nodes, storage elements, benchmarks, the page's browser). */
export interface ToolConfig {
  /** An Apache CouchDB release archive; null: the newest in ../shared/couchdb. */
  readonly couchdbRelease: string | null;
  /** Base directory of `scripts/se/xrootd.ts start`; null: <tmp>/couchstage-se. */
  readonly seDir: string | null;
  readonly chromiumPath: string;
  readonly benchThinkMs: number;
  readonly benchIndexDocs: number;
  readonly benchTrace: boolean;
}

/** Every environment variable the project reads, in README's order. */
export const ENV_VARS = [
  'COUCHDB_URL',
  'COUCHSTAGE_DB_PREFIX',
  'COUCHSTAGE_DATA_DIR',
  'COUCHSTAGE_PORT',
  'COUCHSTAGE_USER',
  'COUCHSTAGE_PASSWORD',
  'COUCHSTAGE_TOKEN',
  'COUCHSTAGE_TOKEN_FILE',
  'COUCHSTAGE_ANSWER_TIMEOUT',
  'COUCHSTAGE_AGENT_PASSWORD',
  'COUCHSTAGE_EDGE_CENTRAL_URL',
  'COUCHSTAGE_EDGE_LOCAL_URL',
  'COUCHSTAGE_EDGE_USERS_FROM',
  'COUCHSTAGE_EDGE_METRICS',
  'COUCHSTAGE_VERSION',
  'COUCHSTAGE_LOG_LEVEL',
  'COUCHSTAGE_EMBEDDED_TRACE',
  'COUCHSTAGE_SERVER_NODE_ARGS',
  'COUCHSTAGE_EMBEDDED_CACHE_MB',
  'COUCHSTAGE_LEVELDB_CACHE_MB',
  'COUCHSTAGE_CERT',
  'COUCHSTAGE_KEY',
  'COUCHSTAGE_CA',
  'X509_USER_PROXY',
  'COUCHSTAGE_PROXY_SECRET_FILE',
  'COUCHSTAGE_GFAL2_STREAMS',
  'COUCHSTAGE_GFAL2_STREAM_THREADS',
  'COUCHSTAGE_GFAL2_PLUGINS',
  'COUCHSTAGE_COUCHDB_RELEASE',
  'COUCHSTAGE_SE_DIR',
  'CHROMIUM_PATH',
  'COUCHSTAGE_BENCH_THINK_MS',
  'BENCH_INDEX_DOCS',
  'BENCH_TRACE',
] as const;

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
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new ConfigError(`${name}: must be a TCP port 1-65535, got "${raw}"`);
  return n;
}

/** A whole number in [min, max]; unset or empty gives the default. */
function int(
  env: NodeJS.ProcessEnv,
  name: string,
  dflt: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
  unit = '',
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(
      `${name}: must be a whole number${unit} from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}, got "${raw}"`,
    );
  }
  return n;
}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** COUCHSTAGE_LOG_LEVEL, else `dflt`. */
export function logLevel(env: NodeJS.ProcessEnv = process.env, dflt: LogLevel = 'info'): LogLevel {
  const raw = env.COUCHSTAGE_LOG_LEVEL;
  if (raw === undefined || raw === '') return dflt;
  if (!(LEVELS as readonly string[]).includes(raw))
    throw new ConfigError(`COUCHSTAGE_LOG_LEVEL: must be one of ${LEVELS.join(', ')}, got "${raw}"`);
  return raw as LogLevel;
}

/** COUCHSTAGE_ANSWER_TIMEOUT at call time (the CLI's tests change it between commands). */
export function answerTimeoutSeconds(env: NodeJS.ProcessEnv = process.env): number {
  return int(env, 'COUCHSTAGE_ANSWER_TIMEOUT', 60, 0, undefined, ' of seconds (0 waits without bound)');
}

/** COUCHSTAGE_VERSION, or null when the build is to take `git describe`. */
export function configuredVersion(env: NodeJS.ProcessEnv = process.env): string | null {
  return env.COUCHSTAGE_VERSION || null;
}

/** The embedded server's settings alone (the server process needs no URL or database names). */
export function loadEmbeddedServerConfig(env: NodeJS.ProcessEnv = process.env): EmbeddedServerConfig {
  const trace = env.COUCHSTAGE_EMBEDDED_TRACE || null;
  return {
    embeddedCacheMb: int(env, 'COUCHSTAGE_EMBEDDED_CACHE_MB', 256, 0, 1 << 20, ' of MiB (0 turns the cache off)'),
    leveldbCacheMb: int(env, 'COUCHSTAGE_LEVELDB_CACHE_MB', 32, 1, 1 << 20, ' of MiB'),
    trace: trace === '1' ? 'stderr' : trace,
    nodeArgs: (env.COUCHSTAGE_SERVER_NODE_ARGS || '').split(/\s+/).filter(Boolean),
  };
}

function gfal2Config(env: NodeJS.ProcessEnv): Gfal2Config {
  // The helper's own bounds (agents/backends/gfal2_helper.py): it would clamp silently.
  const plugins = (env.COUCHSTAGE_GFAL2_PLUGINS || 'xrootd,file')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const bad = plugins.find((p) => !/^[a-z0-9_]+$/.test(p));
  if (bad !== undefined || !plugins.length)
    throw new ConfigError(
      `COUCHSTAGE_GFAL2_PLUGINS: must be plugin names separated by commas (e.g. xrootd,file), got "${env.COUCHSTAGE_GFAL2_PLUGINS}"`,
    );
  return {
    streams: int(env, 'COUCHSTAGE_GFAL2_STREAMS', 2, 1, 64),
    streamThreads: int(env, 'COUCHSTAGE_GFAL2_STREAM_THREADS', 8, 1, 64),
    plugins,
  };
}

/** A client certificate for the TLS gateway (scripts/gateway): file paths, PEM. */
export interface ClientCertConfig {
  readonly cert: string;
  readonly key: string;
  /** The CA file that signed the gateway's own certificate; null: the system's. */
  readonly ca: string | null;
}

export interface CertConfig {
  /** COUCHSTAGE_CERT and COUCHSTAGE_KEY, else X509_USER_PROXY (certificate and key in one file, as grid jobs hold it). */
  readonly client: ClientCertConfig | null;
  /** The proxy-authentication secret shared by the server and the gateway (scripts/ops/proxy-auth.ts). */
  readonly proxySecretFile: string | null;
}

/** Certificate settings; read only by the commands that use them. */
export function loadCertConfig(env: NodeJS.ProcessEnv = process.env): CertConfig {
  const file = (name: string): string | null => (env[name] ? path.resolve(env[name]!) : null);
  const cert = file('COUCHSTAGE_CERT');
  const key = file('COUCHSTAGE_KEY');
  if (!!cert !== !!key) throw new ConfigError('COUCHSTAGE_CERT and COUCHSTAGE_KEY: set both or neither');
  const proxy = file('X509_USER_PROXY');
  const pair = cert && key ? { cert, key } : proxy ? { cert: proxy, key: proxy } : null;
  return {
    client: pair ? { ...pair, ca: file('COUCHSTAGE_CA') } : null,
    proxySecretFile: file('COUCHSTAGE_PROXY_SECRET_FILE'),
  };
}

/** Settings of the development tools; read only by them, so a bad one never stops the service. */
export function loadToolConfig(env: NodeJS.ProcessEnv = process.env): ToolConfig {
  return {
    couchdbRelease: env.COUCHSTAGE_COUCHDB_RELEASE ? path.resolve(env.COUCHSTAGE_COUCHDB_RELEASE) : null,
    seDir: env.COUCHSTAGE_SE_DIR ? path.resolve(env.COUCHSTAGE_SE_DIR) : null,
    chromiumPath: env.CHROMIUM_PATH || '/usr/bin/chromium',
    benchThinkMs: int(env, 'COUCHSTAGE_BENCH_THINK_MS', 1000, 0, undefined, ' of milliseconds'),
    benchIndexDocs: int(env, 'BENCH_INDEX_DOCS', 3000, 1),
    benchTrace: !!env.BENCH_TRACE,
  };
}

/**
 * COUCHDB_URL: one server root, or the node roots of one cluster separated by commas (the client
 * fails over between them, agents/platform/nodes.ts). Each is checked; the list is returned clean.
 */
function checkServerUrls(raw: string): string {
  const urls = nodeUrls(raw);
  if (!urls.length) throw new ConfigError('COUCHDB_URL: no URL in the list');
  for (const [i, url] of urls.entries()) {
    const which = urls.length > 1 ? `COUCHDB_URL (node ${i + 1} of ${urls.length})` : 'COUCHDB_URL';
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      // Never echo credentials: show the value with anything before an @ masked.
      throw new ConfigError(`${which}: not a URL: "${url.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^@]*@/i, '$1***@')}"`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw new ConfigError(`${which}: must be http:// or https://`);
    if (u.pathname !== '/' && u.pathname !== '')
      throw new ConfigError(`${which}: must point to the server root, not a database`);
  }
  return urls.join(',');
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const couchUrl = env.COUCHDB_URL ? checkServerUrls(env.COUCHDB_URL) : null;
  const dbPrefix = env.COUCHSTAGE_DB_PREFIX || '';
  if (dbPrefix && !/^[a-z][a-z0-9_$()+/-]*$/.test(dbPrefix)) {
    throw new ConfigError(
      `COUCHSTAGE_DB_PREFIX: must start with a lowercase letter and use a-z 0-9 _$()+-/, got "${dbPrefix}"`,
    );
  }
  return {
    couchUrl,
    dbPrefix,
    dbs: dbNames(dbPrefix),
    dataDir: path.resolve(env.COUCHSTAGE_DATA_DIR || path.join(projectRoot(), 'data')),
    embeddedPort: port('COUCHSTAGE_PORT', env.COUCHSTAGE_PORT, 5984),
    user: env.COUCHSTAGE_USER || null,
    password: env.COUCHSTAGE_PASSWORD || null,
    logLevel: logLevel(env),
    answerTimeoutS: answerTimeoutSeconds(env),
    agentPassword: env.COUCHSTAGE_AGENT_PASSWORD || null,
    version: configuredVersion(env),
    embedded: loadEmbeddedServerConfig(env),
    gfal2: gfal2Config(env),
  };
}

/**
 * What `couchstage start` writes for the other commands when the embedded server runs (the server
 * package's state file).
 */
export type { EmbeddedState };

export function embeddedStatePath(cfg: Pick<Config, 'dataDir'>): string {
  return statePath(cfg.dataDir);
}

export function readEmbeddedState(cfg: Pick<Config, 'dataDir'>): EmbeddedState | null {
  return readState(cfg.dataDir);
}

/** Where the CLI's and the agents' Bearer token comes from (read and refreshed by token.ts). */
export interface TokenSource {
  readonly token: string | null;
  readonly file: string | null;
}

/** COUCHSTAGE_TOKEN (the token) or COUCHSTAGE_TOKEN_FILE (a file holding it); read at each call. */
export function tokenSource(env: NodeJS.ProcessEnv = process.env): TokenSource {
  return { token: env.COUCHSTAGE_TOKEN?.trim() || null, file: env.COUCHSTAGE_TOKEN_FILE || null };
}

const hasToken = () => {
  const t = tokenSource();
  return !!(t.token || t.file);
};

/** `url` (or every node URL of a list) with these credentials. */
export function withCredentials(url: string, name: string, password: string): string {
  return mapNodes(url, (node) => {
    const u = new URL(node);
    u.username = encodeURIComponent(name);
    u.password = encodeURIComponent(password);
    return u.toString().replace(/\/+$/, '');
  });
}

export function withoutCredentials(url: string): string {
  return mapNodes(url, (node) => {
    const u = new URL(node);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/+$/, '');
  });
}

/** The URL the current process talks to: COUCHDB_URL, else the running embedded server's. */
export function serverUrl(cfg: Config): string {
  let url = cfg.couchUrl;
  if (!url) {
    const state = readEmbeddedState(cfg);
    if (!state) {
      throw new ConfigError(
        `no COUCHDB_URL and no embedded server state in ${embeddedStatePath(cfg)}: run "couchstage start" first, or set COUCHDB_URL`,
      );
    }
    // A Bearer token in the environment (token.ts) signs in instead of the server's admin.
    url = hasToken()
      ? state.url.replace(/\/+$/, '')
      : withCredentials(state.url, state.admin.name, state.admin.password);
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
    if (state)
      return hasToken()
        ? state.url.replace(/\/+$/, '')
        : withCredentials(state.url, state.agent.name, state.agent.password);
  }
  return serverUrl(cfg);
}

/** `couchstage edge`: where central is (as the edge account) and the site's own store, if any. */
export interface EdgeConfig {
  /** COUCHSTAGE_EDGE_CENTRAL_URL: central with the edge account's credentials. */
  readonly centralUrl: string | null;
  /** COUCHSTAGE_EDGE_LOCAL_URL: the site's CouchDB (admin credentials); unset: the embedded server. */
  readonly localUrl: string | null;
  /** COUCHSTAGE_EDGE_USERS_FROM: central as a server admin, to copy user accounts from. */
  readonly usersFrom: string | null;
  /** COUCHSTAGE_EDGE_METRICS: metrics URLs of the edges `doctor` reports on (comma-separated). */
  readonly metrics: readonly string[];
}

export function loadEdgeConfig(env: NodeJS.ProcessEnv = process.env): EdgeConfig {
  const url = (name: string): string | null => {
    const v = env[name];
    if (!v) return null;
    try {
      new URL(v);
    } catch {
      throw new ConfigError(`${name}: not a URL`);
    }
    return v.replace(/\/+$/, '');
  };
  return {
    centralUrl: url('COUCHSTAGE_EDGE_CENTRAL_URL'),
    localUrl: url('COUCHSTAGE_EDGE_LOCAL_URL'),
    usersFrom: url('COUCHSTAGE_EDGE_USERS_FROM'),
    metrics: (env.COUCHSTAGE_EDGE_METRICS || '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  };
}
