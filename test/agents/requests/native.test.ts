/**
 * Replicate, upload and delete end to end on the native file backend: three sites with file://
 * storage, the real agents (scheduler, worker, retrier, requests, deleter) as processes, requests
 * submitted with the CLI, files checked on disk and in the catalogue.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { randomBytes } from 'crypto';
import type { TransferDoc } from '../../../views/schema';
import { configure, makeStorage, startAgent, type AgentProcess, type Storage } from '../../support/agents';
import { adler32Hex } from '../../support/adler32';
import { createTestEnv, type TestEnv } from '../../support/env';
import { guidOf } from '../../../views/lib/catalog-ids';
import { catalogDocs, cli, fileChecksum, fileId, replicaId, requestOf, seedDataset, waitRequest } from './support';

const A = 'T2_CH_CERN';
const B = 'T2_IT_Pisa';
const C = 'T1_US_FNAL';

describe('data handling on the native backend', () => {
  let env: TestEnv;
  let storage: Storage;
  let agents: AgentProcess[] = [];
  let tmp: string;

  beforeAll(async () => {
    env = await createTestEnv();
    storage = makeStorage([A, B, C]);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-dh-'));
    await configure(env, storage, { max_retry: 2 }, [{ source: A, destination: B, max_active: 5 }]);
    const native = ['--backend', 'native'];
    agents = [
      startAgent(env, 'scheduler'),
      startAgent(env, 'worker', native),
      startAgent(env, 'retrier'),
      startAgent(env, 'requests', native),
      startAgent(env, 'deleter', native),
    ];
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    if (process.env.COUCHSTAGE_TEST_DUMP)
      for (const a of agents) fs.writeFileSync(`/tmp/dh-native-${a.name}.log`, a.output.join(''));
    storage?.cleanup();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    await env?.cleanup();
  });

  const at = (site: string, lfn: string) => path.join(storage.sites[site], lfn);

  it('replicates a dataset to two sites: one transfer per file and site, copies verified, replicas recorded', async () => {
    const owner = env.names.owner;
    const seeded = await seedDataset(env, owner, A, storage.sites[A], 30);
    const run = await cli(env, 'owner', 'replicate', '--dataset', seeded.dataset, '--to', `${B},${C}`, '--json');
    expect(run.err).toBe('');
    const submitted = requestOf(run);
    expect(submitted._id).toMatch(/^rq-[0-9a-f]{40}$/);
    const req = await waitRequest(env, submitted._id);
    expect({ state: req.state, progress: req.progress, errors: req.errors }).toEqual({
      state: 'done',
      progress: { total: 60, done: 60, failed: 0, already: 0, unplaced: 0 },
      errors: [],
    });
    for (const lfn of seeded.lfns)
      for (const site of [B, C]) expect(fileChecksum(at(site, lfn))).toBe(seeded.sums.get(lfn));
    const replicas = await catalogDocs(
      env,
      seeded.lfns.flatMap((l) => [replicaId(l, B), replicaId(l, C)]),
    );
    expect(replicas.size).toBe(60);
    for (const r of replicas.values()) expect(r).toMatchObject({ type: 'replica', owner, dataset: seeded.dataset });
    // The copies were ordinary transfers of the owner, one per file and site, named by the request.
    const rt = await env.admin
      .use(env.dbs.transfers)
      .list({ startkey: 'rt-', endkey: 'rt-\ufff0', include_docs: true } as never);
    const mine = rt.rows
      .map((r) => r.doc as unknown as TransferDoc)
      .filter((d) => d.workflow === 'request:' + submitted._id);
    expect(mine).toHaveLength(60);
    expect(
      mine.every((d) => d.state === 'done' && d.user === owner && d.source === A && d.source_lfn === d.destination_lfn),
    ).toBe(true);
    expect(new Set(mine.map((d) => d._id)).size).toBe(60);
    const again = await cli(env, 'owner', 'replicate', '--dataset', seeded.dataset, '--to', B, '--json', '--wait');
    const second = requestOf(again);
    expect({ state: second.state, progress: second.progress }).toEqual({
      state: 'done',
      progress: { total: 30, done: 30, failed: 0, already: 30, unplaced: 0 },
    });
  });

  it('reports a file whose source copy is gone: partially_failed, with the error naming the file', async () => {
    const seeded = await seedDataset(env, env.names.owner, A, storage.sites[A], 4);
    const [lost, ...kept] = seeded.lfns;
    fs.rmSync(at(A, lost));
    const run = await cli(env, 'owner', 'replicate', ...seeded.lfns, '--to', B, '--json', '--wait');
    const req = requestOf(run);
    expect(run.code).toBe(1);
    expect(req.state).toBe('partially_failed');
    expect(req.progress).toMatchObject({ total: 4, done: 3, failed: 1 });
    expect(req.errors).toEqual([
      expect.objectContaining({
        lfn: lost,
        site: B,
        error: expect.stringMatching(/source|no such file|ENOENT|not found/i),
      }),
    ]);
    for (const lfn of kept) expect(fileChecksum(at(B, lfn))).toBe(seeded.sums.get(lfn));
    const replicas = await catalogDocs(
      env,
      seeded.lfns.map((l) => replicaId(l, B)),
    );
    expect([...replicas.keys()].sort()).toEqual(kept.map((l) => replicaId(l, B)).sort());
  });

  it('uploads a local directory as a dataset: copied, verified at the site, registered in one closed block', async () => {
    const dir = path.join(tmp, 'up1');
    const sums = new Map<string, string>();
    for (const rel of ['a.root', 'b.root', 'sub/c.root', 'sub/deeper/d.root']) {
      const data = randomBytes(1000 + rel.length);
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), data);
      sums.set(rel, adler32Hex(data));
    }
    const owner = env.names.owner;
    const dataset = `/Upload${randomBytes(2).toString('hex')}/${owner}-v1/USER`;
    const lfnDir = `/store/user/${owner}/uploads/${randomBytes(3).toString('hex')}`;
    const run = await cli(
      env,
      'owner',
      'upload',
      dir,
      '--site',
      C,
      '--dataset',
      dataset,
      '--lfn-dir',
      lfnDir,
      '--backend',
      'native',
      '--json',
      '--wait',
    );
    const req = requestOf(run);
    expect({ code: run.code, state: req.state, progress: req.progress }).toEqual({
      code: 0,
      state: 'done',
      progress: { total: 4, done: 4, failed: 0 },
    });
    const lfns = [...sums.keys()].map((rel) => `${lfnDir}/${rel}`);
    for (const [rel, sum] of sums) expect(fileChecksum(at(C, `${lfnDir}/${rel}`))).toBe(sum);
    const docs = await catalogDocs(env, [
      'dataset:' + dataset,
      ...lfns.map(fileId),
      ...lfns.map((l) => replicaId(l, C)),
    ]);
    expect(docs.get('dataset:' + dataset)).toMatchObject({ access_type: 'VALID', owner, data_tier: 'USER' });
    const files = lfns.map((l) => docs.get(fileId(l))!);
    expect(files.every((f) => f && f.valid === true && f.dataset === dataset)).toBe(true);
    // The catalogue's one GUID rule: a later publication of the same LFN finds the same entry.
    expect(files.map((f) => f.guid)).toEqual(lfns.map(guidOf));
    expect(new Set(files.map((f) => f.block)).size).toBe(1);
    const block = (await catalogDocs(env, ['block:' + files[0].block])).get('block:' + files[0].block)!;
    expect(block).toMatchObject({
      open: false,
      file_count: 4,
      origin_site: C,
      total_size: files.reduce((a, f) => a + (f.size as number), 0),
    });
    expect(lfns.every((l) => docs.get(replicaId(l, C))?.owner === owner)).toBe(true);
  });

  it('refuses an upload whose file changed at the site before verification (adler32 mismatch at the site)', async () => {
    // The agent verifies what is at the site, not what the CLI says it copied: a request naming
    // a wrong checksum for a file present at the site is registered without that file.
    const owner = env.names.owner;
    const lfn = `/store/user/${owner}/forged/${randomBytes(3).toString('hex')}.root`;
    const data = randomBytes(300);
    fs.mkdirSync(path.dirname(at(A, lfn)), { recursive: true });
    fs.writeFileSync(at(A, lfn), data);
    const good = `/store/user/${owner}/forged/${randomBytes(3).toString('hex')}.root`;
    const gdata = randomBytes(200);
    fs.writeFileSync(at(A, good), gdata);
    const id = 'rq-forged-' + randomBytes(4).toString('hex');
    await env
      .as('owner')
      .use(env.dbs.transfers)
      .insert({
        _id: id,
        type: 'request',
        kind: 'upload',
        user: owner,
        sites: [A],
        dataset: `/Forged/${owner}-v1/USER`,
        state: 'new',
        created_at: new Date().toISOString(),
        files: [
          { lfn, size: 300, adler32: '00000001' },
          { lfn: good, size: 200, adler32: adler32Hex(gdata) },
        ],
      } as never);
    const req = await waitRequest(env, id);
    expect(req.state).toBe('partially_failed');
    expect(req.errors).toEqual([
      expect.objectContaining({
        lfn,
        error: expect.stringMatching(/^adler32 at the site is [0-9a-f]{8}, expected 00000001$/),
      }),
    ]);
    const docs = await catalogDocs(env, [fileId(lfn), fileId(good)]);
    expect([...docs.keys()]).toEqual([fileId(good)]);
  });

  it('deletes a dataset from one site (files stay valid), then from the others (files invalid, dataset DELETED)', async () => {
    const seeded = await seedDataset(env, env.names.owner, A, storage.sites[A], 12);
    const rep = requestOf(
      await cli(env, 'owner', 'replicate', '--dataset', seeded.dataset, '--to', B, '--json', '--wait'),
    );
    expect(rep.state).toBe('done');
    const first = requestOf(
      await cli(env, 'owner', 'delete', '--dataset', seeded.dataset, '--site', B, '--json', '--wait'),
    );
    expect({ state: first.state, progress: first.progress }).toEqual({
      state: 'done',
      progress: { total: 12, done: 12, failed: 0 },
    });
    for (const lfn of seeded.lfns) {
      expect(fs.existsSync(at(B, lfn))).toBe(false);
      expect(fileChecksum(at(A, lfn))).toBe(seeded.sums.get(lfn));
    }
    let docs = await catalogDocs(env, [
      ...seeded.lfns.flatMap((l) => [fileId(l), replicaId(l, A), replicaId(l, B)]),
      'dataset:' + seeded.dataset,
    ]);
    expect(seeded.lfns.filter((l) => docs.has(replicaId(l, B)))).toEqual([]);
    expect(seeded.lfns.every((l) => docs.has(replicaId(l, A)) && docs.get(fileId(l))!.valid === true)).toBe(true);
    expect(docs.get('dataset:' + seeded.dataset)!.access_type).toBe('VALID');
    // One file is already missing on disk: deleting a missing copy is success.
    fs.rmSync(at(A, seeded.lfns[0]));
    const second = requestOf(
      await cli(env, 'owner', 'delete', '--dataset', seeded.dataset, '--site', `${A},${C}`, '--json', '--wait'),
    );
    expect({ state: second.state, progress: second.progress }).toEqual({
      state: 'done',
      progress: { total: 12, done: 12, failed: 0 },
    });
    for (const lfn of seeded.lfns) expect(fs.existsSync(at(A, lfn))).toBe(false);
    docs = await catalogDocs(env, [
      ...seeded.lfns.flatMap((l) => [fileId(l), replicaId(l, A)]),
      'dataset:' + seeded.dataset,
    ]);
    expect(seeded.lfns.filter((l) => docs.has(replicaId(l, A)))).toEqual([]);
    expect(seeded.lfns.map((l) => docs.get(fileId(l))!.valid)).toEqual(seeded.lfns.map(() => false));
    expect(docs.get('dataset:' + seeded.dataset)!.access_type).toBe('DELETED');
  });

  it('lets a user delete only their own copies and upload only into their own datasets', async () => {
    const seeded = await seedDataset(env, env.names.owner, A, storage.sites[A], 3);
    // Another user's dataset: validation refuses the delete request itself, naming dataset.
    const del = await cli(env, 'other', 'delete', '--dataset', seeded.dataset, '--site', A, '--json', '--wait');
    expect({
      code: del.code,
      refused: /request refused: 403 forbidden: dataset: you may only publish into or act on your own datasets/.test(
        del.err + del.out,
      ),
    }).toEqual({ code: 1, refused: true });
    for (const lfn of seeded.lfns) expect(fileChecksum(at(A, lfn))).toBe(seeded.sums.get(lfn));
    expect(
      (
        await catalogDocs(
          env,
          seeded.lfns.map((l) => replicaId(l, A)),
        )
      ).size,
    ).toBe(3);
    const dir = path.join(tmp, 'intruder');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'x.root'), randomBytes(100));
    // The dataset's name says whose it is: validation refuses the request itself, naming dataset.
    const up = await cli(
      env,
      'other',
      'upload',
      dir,
      '--site',
      A,
      '--dataset',
      seeded.dataset,
      '--backend',
      'native',
      '--json',
      '--wait',
    );
    expect({
      code: up.code,
      refused: /request refused: 403 forbidden: dataset: you may only publish into or act on your own datasets/.test(
        up.err + up.out,
      ),
    }).toEqual({ code: 1, refused: true });
    const block = await catalogDocs(env, [
      fileId(`/store/user/${env.names.other}/${seeded.dataset.split('/')[1]}/${seeded.dataset.split('/')[2]}/x.root`),
    ]);
    expect(block.size).toBe(0);
  });

  it('refuses bad requests on the command line and writes nothing', async () => {
    const seeded = await seedDataset(env, env.names.owner, A, storage.sites[A], 1);
    const before = await env.admin.use(env.dbs.transfers).list({ startkey: 'rq-', endkey: 'rq-\ufff0' } as never);
    const cases: [string[], RegExp][] = [
      [['replicate', '--dataset', seeded.dataset, '--to', 'T9_NO_WHERE'], /site T9_NO_WHERE is not configured/],
      [
        ['replicate', '--dataset', '/No/such-v1/USER', '--to', B],
        /dataset: \/No\/such-v1\/USER is not in the catalogue/,
      ],
      [
        ['replicate', '--dataset', seeded.dataset, seeded.lfns[0], '--to', B],
        /^couchstage replicate: dataset: give exactly one of dataset or lfns/,
      ],
      [['replicate', '--dataset', seeded.dataset], /sites: must be a non-empty array/],
      [['replicate', '--dataset', seeded.dataset, '--to', B, '--from', B], /source: T2_IT_Pisa is also a destination/],
      [
        ['delete', '/store/user/nobody/x.root', '--site', B],
        /lfns: not in the catalogue: \/store\/user\/nobody\/x.root/,
      ],
      [['delete', 'relative/x.root', '--site', B], /lfns\[0\]: must be an absolute path/],
      [['upload', tmp, '--site', B], /dataset: an upload registers its files as a dataset/],
      [['upload', path.join(tmp, 'nope'), '--site', B, '--dataset', '/A/b-v1/USER'], /cannot read/],
    ];
    for (const [argv, re] of cases) {
      const r = await cli(env, 'owner', ...argv);
      expect({ argv, code: r.code, matches: re.test(r.err) ? true : r.err }).toEqual({ argv, code: 2, matches: true });
    }
    const after = await env.admin.use(env.dbs.transfers).list({ startkey: 'rq-', endkey: 'rq-\ufff0' } as never);
    expect(after.rows.length).toBe(before.rows.length);
    expect(
      (
        (await env
          .as('owner')
          .use(env.dbs.transfers)
          .insert({
            _id: 'rq-x',
            type: 'request',
            kind: 'delete',
            user: env.names.other,
            sites: [B],
            dataset: seeded.dataset,
            state: 'new',
            created_at: new Date().toISOString(),
          } as never)
          .catch((e) => e)) as { reason: string }
      ).reason,
    ).toMatch(/^user: /);
  });
});
