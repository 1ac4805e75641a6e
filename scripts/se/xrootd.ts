/**
 * Local XRootD storage elements for tests, benchmarks and the demo: `node dist/se.js start|stop|status`.
 *
 * SE i lives in <baseDir>/se<i>/: data/ (oss.localroot), xrootd.cfg, xrootd.log, xrootd.pid and
 * se.json (name, port, pid). Servers run detached, so a CLI `start` outlives its process;
 * stopStorageElements(baseDir) kills whatever the pidfiles name (checking the pid still runs our
 * config), so a test run killed before its afterAll can be cleaned up by the next one. With
 * ownerPid set, a tiny shell watchdog also stops the SE when that process disappears.
 */
import { execFile, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { loadToolConfig } from '../../agents/platform/config';
import { prepareSeDir } from './xrootd-config';

export { DEFAULT_EXPORTS } from './xrootd-config';

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

/** Starts xrootd detached (it outlives this process) and records its pid; `exited()`: how it ended, if it has. */
function spawnXrootd(dir: string, args: string[]): { pid: number; exited: () => string | null } {
  const out = fs.openSync(path.join(dir, 'xrootd.out'), 'a');
  const child = spawn(XROOTD, args, { detached: true, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  child.unref();
  const pid = child.pid!;
  let exited: string | null = null;
  child.once('exit', (code, sig) => (exited = sig ?? `exit ${code}`));
  fs.writeFileSync(path.join(dir, 'xrootd.pid'), `${pid}\n`);
  return { pid, exited: () => exited };
}

/** A tiny shell watchdog that stops xrootd `pid` when `ownerPid` disappears. */
function startWatchdog(dir: string, ownerPid: number, pid: number): void {
  const script = `while kill -0 ${ownerPid} 2>/dev/null && kill -0 ${pid} 2>/dev/null; do sleep 1; done; kill -TERM ${pid} 2>/dev/null; sleep 3; kill -KILL ${pid} 2>/dev/null`;
  const dog = spawn('/bin/sh', ['-c', script], { detached: true, stdio: 'ignore' });
  dog.unref();
  fs.writeFileSync(path.join(dir, 'watchdog.pid'), `${dog.pid}\n`);
}

/** The last 2000 characters of each of the SE's logs, for an error that explains a failed start. */
function logTails(dir: string): string {
  return ['xrootd.out', 'xrootd.log']
    .map((f) => {
      try {
        return fs.readFileSync(path.join(dir, f), 'utf8').slice(-2000);
      } catch {
        return '';
      }
    })
    .join('\n');
}

/** Waits until the SE answers; stops it and throws (with its logs) if it exits or is not ready in time. */
async function awaitReady(se: SE, exited: () => string | null): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await ready(se.port))) {
    const how = exited();
    if (how || Date.now() > deadline) {
      await stopStorageElement(se.dir);
      const log = logTails(se.dir);
      const message = `xrootd ${se.name} on port ${se.port} ${how ? `exited (${how})` : 'not ready in time'}:\n${log}`;
      if (how && String(how).startsWith('SIG')) throw new CrashedOnStart(message, how);
      throw new Error(message);
    }
    await sleep(100);
  }
}

async function startOnce(
  baseDir: string,
  index: number,
  port: number,
  opts: Pick<StartOptions, 'ownerPid' | 'user' | 'exports'>,
): Promise<SE> {
  const dir = path.join(path.resolve(baseDir), `se${index}`);
  const args = prepareSeDir(baseDir, dir, port, opts);
  const { pid, exited } = spawnXrootd(dir, args);
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
  if (opts.ownerPid) startWatchdog(dir, opts.ownerPid, pid);
  await awaitReady(se, exited);
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
