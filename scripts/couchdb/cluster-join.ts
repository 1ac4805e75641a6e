/**
 * Joining three running CouchDB nodes into one cluster with `POST /_cluster_setup`, as CouchDB's
 * "The Cluster Setup API" describes: `enable_cluster` on every node, `add_node` for the others
 * from the first, waiting until every node's `/_membership` lists every node in `cluster_nodes`
 * (the `_nodes` database) and `all_nodes` (connected), then `finish_cluster` on the first. Apart
 * from cluster.ts, which runs the processes, because this part is CouchDB's HTTP protocol only.
 * Each step is safe to repeat: a cluster restarted on its data already has its nodes recorded
 * and only waits for them to connect.
 */
import { withCredentials } from '../../agents/platform/config';
import { expectStatus, http } from '../ops/http';
import type { NodeState } from './release';

/**
 * chttpd's bind address on a cluster node. CouchDB's cluster setup refuses the literal
 * `127.0.0.1` (`enable_cluster`: "Cluster setup requires a remote bind_address", and `add_node`
 * answers cluster_not_enabled while the config says 127.0.0.1); `127.1` is the same loopback
 * address in the short form Erlang's inet_parse reads, so the nodes still listen on 127.0.0.1 only.
 */
export const CLUSTER_BIND_ADDRESS = '127.1';

export interface Membership {
  readonly all_nodes: string[];
  readonly cluster_nodes: string[];
}

export interface ClusterNode extends NodeState {
  /** Erlang node name, `couchstage-<name>-a@127.0.0.1`. */
  readonly erlangName: string;
}

function adminUrl(node: NodeState): string {
  return withCredentials(node.url, node.admin.name, node.admin.password);
}

export async function membership(node: NodeState): Promise<Membership> {
  const a = expectStatus(await http<Membership>(adminUrl(node), 'GET', '/_membership'), `${node.name} /_membership`);
  return a.body;
}

const hasAll = (list: readonly string[], names: readonly string[]) => names.every((n) => list.includes(n));

/**
 * A setup step; an answer saying the step was already done (a repeated start) is fine. Retried a
 * few times on a connection error or a 5xx: a node applies `enable_cluster`'s settings by
 * restarting its listener, and `add_node` reaches the other node over HTTP.
 */
async function setupStep(node: NodeState, body: Record<string, unknown>, attempts = 5): Promise<void> {
  const what = `${node.name} _cluster_setup ${String(body.action)}`;
  for (let i = 1; ; i++) {
    const a = await http<{ reason?: string }>(adminUrl(node), 'POST', '/_cluster_setup', { body }).catch((err) => {
      if (i >= attempts) throw new Error(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      return null;
    });
    if (a && a.status === 400 && /already/i.test(String(a.body.reason))) return;
    if (a && (a.status < 500 || i >= attempts)) {
      expectStatus(a, what);
      return;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * Joins the members (the first coordinates) unless the first already records them all, waits
 * until every node lists every node, then finishes the setup.
 */
export async function joinCluster(members: readonly ClusterNode[], log: (line: string) => void): Promise<void> {
  const names = members.map((m) => m.erlangName);
  const [first, ...others] = members;
  const known = (await membership(first)).cluster_nodes;
  if (!hasAll(known, names)) {
    log(`joining ${names.join(', ')} with /_cluster_setup`);
    for (const m of members)
      await setupStep(m, {
        action: 'enable_cluster',
        bind_address: CLUSTER_BIND_ADDRESS,
        node_count: members.length,
      });
    for (const m of others) {
      if (known.includes(m.erlangName)) continue;
      await setupStep(first, {
        action: 'add_node',
        host: '127.0.0.1',
        port: m.port,
        name: m.erlangName.replace(/@.*$/, ''),
        username: m.admin.name,
        password: m.admin.password,
      });
    }
  }
  await waitMembership(members, names);
  // Always, once all are connected: it creates the system databases (`_users`, `_replicator`) and
  // answers "Cluster is already finished" when they exist, so a start interrupted after add_node
  // still gets them.
  await setupStep(first, { action: 'finish_cluster' });
  log(`cluster of ${names.length} nodes: every node lists ${names.join(', ')}`);
}

async function waitMembership(members: readonly ClusterNode[], names: readonly string[], ms = 60_000) {
  const until = Date.now() + ms;
  let last: string = '';
  while (Date.now() < until) {
    const seen = await Promise.all(members.map((m) => membership(m).catch(() => null)));
    if (seen.every((s) => s && hasAll(s.cluster_nodes, names) && hasAll(s.all_nodes, names))) return;
    last = JSON.stringify(seen);
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the cluster did not list all of ${names.join(', ')} within ${ms / 1000} s; last seen ${last}`);
}
