/**
 * The environment (agents/platform/config.ts): defaults, and every bad value failing fast with a
 * ConfigError that names the variable, before anything talks to a server.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  ConfigError,
  ENV_VARS,
  loadConfig,
  loadToolConfig,
  projectRoot,
  serverUrl,
  withCredentials,
  withoutCredentials,
} from '../../../agents/platform/config';

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('loadConfig accepted ' + JSON.stringify(env));
}

describe('loadConfig defaults', () => {
  it('uses the embedded server, no prefix, ./data under the project root, port 5984 and the URL user', () => {
    expect(loadConfig({})).toEqual({
      couchUrl: null,
      dbPrefix: '',
      dbs: { transfers: 'transfers', catalog: 'catalog', config: 'config', service: 'service' },
      dataDir: path.join(projectRoot(), 'data'),
      embeddedPort: 5984,
      user: null,
      password: null,
      logLevel: 'info',
      answerTimeoutS: 60,
      agentPassword: null,
      version: null,
      embedded: { embeddedCacheMb: 256, leveldbCacheMb: 32, trace: null, nodeArgs: [] },
      gfal2: { streams: 2, streamThreads: 8, plugins: ['xrootd', 'file'] },
    });
  });

  it('finds the project root (the directory with package.json)', () => {
    expect(fs.existsSync(path.join(projectRoot(), 'package.json'))).toBe(true);
    expect(projectRoot()).toBe(path.resolve(__dirname, '..', '..', '..'));
  });

  it('treats empty variables as unset', () => {
    expect(
      loadConfig({ COUCHDB_URL: '', COUCHSTAGE_DB_PREFIX: '', COUCHSTAGE_PORT: '', COUCHSTAGE_USER: '' }),
    ).toMatchObject({
      couchUrl: null,
      dbPrefix: '',
      embeddedPort: 5984,
      user: null,
    });
  });

  it('reads the environment at call time (process.env by default)', () => {
    const saved = process.env.COUCHSTAGE_DB_PREFIX;
    try {
      process.env.COUCHSTAGE_DB_PREFIX = 'late_';
      expect(loadConfig().dbPrefix).toBe('late_');
    } finally {
      if (saved === undefined) delete process.env.COUCHSTAGE_DB_PREFIX;
      else process.env.COUCHSTAGE_DB_PREFIX = saved;
    }
  });

  it('takes every variable when set', () => {
    expect(
      loadConfig({
        COUCHDB_URL: 'https://admin:secret@couch.example.org:6984/',
        COUCHSTAGE_DB_PREFIX: 'prod_',
        COUCHSTAGE_DATA_DIR: 'relative/dir',
        COUCHSTAGE_PORT: '15984',
        COUCHSTAGE_USER: 'alice',
        COUCHSTAGE_PASSWORD: 'pw',
      }),
    ).toMatchObject({
      couchUrl: 'https://admin:secret@couch.example.org:6984',
      dbPrefix: 'prod_',
      dbs: { transfers: 'prod_transfers', catalog: 'prod_catalog', config: 'prod_config', service: 'prod_service' },
      dataDir: path.resolve('relative/dir'),
      embeddedPort: 15984,
      user: 'alice',
      password: 'pw',
    });
  });
});

describe('COUCHDB_URL validation', () => {
  it.each([
    ['http with credentials and port', 'http://admin:pw@127.0.0.1:5984', 'http://admin:pw@127.0.0.1:5984'],
    ['https without a port', 'https://couch.example.org', 'https://couch.example.org'],
    ['trailing slashes removed', 'http://127.0.0.1:5984///', 'http://127.0.0.1:5984'],
  ])('accepts %s', (_label, raw, expected) => {
    expect(loadConfig({ COUCHDB_URL: raw }).couchUrl).toBe(expected);
  });

  it.each([
    ['not a URL', 'localhost 5984', /^COUCHDB_URL: not a URL: "localhost 5984"$/],
    ['an IP:port without a scheme', '127.0.0.1:5984', /^COUCHDB_URL: not a URL: "127.0.0.1:5984"$/],
    [
      'a broken URL with a password (never echoed)',
      'http://admin:s3cret@exa mple:5984',
      /^COUCHDB_URL: not a URL: "http:\/\/\*\*\*@exa mple:5984"$/,
    ],
    [
      'credentials without a scheme (never echoed)',
      'admin:s3cret@localhost 5984',
      /^COUCHDB_URL: must be http:\/\/ or https:\/\/$/,
    ],
    [
      'a host:port without a scheme (parsed as scheme "localhost:")',
      'localhost:5984',
      /^COUCHDB_URL: must be http:\/\/ or https:\/\//,
    ],
    ['another scheme', 'ftp://127.0.0.1:5984', /^COUCHDB_URL: must be http:\/\/ or https:\/\//],
    ['a file URL', 'file:///var/lib/couchdb', /^COUCHDB_URL: must be http:\/\/ or https:\/\//],
    [
      'a path to a database',
      'http://127.0.0.1:5984/transfers',
      /^COUCHDB_URL: must point to the server root, not a database/,
    ],
    [
      'a path to a database with a trailing slash',
      'http://127.0.0.1:5984/transfers/',
      /^COUCHDB_URL: must point to the server root/,
    ],
  ])('refuses %s', (_label, raw, message) => {
    expect(configError({ COUCHDB_URL: raw }).message).toMatch(message);
  });
});

describe('COUCHSTAGE_DB_PREFIX validation', () => {
  it.each(['test_ab12_', 'a', 'prod-1_', 'x$()+/-_'])('accepts %s', (prefix) => {
    expect(loadConfig({ COUCHSTAGE_DB_PREFIX: prefix }).dbs.transfers).toBe(prefix + 'transfers');
  });

  it.each([
    ['an uppercase letter', 'Test_'],
    ['a leading digit', '1test_'],
    ['a leading underscore (reserved by CouchDB)', '_users'],
    ['a space', 'my prefix'],
    ['a dot', 'a.b_'],
  ])('refuses %s', (_label, prefix) => {
    const e = configError({ COUCHSTAGE_DB_PREFIX: prefix });
    expect(e.message).toMatch(/^COUCHSTAGE_DB_PREFIX: must start with a lowercase letter/);
    expect(e.message).toContain(`"${prefix}"`);
  });
});

describe('COUCHSTAGE_PORT validation', () => {
  it.each([
    ['1', 1],
    ['5984', 5984],
    ['65535', 65535],
  ])('accepts %s', (raw, port) => {
    expect(loadConfig({ COUCHSTAGE_PORT: raw }).embeddedPort).toBe(port);
  });

  it.each(['0', '65536', '-1', '59.84', 'http', '5984abc', '1e9'])('refuses %s', (raw) => {
    expect(configError({ COUCHSTAGE_PORT: raw }).message).toBe(
      `COUCHSTAGE_PORT: must be a TCP port 1-65535, got "${raw}"`,
    );
  });
});

describe('serverUrl', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-config-'));
  });
  afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('without COUCHDB_URL and without embedded state, names `couchstage start` and the state file', () => {
    const cfg = loadConfig({ COUCHSTAGE_DATA_DIR: dataDir });
    expect(() => serverUrl(cfg)).toThrow(ConfigError);
    expect(() => serverUrl(cfg)).toThrow(/run "couchstage start" first, or set COUCHDB_URL/);
    expect(() => serverUrl(cfg)).toThrow(path.join(dataDir, 'server.json'));
  });

  it('treats an unreadable state file as no state', () => {
    fs.writeFileSync(path.join(dataDir, 'server.json'), '{not json');
    expect(() => serverUrl(loadConfig({ COUCHSTAGE_DATA_DIR: dataDir }))).toThrow(/couchstage start/);
  });

  it('uses the embedded server state with its admin credentials', () => {
    fs.writeFileSync(
      path.join(dataDir, 'server.json'),
      JSON.stringify({
        url: 'http://127.0.0.1:15984',
        admin: { name: 'admin', password: 'p@ss/word' },
        agent: { name: 'a', password: 'b' },
      }),
    );
    const url = serverUrl(loadConfig({ COUCHSTAGE_DATA_DIR: dataDir }));
    expect(url).toBe('http://admin:p%40ss%2Fword@127.0.0.1:15984');
    const u = new URL(url);
    expect([decodeURIComponent(u.username), decodeURIComponent(u.password)]).toEqual(['admin', 'p@ss/word']);
  });

  it('prefers COUCHDB_URL over the embedded state', () => {
    fs.writeFileSync(
      path.join(dataDir, 'server.json'),
      JSON.stringify({
        url: 'http://127.0.0.1:1',
        admin: { name: 'a', password: 'b' },
        agent: { name: 'a', password: 'b' },
      }),
    );
    expect(serverUrl(loadConfig({ COUCHSTAGE_DATA_DIR: dataDir, COUCHDB_URL: 'http://x:y@couch:5984' }))).toBe(
      'http://x:y@couch:5984',
    );
  });

  it('acts as COUCHSTAGE_USER / COUCHSTAGE_PASSWORD instead of the URL user', () => {
    const cfg = loadConfig({
      COUCHDB_URL: 'http://admin:pw@couch:5984',
      COUCHSTAGE_USER: 'alice',
      COUCHSTAGE_PASSWORD: 's3cret:',
    });
    expect(serverUrl(cfg)).toBe('http://alice:s3cret%3A@couch:5984');
  });
});

describe('credentials in URLs', () => {
  it('withCredentials encodes and withoutCredentials strips them', () => {
    const url = withCredentials('http://127.0.0.1:5984/', 'bob@cern', 'a:b/c d');
    expect(url).toBe('http://bob%40cern:a%3Ab%2Fc%20d@127.0.0.1:5984');
    expect(withoutCredentials(url)).toBe('http://127.0.0.1:5984');
  });
});

describe('every variable the project reads', () => {
  it.each([
    ['COUCHSTAGE_EMBEDDED_CACHE_MB', 'abc'],
    ['COUCHSTAGE_EMBEDDED_CACHE_MB', '-1'],
    ['COUCHSTAGE_EMBEDDED_CACHE_MB', '1.5'],
    ['COUCHSTAGE_LEVELDB_CACHE_MB', '0'],
    ['COUCHSTAGE_LEVELDB_CACHE_MB', '32MB'],
    ['COUCHSTAGE_ANSWER_TIMEOUT', 'soon'],
    ['COUCHSTAGE_LOG_LEVEL', 'verbose'],
    ['COUCHSTAGE_GFAL2_STREAMS', '0'],
    ['COUCHSTAGE_GFAL2_STREAM_THREADS', '65'],
    ['COUCHSTAGE_GFAL2_PLUGINS', 'xrootd;file'],
  ])('refuses %s=%s, naming the variable and the value', (name, value) => {
    const e = configError({ [name]: value });
    expect(e.message).toContain(name);
    expect(e.message).toContain(`"${value}"`);
  });

  it('reads the embedded server, gfal2 and CLI settings', () => {
    const cfg = loadConfig({
      COUCHSTAGE_EMBEDDED_CACHE_MB: '0',
      COUCHSTAGE_LEVELDB_CACHE_MB: '64',
      COUCHSTAGE_EMBEDDED_TRACE: '1',
      COUCHSTAGE_SERVER_NODE_ARGS: ' --cpu-prof  --cpu-prof-dir=/tmp/p ',
      COUCHSTAGE_ANSWER_TIMEOUT: '0',
      COUCHSTAGE_LOG_LEVEL: 'debug',
      COUCHSTAGE_GFAL2_STREAMS: '4',
      COUCHSTAGE_GFAL2_STREAM_THREADS: '16',
      COUCHSTAGE_GFAL2_PLUGINS: 'xrootd, http',
      COUCHSTAGE_AGENT_PASSWORD: 'pw',
      COUCHSTAGE_VERSION: 'v9',
    });
    expect(cfg.embedded).toEqual({
      embeddedCacheMb: 0,
      leveldbCacheMb: 64,
      trace: 'stderr',
      nodeArgs: ['--cpu-prof', '--cpu-prof-dir=/tmp/p'],
    });
    expect(cfg.gfal2).toEqual({ streams: 4, streamThreads: 16, plugins: ['xrootd', 'http'] });
    expect(cfg).toMatchObject({ answerTimeoutS: 0, logLevel: 'debug', agentPassword: 'pw', version: 'v9' });
    expect(loadConfig({ COUCHSTAGE_EMBEDDED_TRACE: '/tmp/trace.txt' }).embedded.trace).toBe('/tmp/trace.txt');
  });

  it("checks the tools' variables only when a tool asks", () => {
    expect(() => loadConfig({ BENCH_INDEX_DOCS: 'many' })).not.toThrow();
    expect(() => loadToolConfig({ BENCH_INDEX_DOCS: 'many' })).toThrow(/BENCH_INDEX_DOCS.*"many"/);
    expect(() => loadToolConfig({ COUCHSTAGE_BENCH_THINK_MS: '1s' })).toThrow(/COUCHSTAGE_BENCH_THINK_MS.*"1s"/);
    expect(loadToolConfig({})).toEqual({
      couchdbRelease: null,
      seDir: null,
      chromiumPath: '/usr/bin/chromium',
      benchThinkMs: 1000,
      benchIndexDocs: 3000,
      benchTrace: false,
    });
  });

  it("has one row in README's environment table per variable, and no other", () => {
    const readme = fs.readFileSync(path.join(projectRoot(), 'README.md'), 'utf8');
    const rows = readme
      .split('\n')
      .filter((l) => /^\| `[A-Z][A-Z0-9_]+` \|/.test(l))
      .map((l) => /^\| `([A-Z0-9_]+)`/.exec(l)![1]);
    expect([...rows].sort()).toEqual([...ENV_VARS].sort());
  });

  it('is the only product code that reads process.env (the embedded server package reads none: it takes options)', () => {
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (/\.ts$/.test(e.name) && p !== path.join(projectRoot(), 'agents', 'platform', 'config.ts')) {
          fs.readFileSync(p, 'utf8')
            .split('\n')
            .forEach((l, i) => {
              // Reading a variable: process.env.NAME or process.env['NAME'] not being assigned.
              if (/process\.env(\.[A-Z_]+|\[)/.test(l) && !/process\.env\.[A-Z_]+ = /.test(l))
                offenders.push(`${path.relative(projectRoot(), p)}:${i + 1}`);
            });
        }
      }
    };
    for (const d of ['agents', 'scripts', 'views', 'design', 'app']) walk(path.join(projectRoot(), d));
    expect(offenders).toEqual([]);
  });
});
