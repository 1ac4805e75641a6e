/**
 * The deleter killed mid-run: 1,500 replicas of a dataset at one site, the deleter SIGKILLed
 * twice while it removes them, restarted each time. Every copy must end removed, every
 * ReplicaDoc deleted exactly once (its tombstone is revision 2: written once, deleted once),
 * the counters exact, files invalid and the dataset DELETED.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { DataRequestDoc } from '../../../views/schema';
import { configure, makeStorage, startAgent, type AgentProcess, type Storage } from '../../support/agents';
import { createTestEnv, type TestEnv } from '../../support/env';
import { catalogDocs, cli, fileId, replicaId, requestOf, seedDataset, waitRequest } from './support';

const SITE = 'T2_CH_CERN';
const N = 1500;

describe('deleter killed mid-run', () => {
  let env: TestEnv;
  let storage: Storage;
  const agents: AgentProcess[] = [];

  beforeAll(async () => {
    env = await createTestEnv();
    storage = makeStorage([SITE, 'T2_IT_Pisa']);
    // lease_seconds 4: a killed deleter's request is taken over within seconds.
    await configure(env, storage);
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop('SIGKILL')));
    storage?.cleanup();
    await env?.cleanup();
  });

  const present = (lfns: readonly string[]) =>
    lfns.filter((l) => fs.existsSync(path.join(storage.sites[SITE], l))).length;

  it('removes every copy once and leaves the catalogue right', async () => {
    const seeded = await seedDataset(env, env.names.owner, SITE, storage.sites[SITE], N);
    const req = requestOf(await cli(env, 'owner', 'delete', '--dataset', seeded.dataset, '--site', SITE, '--json'));
    const kills: number[] = [];
    for (let round = 0; round < 2; round++) {
      const deleter = startAgent(env, 'deleter', ['--backend', 'native']);
      agents.push(deleter);
      // Kill once this run has removed some copies but not all: at a random point of the pass.
      const start = present(seeded.lfns);
      const target = start - Math.max(1, Math.floor(Math.random() * Math.min(300, start / 3)));
      const deadline = Date.now() + 120_000;
      while (present(seeded.lfns) > target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      deleter.child.kill('SIGKILL');
      await deleter.exited;
      const left = present(seeded.lfns);
      kills.push(left);
      // The kill must land mid-run for this test to mean anything.
      expect(left).toBeGreaterThan(0);
      expect(left).toBeLessThan(start);
    }
    const mid = (await env.admin.use(env.dbs.transfers).get(req._id)) as unknown as DataRequestDoc;
    expect(mid.state).toBe('running');
    expect(mid.targets).toHaveLength(N);
    agents.push(startAgent(env, 'deleter', ['--backend', 'native']));
    const end = await waitRequest(env, req._id, 240_000);
    expect({ state: end.state, progress: end.progress, errors: end.errors }).toEqual({
      state: 'done',
      progress: { total: N, done: N, failed: 0 },
      errors: [],
    });
    expect(present(seeded.lfns)).toBe(0);
    expect(kills.length).toBe(2);
    // Every ReplicaDoc deleted exactly once: the tombstone follows the single stored revision.
    const catalog = env.admin.use(env.dbs.catalog);
    const ids = seeded.lfns.map((l) => replicaId(l, SITE));
    const res = await catalog.fetch({ keys: ids });
    const revs = res.rows.map((r) =>
      'value' in r && r.value
        ? {
            deleted: !!(r.value as { deleted?: boolean }).deleted,
            gen: Number(String((r.value as { rev: string }).rev).split('-')[0]),
          }
        : null,
    );
    expect(revs.filter((r) => !r || !r.deleted || r.gen !== 2)).toEqual([]);
    const docs = await catalogDocs(env, [...seeded.lfns.map(fileId), 'dataset:' + seeded.dataset]);
    expect(seeded.lfns.filter((l) => docs.get(fileId(l))!.valid !== false)).toEqual([]);
    expect(docs.get('dataset:' + seeded.dataset)!.access_type).toBe('DELETED');
    // Takeovers count as claims of the same request: one request, two kills, no second request.
    expect(end.retries).toBe(0);
  }, 400_000);
});
