/**
 * Apache CouchDB 3.4 nodes for tests and benchmarks, from the release in ../shared/couchdb (an
 * Erlang release with its own runtime: nothing is downloaded). Each node is unpacked into
 * `.couchdb/<name>/` under the project (git-ignored) with its own config, data dir, free ports and
 * a fresh admin password kept in `.couchdb/<name>/state.json` (mode 0600). Starting is idempotent:
 * a node that answers `/_up` with its recorded admin is reused, one whose process died is started
 * again on its data. Loopback only: chttpd, the Erlang distribution and epmd bind to 127.0.0.1.
 */
import { spawn, execFileSync } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { loadToolConfig, projectRoot, withCredentials } from '../../agents/platform/config';
import { freePort } from '../se/xrootd';

export interface NodeState {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly admin: { readonly name: string; readonly password: string };
  readonly pid: number;
  readonly dir: string;
}

export interface NodeOptions {
  /** Folder name under `.couchdb/` and part of the Erlang node name. */
  readonly name?: string;
  /** chttpd port; 0 or unset = a free one (kept across restarts in state.json). */
  readonly port?: number;
  /** Remove the node's folder (data included) first. */
  readonly fresh?: boolean;
  /** Extra ini text appended to the node's local config. */
  readonly ini?: string;
  readonly log?: (line: string) => void;
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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function answersAsAdmin(state: NodeState): Promise<boolean> {
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

function readState(dir: string): NodeState | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as NodeState;
  } catch {
    return null;
  }
}

/** The Erlang node name: unique per folder and port, since epmd refuses two nodes of one name. */
function erlangName(name: string, port: number): string {
  return `couchstage-${name.replace(/[^a-zA-Z0-9_-]/g, '_')}-${port}@127.0.0.1`;
}

function writeConfig(dir: string, name: string, port: number, password: string, ini: string): void {
  const rel = path.join(dir, 'couchdb');
  const vmArgs = path.join(rel, 'etc', 'vm.args');
  fs.writeFileSync(vmArgs, fs.readFileSync(vmArgs, 'utf8').replace(/^-name .*$/m, `-name ${erlangName(name, port)}`));
  const data = path.join(dir, 'data');
  fs.mkdirSync(data, { recursive: true, mode: 0o700 });
  // The admin line is written only once: CouchDB replaces the plain password with its hash on
  // first start, and a later start must not put the plain text back.
  const local = path.join(rel, 'etc', 'local.d', '10-couchstage.ini');
  const admins = fs.existsSync(local) ? fs.readFileSync(local, 'utf8').match(/\[admins\][\s\S]*$/)?.[0] : null;
  fs.writeFileSync(
    local,
    [
      '[couchdb]',
      'single_node = true',
      `database_dir = ${data}`,
      `view_index_dir = ${data}`,
      '[chttpd]',
      'bind_address = 127.0.0.1',
      `port = ${port}`,
      '[log]',
      'level = warning',
      ini.trim(),
      admins || `[admins]\nadmin = ${password}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
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

/** Starts (or reuses) one single-node CouchDB and returns its state; the URL carries no credentials. */
export async function startNode(opts: NodeOptions = {}): Promise<NodeState> {
  const name = opts.name || 'single';
  const log = opts.log || (() => undefined);
  const dir = path.join(nodesRoot(), name);
  const archive = releaseArchive();
  if (opts.fresh) await stopNode(name).then(() => fs.rmSync(dir, { recursive: true, force: true }));
  const old = readState(dir);
  if (old && alive(old.pid) && (await answersAsAdmin(old))) {
    log(`CouchDB ${name} already running at ${old.url} (pid ${old.pid})`);
    return old;
  }
  if (old && alive(old.pid))
    throw new Error(
      `a process ${old.pid} of CouchDB ${name} runs but does not accept its recorded admin; stop it or start with --fresh`,
    );
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  if (!fs.existsSync(path.join(dir, 'couchdb', 'bin', 'couchdb'))) {
    log(`unpacking ${path.basename(archive)} into ${dir}`);
    execFileSync('tar', ['xzf', archive, '-C', dir]);
  }
  const port = opts.port || old?.port || (await freePort());
  const password = old?.admin.password || randomBytes(18).toString('base64url');
  writeConfig(dir, name, port, password, opts.ini || '');
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
  const state: NodeState = {
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    admin: { name: 'admin', password },
    pid: child.pid!,
    dir,
  };
  fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  await waitUp(port, child.pid!, logFile);
  if (!(await answersAsAdmin(state)))
    throw new Error(`CouchDB ${name} is up but refuses its admin; see ${logFile} or start with --fresh`);
  log(`CouchDB ${name} started at ${state.url} (pid ${state.pid}, data in ${path.join(dir, 'data')})`);
  return state;
}

/** The node's URL with its admin's credentials. */
export function adminUrlOf(state: NodeState): string {
  return withCredentials(state.url, state.admin.name, state.admin.password);
}

/** SIGTERM (CouchDB's clean stop), SIGKILL after 30 s; a node not running is fine. */
export async function stopNode(name = 'single'): Promise<boolean> {
  const state = readState(path.join(nodesRoot(), name));
  if (!state || !alive(state.pid)) return false;
  process.kill(state.pid, 'SIGTERM');
  const until = Date.now() + 30_000;
  while (alive(state.pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
  if (alive(state.pid)) process.kill(state.pid, 'SIGKILL');
  return true;
}

export function nodeState(name = 'single'): NodeState | null {
  const state = readState(path.join(nodesRoot(), name));
  return state && alive(state.pid) ? state : null;
}
