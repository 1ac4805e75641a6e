/**
 * `npm start` stopped the ways a process manager, a container runtime and a terminal stop it: one
 * signal, however it is delivered, stops the whole tree (server, agents, storage elements and
 * their watchdogs) in order, and npm exits 0. Run as a user runs it: `npm start -- ...` in the
 * project folder, with its own data directory and port, its own embedded server (COUCHDB_URL is
 * removed, as in start.test.ts), in its own process group so that a group signal reaches only it.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { freePort, stopStorageElements } from '../../../scripts/se/xrootd';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every process below `pid` (from /proc: parent links), with its command line. */
function descendants(pid: number): { pid: number; cmd: string }[] {
  const parent = new Map<number, number>();
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
      parent.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone meanwhile */
    }
  }
  const out: { pid: number; cmd: string }[] = [];
  const walk = (p: number) => {
    for (const [c, pp] of parent) {
      if (pp !== p) continue;
      out.push({ pid: c, cmd: cmdline(c) ?? '?' });
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function cmdline(pid: number): string | null {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return null;
  }
}

/** Alive and not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

interface Run {
  readonly child: ChildProcess;
  readonly output: string[];
  readonly exited: Promise<number | NodeJS.Signals | null>;
  readonly dataDir: string;
}

async function npmStart(args: string[]): Promise<Run> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-signals-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    COUCHSTAGE_DATA_DIR: dataDir,
    COUCHSTAGE_PORT: String(await freePort()),
  };
  for (const k of [
    'COUCHDB_URL',
    'COUCHSTAGE_DB_PREFIX',
    'COUCHSTAGE_USER',
    'COUCHSTAGE_PASSWORD',
    'COUCHSTAGE_AGENT_PASSWORD',
  ])
    delete env[k];
  const child = spawn('npm', ['start', '--', ...args], {
    cwd: ROOT,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout!.on('data', (b) => output.push(String(b)));
  child.stderr!.on('data', (b) => output.push(String(b)));
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.on('exit', (code, sig) => resolve(code ?? sig)),
  );
  const deadline = Date.now() + 120_000;
  while (!/Press Ctrl-C/.test(output.join(''))) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`npm start did not come up:\n${output.join('')}`);
    await sleep(100);
  }
  return { child, output, exited, dataDir };
}

async function within<T>(p: Promise<T>, ms: number): Promise<T | 'still running'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<'still running'>((r) => (timer = setTimeout(() => r('still running'), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe('npm start stops on one signal, however it is sent', () => {
  const runs: Run[] = [];
  afterEach(async () => {
    for (const r of runs.splice(0)) {
      for (const d of descendants(r.child.pid!)) if (alive(d.pid)) process.kill(d.pid, 'SIGKILL');
      if (r.child.exitCode === null) r.child.kill('SIGKILL');
      await stopStorageElements(path.join(r.dataDir, 'se'));
      fs.rmSync(r.dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  const cases: [string, (r: Run, tree: { pid: number }[]) => void][] = [
    // A container runtime and `systemctl stop` with KillMode=mixed signal the main process only.
    ['SIGTERM to the npm process alone (container runtime, KillMode=mixed)', (r) => r.child.kill('SIGTERM')],
    // A terminal's Ctrl-C signals the whole foreground process group.
    ['SIGINT to its process group (Ctrl-C in a terminal)', (r) => process.kill(-r.child.pid!, 'SIGINT')],
    // systemd's default KillMode=control-group signals every process of the unit at once.
    [
      'SIGTERM to every process at once (systemd, KillMode=control-group)',
      (r, tree) => {
        for (const p of [{ pid: r.child.pid! }, ...tree]) {
          try {
            process.kill(p.pid, 'SIGTERM');
          } catch {
            /* already gone */
          }
        }
      },
    ],
  ];

  it.each(cases)(
    '%s: everything it started stops and npm exits 0',
    async (_name, send) => {
      const r = await npmStart(['--demo-files', '5']);
      runs.push(r);
      const tree = descendants(r.child.pid!);
      // What must stop: the supervisor, the server, the seven agents, the storage elements.
      expect(tree.filter((p) => / dist\/cli\.js start\b|\/dist\/cli\.js start\b/.test(p.cmd))).toHaveLength(1);
      expect(tree.filter((p) => /dist\/cli\.js agent /.test(p.cmd)).length).toBe(7);
      expect(tree.filter((p) => /server\.js/.test(p.cmd)).length).toBeGreaterThanOrEqual(1);
      send(r, tree);
      const how = await within(r.exited, 40_000);
      const left = descendants(r.child.pid!)
        .concat(tree)
        .filter((p) => alive(p.pid))
        .map((p) => `${p.pid} ${cmdline(p.pid)}`);
      if (how !== 0)
        throw new Error(
          `npm start ended with ${String(how)}, not exit code 0; still running: ${JSON.stringify(left)}; its last output:\n${r.output.join('').slice(-3000)}`,
        );
      // The tree is reaped within a moment of npm's exit (xrootd's watchdogs poll every second).
      const deadline = Date.now() + 5_000;
      while (tree.some((p) => alive(p.pid)) && Date.now() < deadline) await sleep(200);
      expect(tree.filter((p) => alive(p.pid)).map((p) => `${p.pid} ${cmdline(p.pid)}`)).toEqual([]);
      expect(r.output.join('')).toMatch(/\nstopped\n/);
    },
    200_000,
  );
});
