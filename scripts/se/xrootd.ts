/**
 * Local XRootD storage elements for tests, benchmarks and the demo: `node dist/se.js start|stop|status`.
 *
 * SE i lives in <baseDir>/se<i>/: data/ (oss.localroot), xrootd.cfg, xrootd.log, xrootd.pid and
 * se.json (name, port, pid). Servers run detached, so a CLI `start` outlives its process;
 * stopStorageElements(baseDir) kills whatever the pidfiles name (checking the pid still runs our
 * config), so a test run killed before its afterAll can be cleaned up by the next one. With
 * ownerPid set, a tiny shell watchdog also stops the SE when that process disappears.
 */
import { execFile, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { loadToolConfig } from '../../agents/platform/config';

export interface SE {
  name: string;
  index: number;
  port: number;
  rootUrl: string;
  dir: string;
  dataDir: string;
  pid: number;
}

export interface StartOptions {
  count: number;
  baseDir: string;
  /** SE i listens on basePort + i; default: a free port each (bind to 0). */
  basePort?: number;
  /** Stop the SEs when this process exits (tests pass process.pid). */
  ownerPid?: number;
  /** User xrootd drops to when we are root (it refuses to run as root). Default: xrootd, else nobody. */
  user?: string;
  /** Namespaces served, under the SE's storage root (oss.localroot); default DEFAULT_EXPORTS. */
  exports?: readonly string[];
}

/**
 * The LFN namespace, under the storage root. Not `/`: with `all.export /`, XRootD 5.5.3 serves `/..`
 * (its check refuses `/../` inside a path, not a trailing `/..`): measured, `ls`, `stat` and `chmod` of
 * the SE's own directory (config, logs, admin path) from any client. `/store/..` is the storage root itself.
 */
export const DEFAULT_EXPORTS: readonly string[] = ['/store'];
/**
 * Clients the SE serves. XRootD 5.5.3 has no listen address (it binds the wildcard; `xrd.port` takes a
 * port only), so `xrd.allow host` is what keeps other machines out: every other address has its
 * connection dropped at accept ("Unable to accept TCP connection from ...; permission denied").
 */
const ALLOWED_HOSTS = ['127.0.0.1', '[::1]', 'localhost'];

const XROOTD = '/usr/bin/xrootd';
const XRDFS = '/usr/bin/xrdfs';
/** xrootd is up in well under a second; 20 s leaves room for a loaded CI machine. */
const READY_TIMEOUT_MS = 20_000;
/** SIGTERM makes xrootd exit at once; after 5 s it gets SIGKILL. */
const STOP_GRACE_MS = 5_000;

export function pfn(se: Pick<SE, 'port'>, p: string): string {
  return `root://127.0.0.1:${se.port}//${p.replace(/^\/+/, '')}`; // double slash: absolute path
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function runAsUser(wanted?: string): { name: string; uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  for (const name of wanted ? [wanted] : ['xrootd', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name]).toString().trim());
      const gid = Number(execFileSync('id', ['-g', name]).toString().trim());
      return { name, uid, gid };
    } catch {
      /* try the next one */
    }
  }
  throw new Error('running as root, and neither user xrootd nor nobody exists for xrootd -R');
}

function configText(dir: string, port: number, exports: readonly string[]): string {
  return [
    `# couchstage test storage element (scripts/se/xrootd.ts): loopback clients only, no authentication`,
    `xrd.port ${port}`,
    ...ALLOWED_HOSTS.map((h) => `xrd.allow host ${h}`),
    `oss.localroot ${path.join(dir, 'data')}`,
    ...exports.map((e) => `all.export ${e}`),
    `all.adminpath ${path.join(dir, 'adm')}`,
    `all.pidpath ${path.join(dir, 'run')}`,
    // Up to 64 checksums at once: with the default limit a 200-file bulk copy (16 in parallel, end to
    // end checksums) is told to wait 30 s per excess query -- measured as 30 s stalls.
    `xrootd.chksum max 64 adler32`,
    // Third-party copy, pulled by the destination with xrdcp; on every SE so TPC works both ways.
    // (The pulling xrdcp runs as the SE's user, so in the source's log a TPC shows up as a login
    // by that user rather than by the client.)
    `ofs.tpc pgm /usr/bin/xrdcp --server`,
    '',
  ].join('\n');
}

function alive(pid: number, cfg?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (!cfg) return true;
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(cfg); // not a recycled pid
  } catch {
    return false;
  }
}

