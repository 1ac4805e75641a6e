/**
 * A 3-node CouchDB cluster from the shared release (scripts/couchdb/cluster.ts): the nodes join,
 * deploy creates `transfers` with q=8 and the small databases with q=2 (n=3 each), a second
 * deploy keeps them, and a transfer a user writes through node a reads the same through b and c.
 * Run by `npm run test:cluster` only (test/cluster/jest.config.cjs).
 */
import * as fs from 'fs';
import { withCredentials } from '../../agents/platform/config';
import {
  clusterAdminUrls,
  clusterDir,
  startCluster,
  stopCluster,
  type ClusterState,
} from '../../scripts/couchdb/cluster';
import { deploy } from '../../scripts/deploy';
import { dbPath, http } from '../../scripts/ops/http';
import { CLUSTER_Q } from '../../scripts/ops/shards';
import type { DbRole } from '../../views/schema';
import { createTestEnv, transferFixture, type TestEnv } from '../support/env';

const NAME = 'test-cluster';

describe('3-node CouchDB cluster', () => {
  let cluster: ClusterState;
  let urls: string[];
  let env: TestEnv;

  beforeAll(async () => {
    cluster = await startCluster({ name: NAME, fresh: true, log: (l) => process.stderr.write(l + '\n') });
    urls = clusterAdminUrls(cluster);
    process.env.COUCHDB_URL = urls[0];
  });
  afterAll(async () => {
    await env?.cleanup();
    await stopCluster(NAME);
    fs.rmSync(clusterDir(NAME), { recursive: true, force: true });
  });

  it('has every node in every node’s cluster_nodes and all_nodes', async () => {
    const names = cluster.nodes.map((n) => n.erlangName).sort();
    expect(names).toEqual([
      `couchstage-${NAME}-a@127.0.0.1`,
      `couchstage-${NAME}-b@127.0.0.1`,
      `couchstage-${NAME}-c@127.0.0.1`,
    ]);
    for (const url of urls) {
      const m = await http<{ cluster_nodes: string[]; all_nodes: string[] }>(url, 'GET', '/_membership');
      expect(m.status).toBe(200);
      expect([...m.body.cluster_nodes].sort()).toEqual(names);
      expect([...m.body.all_nodes].sort()).toEqual(names);
    }
  });

  it('deploys transfers with q=8 and the small databases with q=2, n=3, and keeps them on a second deploy', async () => {
    env = await createTestEnv();
    expect(env.deployReport.placement?.nodes).toBe(3);
    expect(env.deployReport.placement?.dbs.every((d) => d.action === 'created')).toBe(true);
    for (const [role, db] of Object.entries(env.dbs)) {
      for (const url of urls) {
        const info = await http<{ cluster: { q: number; n: number } }>(url, 'GET', dbPath(db));
        expect([db, info.body.cluster.q, info.body.cluster.n]).toEqual([db, CLUSTER_Q[role as DbRole], 3]);
      }
    }
    expect(CLUSTER_Q.transfers).toBe(8);
    const again = await deploy({ url: urls[1], dbs: env.dbs, version: 'test' });
    expect(again.placement?.dbs.map((d) => [d.action, d.q, d.n])).toEqual(
      Object.keys(env.dbs).map((role) => ['existing', CLUSTER_Q[role as DbRole], 3]),
    );
    expect(again.designs.every((d) => d.action === 'unchanged')).toBe(true);
  });

  it('reads a transfer written by a user through node a the same through nodes b and c', async () => {
    const doc = transferFixture(env.names.owner);
    const path = `${dbPath(env.dbs.transfers)}/${doc._id as string}`;
    const asOwner = (i: number) => withCredentials(cluster.nodes[i].url, env.names.owner, env.password);
    const put = await http<{ rev: string }>(asOwner(0), 'PUT', path, { body: doc });
    expect(put.status).toBe(201);
    for (const i of [1, 2]) {
      const got = await http<Record<string, unknown>>(asOwner(i), 'GET', path);
      expect(got.status).toBe(200);
      expect(got.body._rev).toBe(put.body.rev);
      expect(got.body.source_lfn).toBe(doc.source_lfn);
      expect(got.body.user).toBe(env.names.owner);
    }
  });
});
