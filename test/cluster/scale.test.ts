/**
 * Scaling out on a 3-node CouchDB cluster (scripts/couchdb/cluster.ts): 3 schedulers, 3 workers,
 * 2 retriers and 2 publishers, each process talking to one node (a, b, c in turn), take FILES
 * files, submitted through all three nodes, to done and published exactly once. The invariants are
 * test/system/scale.test.ts's, checked through node a and again through node b: every file done
 * with exactly one successful attempt and in exactly one finished transfer job; one catalogue file
 * and one replica per transfer, in closed blocks whose counts match. Racing agents on different
 * nodes write conflict revisions instead of getting a 409: none may be left at the end (the
 * retrier resolves them, agents/lib/conflict-effects.ts), and the test prints how many documents
 * had one resolved (`_deleted_conflicts`) and how many the retriers resolved (their metric
 * couchstage_conflicts_resolved_total), with the agents' 202 answers and failovers. Instant
 * backend (no storage: this pins down coordination). Run by `npm run test:cluster` only. The issue's 5,000 files, kept although they take longer than the
 * ~5 minutes aimed for: on this 2-core machine, shared with other runs, they flowed in 5.5 to 7.5
 * minutes (6.5 to 10 with the cluster's start and the checks); FILES is the one figure to lower.
 */
import * as fs from 'fs';
import { withCredentials } from '../../agents/platform/config';
import { connect } from '../../agents/platform/couch';
import {
  clusterAdminUrls,
  clusterDir,
  startCluster,
  stopCluster,
  type ClusterState,
} from '../../scripts/couchdb/cluster';
import { dbPath, http } from '../../scripts/ops/http';
import { waitFor, type AgentProcess, type Storage } from '../support/agents';
import { configureScale, startScaleAgents, stopScaleAgents } from '../support/scale-setup';
import { createTestEnv, type TestEnv } from '../support/env';
import { seedTransfers } from '../scripts/ops/support';
import { waitPublished } from '../agents/publisher/support';
import { expectScaleInvariants } from '../support/scale-invariants';
import { counters, sumCounters } from '../support/metrics';

const NAME = 'test-scale';
const FILES = 5000;
const PER_BLOCK = 100;

jest.setTimeout(1_500_000);

/** The test environment with its admin and users talking to node `i` (same databases and users). */
function viaNode(env: TestEnv, cluster: ClusterState, i: number): TestEnv {
  const node = cluster.nodes[i];
  const adminUrl = withCredentials(node.url, node.admin.name, node.admin.password);
  const urlAs: TestEnv['urlAs'] = (actor) =>
    actor === 'admin'
      ? adminUrl
      : actor === 'anonymous'
        ? node.url
        : withCredentials(node.url, env.names[actor], env.password);
  return { ...env, adminUrl, baseUrl: node.url, admin: connect(adminUrl), urlAs, as: (actor) => connect(urlAs(actor)) };
}

/** Ids of the documents of `db` that have `_conflicts` now (one _all_docs read). */
async function conflicted(env: TestEnv, db: string): Promise<string[]> {
  const res = await env.admin.use(db).list({ include_docs: true, conflicts: true });
  return res.rows.filter((r) => (r.doc as { _conflicts?: string[] } | undefined)?._conflicts?.length).map((r) => r.id);
}

/**
 * Ids of the documents of `db` that had a conflict resolved: a resolution deletes the losing
 * leaves, which the document then lists as `_deleted_conflicts`. One GET per document:
 * `deleted_conflicts` is a document read's option, not _all_docs'.
 */
async function resolvedConflicts(env: TestEnv, db: string): Promise<string[]> {
  const queue = (await env.admin.use(db).list()).rows.map((r) => r.id).filter((id) => !id.startsWith('_design/'));
  const out: string[] = [];
  const read = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      const path = `${dbPath(db)}/${encodeURIComponent(id)}?deleted_conflicts=true`;
      const res = await http<{ _deleted_conflicts?: string[] }>(env.adminUrl, 'GET', path);
      if (res.status !== 200) throw new Error(`GET ${id}: ${res.status}`);
      if (res.body._deleted_conflicts?.length) out.push(id);
    }
  };
  await Promise.all(Array.from({ length: 8 }, read));
  return out;
}

