/**
 * Shard counts `deploy` chooses when the server is a CouchDB cluster (`/_membership` lists more
 * than one cluster node): `transfers` gets q=8, the small databases q=2, each with n = min(3,
 * nodes) copies. Separate from deploy.ts because a single node needs none of it: there the
 * databases are created as before, with the server's defaults.
 *
 * Why these numbers: `transfers` takes every write of every agent and job, and a database's
 * writes and view builds are spread over its shards, so 8 shards put work on all three nodes of
 * a small cluster and leave room to grow by moving shards instead of resharding. catalog, config
 * and service are small (sites, limits, checkpoints): each shard is one more file per copy and
 * one more index per view, and 2 is CouchDB 3's own default. A database that exists is never
 * recreated: q is fixed when CouchDB creates it, so its present q and n are reported as found.
 */
import type { DbRole } from '../../views/schema';
import { dbPath, expectStatus, http } from './http';

export const CLUSTER_Q: Readonly<Record<DbRole, number>> = { transfers: 8, catalog: 2, config: 2, service: 2 };
export const MAX_N = 3;

export interface DbPlacement {
  readonly db: string;
  readonly q: number;
  readonly n: number;
  /** `created` with this q and n, or `existing` (its own q and n, as read from `GET /db`). */
  readonly action: 'created' | 'existing';
}

export interface Placement {
  readonly nodes: number;
  readonly dbs: DbPlacement[];
}

/** The number of cluster nodes; 1 when the server has no `/_membership` or does not show it to this caller. */
export async function clusterNodeCount(url: string): Promise<number> {
  const m = await http<{ cluster_nodes?: unknown }>(url, 'GET', '/_membership');
  return m.status === 200 && Array.isArray(m.body.cluster_nodes) ? Math.max(1, m.body.cluster_nodes.length) : 1;
}

async function shardsOf(url: string, db: string): Promise<{ q: number; n: number }> {
  const info = expectStatus(await http<{ cluster?: { q: number; n: number } }>(url, 'GET', dbPath(db)), `GET ${db}`);
  return { q: Number(info.body.cluster?.q), n: Number(info.body.cluster?.n) };
}

/**
 * On a cluster, creates the databases that do not exist yet with CLUSTER_Q and n = min(3, nodes)
 * and says what it chose; null on a single node, where nothing is done here.
 */
export async function placeDatabases(
  url: string,
  dbs: Record<DbRole, string>,
  log: (line: string) => void,
): Promise<Placement | null> {
  const nodes = await clusterNodeCount(url);
  if (nodes <= 1) return null;
  const n = Math.min(MAX_N, nodes);
  const placed: DbPlacement[] = [];
  for (const role of Object.keys(dbs) as DbRole[]) {
    const db = dbs[role];
    const q = CLUSTER_Q[role];
    const put = await http(url, 'PUT', `${dbPath(db)}?q=${q}&n=${n}`);
    // 412: it exists (perhaps created meanwhile by another deploy) and is left as it is.
    if (put.status !== 412) expectStatus(put, `PUT ${db}`);
    placed.push({ db, ...(await shardsOf(url, db)), action: put.status === 412 ? 'existing' : 'created' });
  }
  log(
    `cluster of ${nodes} nodes: ${placed
      .map((p) => `${p.db} q=${p.q} n=${p.n}${p.action === 'existing' ? ' (existing, kept)' : ''}`)
      .join(', ')}`,
  );
  return { nodes, dbs: placed };
}
