/**
 * Apache CouchDB 3.4 nodes for tests and benchmarks, from the release in ../shared/couchdb (an
 * Erlang release with its own runtime: nothing is downloaded). Each node is unpacked into
 * `.couchdb/<name>/` under the project (git-ignored) with its own config, data dir, free ports and
 * a fresh admin password kept in `.couchdb/<name>/state.json` (mode 0600). Starting is idempotent:
 * a node that answers `/_up` with its recorded admin is reused, one whose process died is started
 * again on its data. Loopback only: chttpd, the Erlang distribution and epmd bind to 127.0.0.1.
 * Three nodes joined into a cluster: cluster.ts; what both share: release.ts.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { withCredentials } from '../../agents/platform/config';
import { freePort } from '../se/xrootd';
import {
  baseIni,
  launchNode,
  nodesRoot,
  readState,
  releaseArchive,
  runningNode,
  setVmArgs,
  stateIn,
  stopNodeIn,
  unpackRelease,
  writeLocalIni,
  type NodeState,
} from './release';

export { nodesRoot, releaseArchive, ReleaseMissing, type NodeState } from './release';

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

/** The Erlang node name: unique per folder and port, since epmd refuses two nodes of one name. */
function erlangName(name: string, port: number): string {
  return `couchstage-${name.replace(/[^a-zA-Z0-9_-]/g, '_')}-${port}@127.0.0.1`;
}

/** Starts (or reuses) one single-node CouchDB and returns its state; the URL carries no credentials. */
export async function startNode(opts: NodeOptions = {}): Promise<NodeState> {
  const name = opts.name || 'single';
  const log = opts.log || (() => undefined);
  const dir = path.join(nodesRoot(), name);
  releaseArchive();
  if (opts.fresh) await stopNode(name).then(() => fs.rmSync(dir, { recursive: true, force: true }));
  const running = await runningNode(dir, name, log);
  if (running) return running;
  // Recorded whether or not the node still runs: its port and password are kept.
  const old = readState(dir);
  unpackRelease(dir, log);
  const port = opts.port || old?.port || (await freePort());
  const password = old?.admin.password || randomBytes(18).toString('base64url');
  setVmArgs(dir, { '-name': erlangName(name, port) });
  writeLocalIni(dir, [...baseIni(dir, port, ['single_node = true']), (opts.ini || '').trim()], password);
  return launchNode(dir, name, port, { name: 'admin', password }, log);
}

/** The node's URL with its admin's credentials. */
export function adminUrlOf(state: NodeState): string {
  return withCredentials(state.url, state.admin.name, state.admin.password);
}

/** SIGTERM (CouchDB's clean stop), SIGKILL after 30 s; a node not running is fine. */
export function stopNode(name = 'single'): Promise<boolean> {
  return stopNodeIn(path.join(nodesRoot(), name));
}

export function nodeState(name = 'single'): NodeState | null {
  return stateIn(path.join(nodesRoot(), name));
}
