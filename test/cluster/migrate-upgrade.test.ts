/**
 * Moving a deployment from one CouchDB node onto the 3-node cluster and upgrading its views
 * there, both under traffic (test/cluster/traffic.ts: a job submitting every 100 ms, a page-like
 * client querying the monitor's views; agents working on real files):
 *   1. `migrate-db --target-url <cluster>` with the same prefix: the cluster's databases get the
 *      cluster's q and n (scripts/ops/shards.ts), the cluster's own replicator copies, the
 *      accounts come along (scripts/ops/migrate-accounts.ts), the job and the agents follow the
 *      marker to the cluster; every document of the frozen source is on the cluster (ids and
 *      winning revisions), every file submitted before, during and after reaches done exactly once;
 *   2. a staged upgrade on the cluster (new view built in `_design/monitor-staged`, progress from
 *      `_active_tasks`, which lists every node's shard copies) while the job submits through node c
 *      and the page queries through node b.
 * Zero failed queries and zero refused submissions in both. Run by `npm run test:cluster` only;
 * 1 min 55 s to 3 min 15 s on this 2-core machine shared with other runs (load average 20 to 67),
 * the nodes' start included.
 */
import * as fs from 'fs';
import * as path from 'path';
import { withCredentials, withoutCredentials } from '../../agents/platform/config';
import { connect } from '../../agents/platform/couch';
import {
  clusterAdminUrls,
  clusterDir,
  startCluster,
  stopCluster,
  type ClusterState,
} from '../../scripts/couchdb/cluster';
import { adminUrlOf, nodesRoot, startNode, stopNode } from '../../scripts/couchdb/node';
import { dbPath, http } from '../../scripts/ops/http';
import { migrateDb, missingRevisions } from '../../scripts/ops/migrate';
import { CLUSTER_Q } from '../../scripts/ops/shards';
import { upgrade } from '../../scripts/ops/upgrade';
import type { DbRole, TransferDoc } from '../../views/schema';
import { EXTRA_VIEW, upgradedDesigns } from '../fixtures/design/upgraded';
import {
  configure,
  makeStorage,
  startAgent,
  submitFiles,
  waitFor,
  type AgentProcess,
  type Storage,
} from '../support/agents';
import { createTestEnv, type TestEnv } from '../support/env';
import { seedTransfers, until } from '../scripts/ops/support';
import { startTraffic } from './traffic';

const SINGLE = 'test-migrate-single';
const CLUSTER = 'test-migrate-cluster';

jest.setTimeout(600_000);

/** The same databases and accounts through another server (admin and users alike). */
function onServer(env: TestEnv, adminUrl: string): TestEnv {
  const base = withoutCredentials(adminUrl);
  const urlAs: TestEnv['urlAs'] = (actor) =>
    actor === 'admin' ? adminUrl : actor === 'anonymous' ? base : withCredentials(base, env.names[actor], env.password);
  return { ...env, adminUrl, baseUrl: base, admin: connect(adminUrl), urlAs, as: (actor) => connect(urlAs(actor)) };
}

/** Every non-design document of `db` as id -> winning revision. */
async function revisions(url: string, db: string): Promise<Map<string, string>> {
  const a = await http<{ rows: { id: string; value: { rev: string } }[] }>(url, 'GET', `${dbPath(db)}/_all_docs`);
  expect(a.status).toBe(200);
  return new Map(a.body.rows.filter((r) => !r.id.startsWith('_design/')).map((r) => [r.id, r.value.rev]));
}

