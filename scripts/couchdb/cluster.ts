/**
 * A 3-node Apache CouchDB 3.4 cluster on loopback for tests and benchmarks, from the same release
 * as the single node (node.ts; shared pieces in release.ts). `.couchdb/<name>/` holds
 * `cluster.json` (mode 0600: the shared `[couchdb] uuid`, `[chttpd_auth] secret`, Erlang cookie,
 * admin and every node's ports) and one folder per node, `a/`, `b/`, `c/`, each its own release,
 * data dir, chttpd port and Erlang distribution port (`inet_dist_listen_min/max`), named
 * `couchstage-<name>-a@127.0.0.1` ... The node names are fixed, not per port as a single node's:
 * the cluster records its members by name, and a restart on the same data must find them.
 * Starting is idempotent: running nodes are reused, stopped ones started again on their data, and
 * the join (cluster-join.ts) is skipped when the nodes are already recorded.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { withCredentials } from '../../agents/platform/config';
import { freePort } from '../se/xrootd';
import { hashAdminPassword } from '../server/passwords';
import { CLUSTER_BIND_ADDRESS, joinCluster, type ClusterNode } from './cluster-join';

export type { ClusterNode } from './cluster-join';
import {
  alive,
  baseIni,
  launchNode,
  readState,
  nodesRoot,
  releaseArchive,
  runningNode,
  setVmArgs,
  stateIn,
  stopNodeIn,
  unpackRelease,
  writeLocalIni,
} from './release';

export const NODE_LETTERS = ['a', 'b', 'c'] as const;

export interface ClusterOptions {
  /** Folder name under `.couchdb/` and part of every node's Erlang name; default `cluster`. */
  readonly name?: string;
  /** Remove the cluster's folder (data included) first. */
  readonly fresh?: boolean;
  readonly log?: (line: string) => void;
}

export interface ClusterState {
  readonly name: string;
  /** Nodes a, b, c in that order; URLs without credentials. */
  readonly nodes: readonly ClusterNode[];
}

/** What the three nodes share and where each listens, written once (cluster.json, mode 0600). */
interface ClusterRecord {
  readonly uuid: string;
  readonly secret: string;
  readonly cookie: string;
  readonly admin: { readonly name: string; readonly password: string };
  /** The `[admins]` value of every node: one hash, so a session cookie from one node holds on the others. */
  readonly adminHash: string;
  readonly ports: Record<string, { readonly http: number; readonly dist: number }>;
}

export function clusterDir(name = 'cluster'): string {
  return path.join(nodesRoot(), name);
}

export function erlangNodeName(name: string, letter: string): string {
  return `couchstage-${name.replace(/[^a-zA-Z0-9_-]/g, '_')}-${letter}@127.0.0.1`;
}

/** Free loopback ports, all distinct (a port just freed can be handed out again). */
async function distinctPorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

async function clusterRecord(dir: string): Promise<ClusterRecord> {
  const file = path.join(dir, 'cluster.json');
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8')) as ClusterRecord;
  const password = randomBytes(18).toString('base64url');
  const ports = await distinctPorts(NODE_LETTERS.length * 2);
  const record: ClusterRecord = {
    uuid: randomBytes(16).toString('hex'),
    secret: randomBytes(16).toString('hex'),
    cookie: randomBytes(18).toString('hex'),
    admin: { name: 'admin', password },
    adminHash: await hashAdminPassword(password),
    ports: Object.fromEntries(NODE_LETTERS.map((l, i) => [l, { http: ports[2 * i], dist: ports[2 * i + 1] }])),
  };
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, JSON.stringify(record, null, 2) + '\n', { mode: 0o600 });
  return record;
}

function configureNode(dir: string, name: string, letter: string, rec: ClusterRecord): void {
  const { http, dist } = rec.ports[letter];
  setVmArgs(dir, {
    '-name': erlangNodeName(name, letter),
    '-setcookie': rec.cookie,
    '-kernel inet_dist_listen_min': String(dist),
    '-kernel inet_dist_listen_max': String(dist),
  });
  writeLocalIni(
    dir,
    [
      ...baseIni(dir, http, [`uuid = ${rec.uuid}`], CLUSTER_BIND_ADDRESS),
      '[chttpd_auth]',
      `secret = ${rec.secret}`,
      '[cluster]',
      `n = ${NODE_LETTERS.length}`,
    ],
    rec.adminHash,
  );
}

