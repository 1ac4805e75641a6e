/**
 * What a single node (node.ts) and a cluster (cluster.ts) share: finding the release archive,
 * unpacking it into a node's folder, writing its vm.args and local ini, launching it with epmd
 * bound to loopback, waiting for `/_up`, checking its admin, and stopping it. Kept apart so the
 * two ways of running CouchDB start and stop their processes the same way.
 */
import { spawn, execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { loadToolConfig, projectRoot } from '../../agents/platform/config';
import { AUTH_HANDLERS } from '../server/authz/proxy';

export interface NodeState {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly admin: { readonly name: string; readonly password: string };
  readonly pid: number;
  readonly dir: string;
}

export class ReleaseMissing extends Error {}

/** The release archive: COUCHSTAGE_COUCHDB_RELEASE, else the one in ../shared/couchdb. */
export function releaseArchive(env: NodeJS.ProcessEnv = process.env): string {
  const file = loadToolConfig(env).couchdbRelease;
  if (file) {
    if (!fs.existsSync(file)) throw new ReleaseMissing(`COUCHSTAGE_COUCHDB_RELEASE: no such file ${file}`);
    return file;
  }
  const dir = path.resolve(projectRoot(), '..', 'shared', 'couchdb');
  const found = fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((f) => /^apache-couchdb-.*\.tar\.gz$/.test(f))
        .sort()
    : [];
  if (!found.length)
    throw new ReleaseMissing(
      `no Apache CouchDB release in ${dir} (set COUCHSTAGE_COUCHDB_RELEASE to a release .tar.gz, or COUCHDB_URL to a running server)`,
    );
  return path.join(dir, found[found.length - 1]);
}

export function nodesRoot(): string {
  return path.join(projectRoot(), '.couchdb');
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function answersAsAdmin(state: NodeState): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${state.port}/_session`, {
      headers: {
        Authorization: 'Basic ' + Buffer.from(`${state.admin.name}:${state.admin.password}`).toString('base64'),
      },
      signal: AbortSignal.timeout(2000),
    });
    const body = (await res.json()) as { userCtx?: { roles?: string[] } };
    return !!body.userCtx?.roles?.includes('_admin');
  } catch {
    return false;
  }
}

export function readState(dir: string): NodeState | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as NodeState;
  } catch {
    return null;
  }
}

/**
 * The node recorded in `dir` when it runs and accepts its admin; null when it is not running.
 * A process that runs but refuses the recorded admin is an error: starting another node on the
 * same data beside it would corrupt it.
 */
export async function runningNode(dir: string, label: string, log: (line: string) => void): Promise<NodeState | null> {
  const old = readState(dir);
  if (old && alive(old.pid) && (await answersAsAdmin(old))) {
    log(`CouchDB ${label} already running at ${old.url} (pid ${old.pid})`);
    return old;
  }
  if (old && alive(old.pid))
    throw new Error(
      `a process ${old.pid} of CouchDB ${label} runs but does not accept its recorded admin; stop it or start with --fresh`,
    );
  return null;
}

/** The node's folder (mode 0700) with the release unpacked in it, once. */
export function unpackRelease(dir: string, log: (line: string) => void): void {
  const archive = releaseArchive();
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  if (!fs.existsSync(path.join(dir, 'couchdb', 'bin', 'couchdb'))) {
    log(`unpacking ${path.basename(archive)} into ${dir}`);
    execFileSync('tar', ['xzf', archive, '-C', dir]);
  }
}

/** Sets `-name`, `-setcookie`, `-kernel inet_dist_listen_min` ... in etc/vm.args: replaced when present, else appended. */
export function setVmArgs(dir: string, args: Record<string, string>): void {
  const file = path.join(dir, 'couchdb', 'etc', 'vm.args');
  let text = fs.readFileSync(file, 'utf8');
  for (const [key, value] of Object.entries(args)) {
    const line = new RegExp(`^${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} .*$`, 'm');
    text = line.test(text) ? text.replace(line, `${key} ${value}`) : text.replace(/\n?$/, `\n${key} ${value}\n`);
  }
  fs.writeFileSync(file, text, { mode: 0o600 });
}

/**
 * Writes the node's local ini (etc/local.d/10-couchstage.ini, mode 0600): `lines`, then the
 * `[admins]` section. The admin line is written only once: CouchDB replaces a plain password with
 * its hash on first start, and a later start must not put the plain text back. CouchDB also
 * writes settings changed over HTTP into this file (the last in its chain), new sections after
 * `[admins]`: they are kept too.
 */
export function writeLocalIni(dir: string, lines: readonly string[], adminValue: string): void {
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true, mode: 0o700 });
  const local = path.join(dir, 'couchdb', 'etc', 'local.d', '10-couchstage.ini');
  const admins = fs.existsSync(local) ? fs.readFileSync(local, 'utf8').match(/\[admins\][\s\S]*$/)?.[0] : null;
  fs.writeFileSync(local, [...lines, admins || `[admins]\nadmin = ${adminValue}`, ''].join('\n'), { mode: 0o600 });
}

/** The `[couchdb]` data dirs, `[chttpd]` on loopback and `[log]` lines every node writes; `couchdb` adds to its section. */
export function baseIni(dir: string, port: number, couchdb: readonly string[], bindAddress = '127.0.0.1'): string[] {
  const data = path.join(dir, 'data');
  return [
    '[couchdb]',
    ...couchdb,
    `database_dir = ${data}`,
    `view_index_dir = ${data}`,
    '[chttpd]',
    `bind_address = ${bindAddress}`,
    `port = ${port}`,
    // Read only at start: a node that is to accept Bearer tokens (`deploy --jwt-jwks`) or the TLS
    // gateway's proxy headers needs the handlers from its first start; keys and secret come with deploy.
    `authentication_handlers = ${AUTH_HANDLERS}`,
    '[log]',
    'level = warning',
  ];
}

async function waitUp(port: number, pid: number, logFile: string, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!alive(pid)) throw new Error(`CouchDB exited during start; see ${logFile}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/_up`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`CouchDB on port ${port} did not answer /_up within ${ms / 1000} s; see ${logFile}`);
}

/**
 * Launches the configured node in `dir`, records it in state.json (mode 0600), waits for `/_up`
 * and checks that it accepts its admin. The URL carries no credentials.
 */
export async function launchNode(
  dir: string,
  label: string,
  port: number,
  admin: NodeState['admin'],
  log: (line: string) => void,
): Promise<NodeState> {
  const logFile = path.join(dir, 'couchdb.log');
  const out = fs.openSync(logFile, 'a', 0o600);
  const child = spawn(path.join(dir, 'couchdb', 'bin', 'couchdb'), [], {
    cwd: path.join(dir, 'couchdb'),
    detached: true,
    stdio: ['ignore', out, out],
    // epmd, started by the first Erlang node, would otherwise listen on every interface.
    env: { ...process.env, ERL_EPMD_ADDRESS: '127.0.0.1' },
  });
  fs.closeSync(out);
  child.unref();
  const state: NodeState = { name: label, port, url: `http://127.0.0.1:${port}`, admin, pid: child.pid!, dir };
  fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  await waitUp(port, child.pid!, logFile);
  // A cluster member started again answers /_up before it can read `_users` through the cluster:
  // under load (load average 40 on 2 cores) its first `_session` failed; it accepted the admin
  // a few seconds later.
  let admitted = await answersAsAdmin(state);
  for (const until = Date.now() + 30_000; !admitted && alive(child.pid!) && Date.now() < until;) {
    await new Promise((r) => setTimeout(r, 500));
    admitted = await answersAsAdmin(state);
  }
  if (!admitted) throw new Error(`CouchDB ${label} is up but refuses its admin; see ${logFile} or start with --fresh`);
  log(`CouchDB ${label} started at ${state.url} (pid ${state.pid}, data in ${path.join(dir, 'data')})`);
  return state;
}

/** SIGTERM (CouchDB's clean stop), SIGKILL after 30 s; a node not running is fine. */
export async function stopNodeIn(dir: string): Promise<boolean> {
  const state = readState(dir);
  if (!state || !alive(state.pid)) return false;
  process.kill(state.pid, 'SIGTERM');
  const until = Date.now() + 30_000;
  while (alive(state.pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
  if (alive(state.pid)) process.kill(state.pid, 'SIGKILL');
  return true;
}

/** The node recorded in `dir` when its process runs. */
export function stateIn(dir: string): NodeState | null {
  const state = readState(dir);
  return state && alive(state.pid) ? state : null;
}