/** The indexer tasks `_active_tasks` lists for one design doc while it builds: nodes, shards and copies seen. */
function sampleIndexers(url: string, ddoc: string) {
  const seen = { nodes: new Set<string>(), shards: new Set<string>(), copies: new Set<string>() };
  let stopping = false;
  const loop = (async () => {
    while (!stopping) {
      const a = await http<Record<string, unknown>[]>(url, 'GET', '/_active_tasks');
      for (const t of Array.isArray(a.body) ? a.body : [])
        if (t.type === 'indexer' && t.design_document === ddoc) {
          seen.nodes.add(String(t.node));
          seen.shards.add(String(t.database));
          seen.copies.add(`${String(t.node)} ${String(t.database)}`);
        }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    stop: async () => {
      stopping = true;
      await loop;
      return seen;
    },
  };
}

describe('migrate-db from one node onto a 3-node cluster, then a staged upgrade there, under traffic', () => {
  let cluster: ClusterState;
  let single: string;
  let urls: string[];
  let env: TestEnv;
  let onCluster: TestEnv;
  let storage: Storage;
  let agents: AgentProcess[] = [];
  const log = (l: string) => process.stderr.write(l + '\n');

  beforeAll(async () => {
    single = adminUrlOf(await startNode({ name: SINGLE, fresh: true, log }));
    cluster = await startCluster({ name: CLUSTER, fresh: true, log });
    urls = clusterAdminUrls(cluster);
    process.env.COUCHDB_URL = single;
    env = await createTestEnv();
    onCluster = onServer(env, urls[0]);
    storage = makeStorage(['T2_CH_CERN', 'T2_IT_Pisa']);
    await configure(env, storage, { max_files_per_transfer: 10 });
    agents = [
      startAgent(env, 'scheduler'),
      startAgent(env, 'worker', ['--backend', 'native']),
      startAgent(env, 'retrier'),
    ];
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    if (process.env.COUCHSTAGE_TEST_DUMP)
      for (const a of agents) fs.writeFileSync(`/tmp/cluster-migrate-${a.name}.log`, a.output.join(''));
    storage?.cleanup();
    await Promise.all([stopNode(SINGLE), stopCluster(CLUSTER)]);
    fs.rmSync(path.join(nodesRoot(), SINGLE), { recursive: true, force: true });
    fs.rmSync(clusterDir(CLUSTER), { recursive: true, force: true });
  });

  it('moves every document onto the cluster while agents, a job and a page work: nothing lost, nothing refused', async () => {
    // An account of another application on the source server: not this deployment's, not copied.
    const stranger = `org.couchdb.user:stranger_${env.prefix.slice(5, 15)}`;
    const other = { name: stranger.slice(17), type: 'user', roles: ['other-app'], password: env.password };
    expect((await http(single, 'PUT', `/_users/${stranger}`, { body: other })).status).toBe(201);
    const first = await submitFiles(env, storage, 150);
    const start = { base: env.baseUrl, prefix: env.prefix };
    const traffic = startTraffic(env, storage, { submit: start, query: start });
    const lines: string[] = [];
    const report = await migrateDb({
      sourceUrl: single,
      fromPrefix: env.prefix,
      toPrefix: env.prefix,
      targetUrl: urls[0],
      log: (l) => lines.push(l),
      pollMs: 500,
    });
    const clusterBase = withoutCredentials(urls[0]);
    await until('the job submitting to the cluster', () => traffic.submit.base === clusterBase, 60_000);
    const n = traffic.submitted.length;
    await until('a few submissions to the cluster', () => traffic.submitted.length >= n + 5, 60_000);
    await traffic.stop();
    console.log(
      [
        `migrate-db onto the cluster: writes paused ${report.pausedSeconds.toFixed(1)} s, replication by the ${report.replication}`,
        `traffic: ${traffic.submitted.length} submitted, ${traffic.pausedOrMoved} sent again after a pause or move, ${traffic.queries} page queries`,
        ...lines.filter((l) => /accounts:|cluster of|switched/.test(l)),
      ].join('\n'),
    );
    expect(traffic.refused).toEqual([]);
    expect(traffic.failedQueries).toEqual([]);
    expect(report.replication).toBe('server');
    expect(lines.some((l) => /accounts: \d+ couchstage account\(s\) on the source, [1-9]\d* copied/.test(l))).toBe(
      true,
    );
    for (const url of urls) expect((await http(url, 'GET', `/_users/${stranger}`)).status).toBe(404);

    // The cluster's databases were created with the cluster's shards, seen the same from every node.
    expect(lines.some((l) => l.startsWith('target: cluster of 3 nodes'))).toBe(true);
    for (const role of Object.keys(env.dbs) as DbRole[])
      for (const url of urls) {
        const info = await http<{ cluster: { q: number; n: number } }>(url, 'GET', dbPath(env.dbs[role]));
        expect([role, info.body.cluster.q, info.body.cluster.n]).toEqual([role, CLUSTER_Q[role], 3]);
      }
    // The source is frozen since the switch: each of its documents is on the cluster at the same
    // revision, or a later one the agents wrote there since.
    for (const role of Object.keys(env.dbs) as DbRole[]) {
      const src = await revisions(single, env.dbs[role]);
      const tgt = await revisions(urls[1], env.dbs[role]);
      const lost = [...src.keys()].filter((id) => !tgt.has(id));
      const older = [...src].filter(([id, rev]) => tgt.has(id) && parseInt(tgt.get(id)!, 10) < parseInt(rev, 10));
      expect([role, lost, older]).toEqual([role, [], []]);
      expect(await missingRevisions(single, env.dbs[role], urls[2], env.dbs[role])).toBe(0);
    }
    const d = report.dbs.find((x) => x.target === env.dbs.transfers)!;
    expect(d.sourceDocs).toBe(d.targetDocs);

    // Every file, before, during and after the move, done exactly once, on the cluster.
    const ids = [...first.map((x) => x._id), ...traffic.submitted];
    const docs = await waitFor(onCluster, ids, { ms: 240_000 });
    expect(docs.map((x: TransferDoc) => x.state)).toEqual(ids.map(() => 'done'));
    for (const x of docs) expect((x.attempts || []).filter((a) => !a.error)).toHaveLength(1);
    // The agents work on the cluster now: their heartbeats are written there.
    const beats = await onCluster.admin.use(env.dbs.transfers).list({ startkey: 'heartbeat:', endkey: 'heartbeat;' });
    expect(beats.rows.length).toBeGreaterThan(0);
    // The upgrade below runs under a job and a page only, as on one server (test/scripts/ops/upgrade.test.ts).
    await Promise.all(agents.map((a) => a.stop()));
  });

  it('upgrades the views staged on the cluster while the page queries node b and the job submits through node c', async () => {
    await seedTransfers(onServer(env, urls[1]), 3000);
    const via = (i: number) => ({ base: cluster.nodes[i].url, prefix: env.prefix });
    const traffic = startTraffic(env, storage, { submit: via(2), query: via(1) });
    const lines: string[] = [];
    const tasks = sampleIndexers(urls[0], '_design/monitor-staged');
    const steps = await upgrade({
      url: urls[0],
      dbs: env.dbs,
      designs: upgradedDesigns(),
      version: 'v2',
      log: (l) => lines.push(l),
      pollMs: 250,
    });
    await until('a few page queries after the swap', () => traffic.queries > 10, 30_000);
    await traffic.stop();
    const seen = await tasks.stop();
    const monitor = steps.find((s) => s.id === '_design/monitor')!;
    const progress = lines.filter((l) => /\d+% \d+\/\d+ changes/.test(l));
    console.log(
      [
        `staged upgrade on the cluster: ${monitor.build?.docs} docs in ${monitor.build?.seconds.toFixed(1)} s, progress from ${monitor.build?.progressFrom}`,
        `traffic: ${traffic.submitted.length} submitted through node c, ${traffic.queries} page queries through node b (${traffic.retriedAtSwap} sent again at the swap)`,
        `_active_tasks on node a: indexer tasks of ${seen.nodes.size} node(s) (${[...seen.nodes].sort().join(', ')}), ${seen.copies.size} shard copies of ${seen.shards.size} shards`,
        ...progress.slice(-3),
      ].join('\n'),
    );
    expect(monitor.action).toBe('staged');
    expect(traffic.refused).toEqual([]);
    expect(traffic.failedQueries).toEqual([]);
    expect(traffic.submitted.length).toBeGreaterThan(3);
    // `_active_tasks` lists the indexers of every node's copies: counted once per shard, the
    // progress never goes past the documents there are.
    const docCount = (await http<{ doc_count: number }>(urls[0], 'GET', dbPath(env.dbs.transfers))).body.doc_count;
    for (const l of progress) expect(Number(/\/(\d+) changes/.exec(l)![1])).toBeLessThanOrEqual(docCount + 50);
    // The new view answers through every node; the staged copy is gone.
    for (const url of urls) {
      const v = await http<{ rows: { value: number }[] }>(
        url,
        'GET',
        `${dbPath(env.dbs.transfers)}/_design/monitor/_view/${EXTRA_VIEW}`,
      );
      expect(v.status).toBe(200);
      expect(v.body.rows[0].value).toBeGreaterThanOrEqual(3000);
      expect((await http(url, 'GET', `${dbPath(env.dbs.transfers)}/_design/monitor-staged`)).status).toBe(404);
    }
    const again = await upgrade({ url: urls[2], dbs: env.dbs, designs: upgradedDesigns(), version: 'v2' });
    expect(again.map((s) => s.action)).toEqual(again.map(() => 'unchanged'));
  });
});
