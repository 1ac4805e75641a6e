/**
 * Upload, replicate and delete on real grid storage: two XRootD storage elements on loopback,
 * the gfal2 backend in the CLI (upload) and in the agents (worker copies, requests agent
 * verification, deleter removals), the real agent processes and the deployed databases.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { siteDoc, startAgent, type AgentProcess } from '../../support/agents';
import { adler32Hex } from '../../support/adler32';
import { createTestEnv, type TestEnv } from '../../support/env';
import { startStorageElements, stopStorageElements, type SE } from '../../../scripts/se/xrootd';
import { catalogDocs, cli, fileChecksum, fileId, replicaId, requestOf } from './support';

const SITES = ['T2_CH_CERN', 'T2_IT_Pisa'];

describe('data handling on XRootD storage elements (gfal2 backend)', () => {
  let env: TestEnv;
  let base: string;
  let tmp: string;
  let ses: SE[];
  let agents: AgentProcess[] = [];

  beforeAll(async () => {
    env = await createTestEnv();
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-dh-xrd-'));
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-dh-up-'));
    ses = await startStorageElements({ count: 2, baseDir: base, ownerPid: process.pid });
    const docs: Record<string, unknown>[] = SITES.map((name, i) => siteDoc(name, ses[i].rootUrl));
    docs.push({ _id: 'settings', type: 'settings', lease_seconds: 30, cooloff: 2, max_cooloff: 4, max_retry: 3 });
    const res = await env
      .as('ops')
      .use(env.dbs.config)
      .bulk({ docs: docs as never[] });
    expect(res.filter((r) => r.error)).toEqual([]);
    const g = ['--backend', 'gfal2'];
    agents = [
      startAgent(env, 'scheduler'),
      startAgent(env, 'worker', g),
      startAgent(env, 'retrier'),
      startAgent(env, 'requests', g),
      startAgent(env, 'deleter', g),
    ];
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    if (process.env.COUCHSTAGE_TEST_DUMP)
      for (const a of agents) fs.writeFileSync(`/tmp/dh-gfal2-${a.name}.log`, a.output.join(''));
    if (base) {
      await stopStorageElements(base);
      fs.rmSync(base, { recursive: true, force: true });
    }
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    await env?.cleanup();
  });

  const onSe = (site: string, lfn: string) => path.join(ses[SITES.indexOf(site)].dataDir, lfn);

  it('uploads a directory to one SE, replicates the dataset to the other, deletes it from both', async () => {
    const owner = env.names.owner;
    const dir = path.join(tmp, 'job-outputs');
    const sums = new Map<string, string>();
    for (let i = 0; i < 25; i++) {
      const rel = (i % 2 ? 'odd/' : '') + `out_${i}.root`;
      const data = randomBytes(4096 + i * 13);
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), data);
      sums.set(rel, adler32Hex(data));
    }
    const tag = randomBytes(3).toString('hex');
    const dataset = `/Grid${tag}/${owner}-v1/USER`;
    const lfnDir = `/store/user/${owner}/Grid${tag}`;
    const lfns = [...sums.keys()].map((rel) => `${lfnDir}/${rel}`);
    const sumOf = (lfn: string) => sums.get(lfn.slice(lfnDir.length + 1));

    // upload: the CLI copies through gfal2 (file:// -> root://), the requests agent verifies and registers.
    const up = await cli(
      env,
      'owner',
      'upload',
      dir,
      '--site',
      SITES[0],
      '--dataset',
      dataset,
      '--lfn-dir',
      lfnDir,
      '--backend',
      'gfal2',
      '--json',
      '--wait',
      '--timeout',
      '180',
    );
    const upReq = requestOf(up);
    expect({ code: up.code, state: upReq.state, progress: upReq.progress, errors: upReq.errors }).toEqual({
      code: 0,
      state: 'done',
      progress: { total: 25, done: 25, failed: 0 },
      errors: [],
    });
    for (const lfn of lfns) expect(fileChecksum(onSe(SITES[0], lfn))).toBe(sumOf(lfn));
    let docs = await catalogDocs(env, [...lfns.map(fileId), ...lfns.map((l) => replicaId(l, SITES[0]))]);
    expect(docs.size).toBe(50);

    // replicate: one transfer per file, copied by the worker over XRootD, replicas recorded.
    const rep = requestOf(
      await cli(
        env,
        'owner',
        'replicate',
        '--dataset',
        dataset,
        '--to',
        SITES[1],
        '--json',
        '--wait',
        '--timeout',
        '240',
      ),
    );
    expect({ state: rep.state, progress: rep.progress }).toEqual({
      state: 'done',
      progress: { total: 25, done: 25, failed: 0, already: 0, unplaced: 0 },
    });
    for (const lfn of lfns) expect(fileChecksum(onSe(SITES[1], lfn))).toBe(sumOf(lfn));
    docs = await catalogDocs(
      env,
      lfns.map((l) => replicaId(l, SITES[1])),
    );
    expect(docs.size).toBe(25);

    // delete from the first SE: gone there, still at the second, files valid.
    const del1 = requestOf(
      await cli(
        env,
        'owner',
        'delete',
        '--dataset',
        dataset,
        '--site',
        SITES[0],
        '--json',
        '--wait',
        '--timeout',
        '180',
      ),
    );
    expect({ state: del1.state, progress: del1.progress }).toEqual({
      state: 'done',
      progress: { total: 25, done: 25, failed: 0 },
    });
    for (const lfn of lfns) {
      expect(fs.existsSync(onSe(SITES[0], lfn))).toBe(false);
      expect(fileChecksum(onSe(SITES[1], lfn))).toBe(sumOf(lfn));
    }
    docs = await catalogDocs(env, [
      ...lfns.map(fileId),
      ...lfns.map((l) => replicaId(l, SITES[0])),
      'dataset:' + dataset,
    ]);
    expect(lfns.filter((l) => docs.has(replicaId(l, SITES[0])))).toEqual([]);
    expect(lfns.every((l) => docs.get(fileId(l))!.valid === true)).toBe(true);
    expect(docs.get('dataset:' + dataset)!.access_type).toBe('VALID');

    // delete the last copies (by LFN): files invalid, dataset DELETED.
    const del2 = requestOf(
      await cli(env, 'owner', 'delete', ...lfns, '--site', SITES[1], '--json', '--wait', '--timeout', '180'),
    );
    expect({ state: del2.state, progress: del2.progress }).toEqual({
      state: 'done',
      progress: { total: 25, done: 25, failed: 0 },
    });
    for (const lfn of lfns) expect(fs.existsSync(onSe(SITES[1], lfn))).toBe(false);
    docs = await catalogDocs(env, [...lfns.map(fileId), 'dataset:' + dataset]);
    expect(lfns.filter((l) => docs.get(fileId(l))!.valid !== false)).toEqual([]);
    expect(docs.get('dataset:' + dataset)!.access_type).toBe('DELETED');
  }, 600_000);
});