describe(`cluster scale: 3 schedulers + 3 workers + 2 retriers + 2 publishers over 3 nodes, ${FILES} files`, () => {
  let cluster: ClusterState;
  let env: TestEnv;
  let storage: Storage;
  let agents: AgentProcess[] = [];
  beforeAll(async () => {
    cluster = await startCluster({ name: NAME, fresh: true, log: (l) => process.stderr.write(l + '\n') });
    process.env.COUCHDB_URL = clusterAdminUrls(cluster)[0];
    env = await createTestEnv();
    storage = await configureScale(env, PER_BLOCK);
  });
  afterAll(async () => {
    await stopScaleAgents(agents, 'cluster-scale');
    await env?.cleanup();
    storage?.cleanup();
    await stopCluster(NAME);
    fs.rmSync(clusterDir(NAME), { recursive: true, force: true });
  });

  it('processes every file exactly once and leaves no conflict', async () => {
    const started = Date.now();
    const over = () => ({
      source: 'T2_CH_CERN',
      destination: 'T2_IT_Pisa',
      publish: true,
      dataset: `/Scale/${env.names.owner}-v1/USER`,
    });
    // A third of the files through each node.
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const n = Math.floor(FILES / 3) + (i < FILES % 3 ? 1 : 0);
      ids.push(...(await seedTransfers(viaNode(env, cluster, i), n, over)));
    }
    // Each agent talks to one node, a, b, c in turn.
    agents = startScaleAgents(env, {
      metrics: true,
      extraEnv: (i) => ({ COUCHDB_URL: viaNode(env, cluster, i % 3).urlAs('agent') }),
    });
    await waitFor(env, ids, { ms: 1_200_000 });
    await waitPublished(env, ids, {
      ms: 600_000,
      until: (c) => c.blocks.length > 0 && c.blocks.every((b) => !b.open),
    });
    const flowed = Date.now() - started;
    // The retriers resolve the conflicts the feed shows them: give the last ones a moment.
    let open = await conflicted(env, env.dbs.transfers);
    for (let tries = 0; open.length && tries < 30; tries++) {
      await new Promise((r) => setTimeout(r, 2000));
      open = await conflicted(env, env.dbs.transfers);
    }
    const openInCatalog = await conflicted(env, env.dbs.catalog);
    const resolved = await resolvedConflicts(env, env.dbs.transfers);
    const retriers = await Promise.all(
      agents.filter((a) => a.name === 'retrier').map((a) => counters(a, ['couchstage_conflicts_resolved_total'])),
    );
    const resolvedBy = retriers.map((c) => c.couchstage_conflicts_resolved_total);
    const totals = await sumCounters(agents, ['couchstage_writes_accepted_total', 'couchstage_node_failovers_total']);
    console.log(
      [
        `cluster scale: ${ids.length} files done and published in ${(flowed / 1000).toFixed(1)} s`,
        `transfers db: ${resolved.length} documents with a resolved conflict (_deleted_conflicts), ${open.length} still conflicted`,
        `catalog db: ${openInCatalog.length} still conflicted`,
        `retriers resolved ${resolvedBy.reduce((a, b) => a + b, 0)} conflicts (${resolvedBy.join(' + ')}; couchstage_conflicts_resolved_total)`,
        `agents: ${totals.couchstage_writes_accepted_total} answers 202, ${totals.couchstage_node_failovers_total} failovers`,
      ].join('\n'),
    );
    expect(open).toEqual([]);
    expect(openInCatalog).toEqual([]);
    // The same invariants through node a and through node b.
    const checking = Date.now();
    const invariants = { perBlock: PER_BLOCK, doneMs: 60_000, publishedMs: 120_000 };
    await expectScaleInvariants(env, ids, invariants);
    await expectScaleInvariants(viaNode(env, cluster, 1), ids, invariants);
    console.log(`invariants checked through nodes a and b in ${((Date.now() - checking) / 1000).toFixed(1)} s`);
    expect(agents.every((a) => a.child.exitCode === null)).toBe(true);
  });
});