async function startMember(
  root: string,
  name: string,
  letter: string,
  rec: ClusterRecord,
  log: (l: string) => void,
): Promise<ClusterNode> {
  const dir = path.join(root, letter);
  const label = `${name}-${letter}`;
  const state =
    (await runningNode(dir, label, log)) || (await launchNode(dir, label, rec.ports[letter].http, rec.admin, log));
  return { ...state, erlangName: erlangNodeName(name, letter) };
}

/** Starts (or reuses) the three nodes, joins them, waits until each lists all three, and returns them. */
export async function startCluster(opts: ClusterOptions = {}): Promise<ClusterState> {
  const name = opts.name || 'cluster';
  const log = opts.log || (() => undefined);
  const root = clusterDir(name);
  releaseArchive();
  if (fs.existsSync(path.join(root, 'couchdb')))
    throw new Error(`${root} holds a single node (npm run couchdb -- start --name ${name}); pick another name`);
  if (opts.fresh) await stopCluster(name).then(() => fs.rmSync(root, { recursive: true, force: true }));
  const rec = await clusterRecord(root);
  for (const letter of NODE_LETTERS) {
    const dir = path.join(root, letter);
    if (stateIn(dir)) continue;
    unpackRelease(dir, log);
    configureNode(dir, name, letter, rec);
  }
  const nodes = await Promise.all(NODE_LETTERS.map((l) => startMember(root, name, l, rec, log)));
  await joinCluster(nodes, log);
  return { name, nodes };
}

/** Stops the three nodes together (SIGTERM, SIGKILL after 30 s); resolves how many were running. */
export async function stopCluster(name = 'cluster'): Promise<number> {
  const stopped = await Promise.all(NODE_LETTERS.map((l) => stopNodeIn(path.join(clusterDir(name), l))));
  return stopped.filter(Boolean).length;
}

export type NodeLetter = (typeof NODE_LETTERS)[number];

function nodeDir(name: string, letter: string): string {
  if (!(NODE_LETTERS as readonly string[]).includes(letter))
    throw new Error(`no node "${letter}": the nodes are ${NODE_LETTERS.join(', ')}`);
  return path.join(clusterDir(name), letter);
}

/** Crashes one node (SIGKILL, no clean stop); resolves once its process is gone, false if none ran. */
export async function killNode(letter: string, name = 'cluster'): Promise<boolean> {
  const state = stateIn(nodeDir(name, letter));
  if (!state) return false;
  process.kill(state.pid, 'SIGKILL');
  while (alive(state.pid)) await new Promise((r) => setTimeout(r, 50));
  return true;
}

/** Stops one node cleanly (SIGTERM, SIGKILL after 30 s); the others keep serving. */
export function stopNode(letter: string, name = 'cluster'): Promise<boolean> {
  return stopNodeIn(nodeDir(name, letter));
}

/**
 * Starts one stopped or killed node again on its data (reused when it runs) and waits for `/_up`.
 * It rejoins by itself: the membership is recorded in every node's `_nodes` database.
 */
export async function startNode(letter: string, name = 'cluster', log: (l: string) => void = () => undefined) {
  const dir = nodeDir(name, letter);
  if (!fs.existsSync(path.join(clusterDir(name), 'cluster.json')) || !readState(dir))
    throw new Error(`cluster ${name} has no node ${letter} yet: npm run couchdb -- cluster start --name ${name}`);
  return startMember(clusterDir(name), name, letter, await clusterRecord(clusterDir(name)), log);
}

/** The cluster's nodes whose processes run (all three when it is up). */
export function clusterState(name = 'cluster'): ClusterState {
  const nodes: ClusterNode[] = [];
  for (const letter of NODE_LETTERS) {
    const state = stateIn(path.join(clusterDir(name), letter));
    if (state) nodes.push({ ...state, erlangName: erlangNodeName(name, letter) });
  }
  return { name, nodes };
}

/** Every node's URL with the admin's credentials, a first. */
export function clusterAdminUrls(state: ClusterState): string[] {
  return state.nodes.map((n) => withCredentials(n.url, n.admin.name, n.admin.password));
}