function ready(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const env = { ...process.env, XRD_CONNECTIONRETRY: '1', XRD_CONNECTIONWINDOW: '2', XRD_REQUESTTIMEOUT: '5' };
    // a query that needs no exported path
    execFile(XRDFS, [`root://127.0.0.1:${port}`, 'query', 'config', 'version'], { env, timeout: 5000 }, (err) =>
      resolve(!err),
    );
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A startup that died of a signal (not a config error, which exits with a code) is tried again. */
const START_ATTEMPTS = 3;

/**
 * Starts (or restarts, keeping its data) SE `index` under baseDir on `port`. Debian's xrootd 5
 * has been seen to die with SIGSEGV while starting again on the port it had just left (once in a
 * full suite run here): such a crash is retried, up to START_ATTEMPTS in all.
 */
export async function startStorageElement(
  baseDir: string,
  index: number,
  port: number,
  opts: Pick<StartOptions, 'ownerPid' | 'user' | 'exports'> = {},
): Promise<SE> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(baseDir, index, port, opts);
    } catch (err) {
      if (!(err instanceof CrashedOnStart) || attempt >= START_ATTEMPTS) throw err;
      process.stderr.write(
        `xrootd se${index} on port ${port} crashed while starting (${err.signal}); starting it again\n`,
      );
      await sleep(500);
    }
  }
}

class CrashedOnStart extends Error {
  constructor(
    message: string,
    readonly signal: string,
  ) {
    super(message);
  }
}

async function startOnce(
  baseDir: string,
  index: number,
  port: number,
  opts: Pick<StartOptions, 'ownerPid' | 'user' | 'exports'>,
): Promise<SE> {
  const dir = path.join(path.resolve(baseDir), `se${index}`);
  for (const sub of ['data', 'adm', 'run']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  const exports = opts.exports ?? DEFAULT_EXPORTS;
  for (const e of exports) {
    if (!/^(\/[A-Za-z0-9_.-]+)+$/.test(e) || e.split('/').some((c) => c === '.' || c === '..'))
      throw new Error(`storage element export ${JSON.stringify(e)}: not an absolute, normalised path`);
  }
  const cfg = path.join(dir, 'xrootd.cfg');
  fs.writeFileSync(cfg, configText(dir, port, exports));
  const user = runAsUser(opts.user);
  const args = ['-c', cfg, '-l', path.join(dir, 'xrootd.log')];
  if (user) {
    // xrootd drops to `user`, who must own the SE directory and reach it: mkdtemp directories are
    // 0700, so baseDir and its ancestors get search permission (o+x: reach known paths, not list).
    for (let d = path.resolve(baseDir); d !== path.dirname(d); d = path.dirname(d)) {
      const mode = fs.statSync(d).mode;
      if (!(mode & 0o001)) fs.chmodSync(d, (mode & 0o7777) | 0o011);
    }
    for (const p of [dir, ...['data', 'adm', 'run'].map((s) => path.join(dir, s))]) fs.chownSync(p, user.uid, user.gid);
    args.push('-R', user.name);
  }
  const out = fs.openSync(path.join(dir, 'xrootd.out'), 'a');
  const child = spawn(XROOTD, args, { detached: true, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  child.unref();
  const pid = child.pid!;
  let exited: string | null = null;
  child.once('exit', (code, sig) => (exited = sig ?? `exit ${code}`));
  fs.writeFileSync(path.join(dir, 'xrootd.pid'), `${pid}\n`);
  const se: SE = {
    name: `se${index}`,
    index,
    port,
    rootUrl: `root://127.0.0.1:${port}`,
    dir,
    dataDir: path.join(dir, 'data'),
    pid,
  };
  fs.writeFileSync(path.join(dir, 'se.json'), JSON.stringify(se, null, 2) + '\n');
  if (opts.ownerPid) {
    const script = `while kill -0 ${opts.ownerPid} 2>/dev/null && kill -0 ${pid} 2>/dev/null; do sleep 1; done; kill -TERM ${pid} 2>/dev/null; sleep 3; kill -KILL ${pid} 2>/dev/null`;
    const dog = spawn('/bin/sh', ['-c', script], { detached: true, stdio: 'ignore' });
    dog.unref();
    fs.writeFileSync(path.join(dir, 'watchdog.pid'), `${dog.pid}\n`);
  }
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await ready(port))) {
    if (exited || Date.now() > deadline) {
      await stopStorageElement(dir);
      const log = ['xrootd.out', 'xrootd.log']
        .map((f) => {
          try {
            return fs.readFileSync(path.join(dir, f), 'utf8').slice(-2000);
          } catch {
            return '';
          }
        })
        .join('\n');
      const message = `xrootd ${se.name} on port ${port} ${exited ? `exited (${exited})` : 'not ready in time'}:\n${log}`;
      if (exited && String(exited).startsWith('SIG')) throw new CrashedOnStart(message, exited);
      throw new Error(message);
    }
    await sleep(100);
  }
  return se;
}

export async function startStorageElements(opts: StartOptions): Promise<SE[]> {
  fs.mkdirSync(opts.baseDir, { recursive: true });
  const ports: number[] = [];
  for (let i = 0; i < opts.count; i++) ports.push(opts.basePort ? opts.basePort + i : await freePort());
  return Promise.all(ports.map((port, i) => startStorageElement(opts.baseDir, i, port, opts)));
}

/** Stops the SE whose directory is `seDir` (or the SE given); resolves true if one was running. */
export async function stopStorageElement(se: SE | string): Promise<boolean> {
  const dir = typeof se === 'string' ? se : se.dir;
  const readPid = (f: string) => {
    try {
      return Number(fs.readFileSync(path.join(dir, f), 'utf8').trim()) || 0;
    } catch {
      return 0;
    }
  };
  const dog = readPid('watchdog.pid');
  if (dog && alive(dog, 'kill -0')) process.kill(dog, 'SIGKILL');
  const pid = readPid('xrootd.pid');
  const cfg = path.join(dir, 'xrootd.cfg');
  let was = false;
  if (pid && alive(pid, cfg)) {
    was = true;
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + STOP_GRACE_MS;
    while (alive(pid, cfg) && Date.now() < deadline) await sleep(50);
    if (alive(pid, cfg)) process.kill(pid, 'SIGKILL');
    while (alive(pid, cfg)) await sleep(20);
  }
  for (const f of ['xrootd.pid', 'watchdog.pid']) fs.rmSync(path.join(dir, f), { force: true });
  return was;
}

function seDirs(baseDir: string): string[] {
  if (!fs.existsSync(baseDir)) return [];
  return fs
    .readdirSync(baseDir)
    .filter((d) => /^se\d+$/.test(d))
    .map((d) => path.join(baseDir, d));
}

/** Stops every SE under baseDir by its pidfile; resolves to how many were running. */
export async function stopStorageElements(baseDir: string): Promise<number> {
  const stopped = await Promise.all(seDirs(baseDir).map((d) => stopStorageElement(d)));
  return stopped.filter(Boolean).length;
}

export function statusStorageElements(baseDir: string): Array<SE & { running: boolean }> {
  return seDirs(baseDir).flatMap((d) => {
    try {
      const se = JSON.parse(fs.readFileSync(path.join(d, 'se.json'), 'utf8')) as SE;
      return [{ ...se, running: alive(se.pid, path.join(d, 'xrootd.cfg')) }];
    } catch {
      return [];
    }
  });
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<number> {
  const [cmd, ...rest] = argv;
  const opt = (name: string) => {
    const i = rest.indexOf(`--${name}`);
    return i >= 0 ? rest[i + 1] : undefined;
  };
  const baseDir = path.resolve(opt('base-dir') ?? loadToolConfig().seDir ?? path.join(os.tmpdir(), 'couchstage-se'));
  if (cmd === 'start') {
    await stopStorageElements(baseDir); // never two servers on one data directory
    const ses = await startStorageElements({
      baseDir,
      count: Number(opt('count') ?? 2),
      basePort: opt('base-port') ? Number(opt('base-port')) : undefined,
    });
    console.log(JSON.stringify(ses, null, 2));
    return 0;
  }
  if (cmd === 'stop') {
    console.log(`stopped ${await stopStorageElements(baseDir)} storage element(s) under ${baseDir}`);
    return 0;
  }
  if (cmd === 'status') {
    const st = statusStorageElements(baseDir);
    console.log(JSON.stringify(st, null, 2));
    return st.length && st.every((s) => s.running) ? 0 : 1;
  }
  console.error(
    'usage: se start [--count N] [--base-port P] [--base-dir D] | stop [--base-dir D] | status [--base-dir D]',
  );
  return 2;
}

// Run as a program only under its own name: bundled into another entry, require.main === module holds too.
if (require.main === module && /(?:^|[\\/])(?:se|xrootd)\.[cm]?[jt]s$/.test(process.argv[1] ?? ''))
  main().then(
    (code) => process.exit(code),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
