/**
 * Storage paths stay inside their storage element and their owner's namespace (native file://
 * backend, real agents, real files): a plain user's hostile LFNs (encoded dot-dot, `?`, `#`,
 * another user's area, a path outside the root) are refused by the server; what only agents see
 * (a site's TFC rule leaving its root, a transfer an operator wrote outside the namespaces, a
 * transfer job naming a PFN outside the root) is failed permanently before any copy; and no file
 * appears anywhere under the test's storage directory except the one legitimate copy.
 */
import * as fs from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { adler32Hex } from '../../support/adler32';
import {
  configure,
  makeStorage,
  startAgent,
  waitFor,
  writeSourceFile,
  type AgentProcess,
  type Storage,
} from '../../support/agents';
import { createTestEnv, transferFixture, type TestEnv } from '../../support/env';
import { expectAllRefused, hostileTransfers, listFiles, newFiles, putTransfer } from '../../support/hostile';
import { JOB_ID_PREFIX } from '../../../views/schema';

const SECRET = 'server.json';

describe('storage paths on the native backend', () => {
  let env: TestEnv;
  let storage: Storage;
  let agents: AgentProcess[] = [];
  let outside: string;
  const tag = 'wf_' + randomBytes(3).toString('hex');
  const cern = () => storage.sites.T2_CH_CERN;
  const pisa = () => storage.sites.T2_IT_Pisa;

  beforeAll(async () => {
    env = await createTestEnv();
    storage = makeStorage(['T2_CH_CERN', 'T2_IT_Pisa']);
    outside = path.join(storage.dir, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, SECRET), '{"admin":"hash"}', { mode: 0o600 });
    await configure(env, storage, { max_retry: 2 });
    // An operator's mistake: T2_BAD maps user areas outside its own root.
    const bad = path.join(storage.dir, 'T2_BAD');
    fs.mkdirSync(bad);
    await env
      .as('ops')
      .use(env.dbs.config)
      .insert({
        _id: 'site:T2_BAD',
        type: 'site',
        name: 'T2_BAD',
        endpoints: { file: `file://${bad}` },
        tfc: [
          { protocol: 'file', path_match: '/store/user/(.*)', result: `file://${outside}/$1` },
          { protocol: 'file', path_match: '/+(.*)', result: `file://${bad}/$1` },
        ],
      } as never);
    agents = [
      startAgent(env, 'scheduler'),
      startAgent(env, 'worker', ['--backend', 'native']),
      startAgent(env, 'retrier'),
      startAgent(env, 'publisher'),
    ];
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await env?.cleanup();
    storage?.cleanup();
  });

  it('refuses every hostile LFN of a plain user with a 403 naming the field, stores nothing, writes nothing', async () => {
    const owner = env.names.owner;
    const other = env.names.other;
    // The files the attacks aim at: the owner's own sources, another user's source and file.
    for (let i = 1; i <= 6; i++)
      writeSourceFile(storage, 'T2_CH_CERN', `/store/temp/user/${owner}/${tag}/a${i}.root`, 100);
    writeSourceFile(storage, 'T2_CH_CERN', `/store/temp/user/${other}/${tag}/private.root`, 100);
    writeSourceFile(storage, 'T2_IT_Pisa', `/store/user/${other}/${tag}/victim.root`, 100);
    const before = listFiles(storage.dir);
    const attacks = hostileTransfers(owner, other, SECRET, tag);
    await expectAllRefused(env, attacks, tag);
    await new Promise((r) => setTimeout(r, 2000)); // what an accepted transfer would have needed to be copied
    expect(newFiles(before, listFiles(storage.dir))).toEqual([]);
  });

  it('fails at once, before any copy, what only the agents can check: a TFC rule leaving its root, a transfer outside the namespaces', async () => {
    const owner = env.names.owner;
    const other = env.names.other;
    const src = writeSourceFile(storage, 'T2_CH_CERN', `/store/temp/user/${owner}/${tag}/tobad.root`, 300);
    writeSourceFile(storage, 'T2_CH_CERN', `/store/temp/user/${other}/${tag}/theirs.root`, 100);
    const before = listFiles(storage.dir);
    const toBad = transferFixture(owner, {
      workflow: tag,
      destination: 'T2_BAD',
      source_lfn: `/store/temp/user/${owner}/${tag}/tobad.root`,
      destination_lfn: `/store/user/${owner}/${tag}/tobad.root`,
      size: src.size,
      checksums: { adler32: src.adler32 },
      created_at: new Date().toISOString(),
    });
    expect(await putTransfer(env, 'owner', toBad)).toEqual({ status: 201, reason: '' });
    // Operators may write any well-formed transfer; the scheduler still holds it to the namespaces.
    const byOps = transferFixture(owner, {
      workflow: tag,
      source_lfn: `/store/temp/user/${other}/${tag}/theirs.root`,
      destination_lfn: `/store/user/${owner}/${tag}/theirs.root`,
      created_at: new Date().toISOString(),
    });
    expect(await putTransfer(env, 'ops', byOps)).toEqual({ status: 201, reason: '' });
    const [a, b] = await waitFor(env, [toBad._id as string, byOps._id as string]);
    expect({ state: a.state, reason: a.failure_reason, cls: a.attempts?.map((x) => x.error_class) }).toEqual({
      state: 'failed',
      cls: ['fatal'],
      reason: expect.stringMatching(
        new RegExp(
          `^refused: pfn: file://${outside}/${owner}/${tag}/tobad\\.root is outside the storage root file://${storage.dir}/T2_BAD of T2_BAD`,
        ),
      ),
    });
    expect({ state: b.state, reason: b.failure_reason }).toEqual({
      state: 'failed',
      reason: expect.stringMatching(
        new RegExp(`^refused: source_lfn: must be in your own area, under /store/temp/user/${owner}/`),
      ),
    });
    expect(newFiles(before, listFiles(storage.dir))).toEqual([]);
  });

  it('the worker refuses a transfer job whose PFNs leave the storage root, though an operator wrote it', async () => {
    const owner = env.names.owner;
    const before = listFiles(storage.dir);
    const jobId = JOB_ID_PREFIX + randomBytes(20).toString('hex');
    const t = transferFixture(owner, {
      workflow: tag,
      state: 'acquired',
      transfer_job: jobId,
      created_at: new Date().toISOString(),
    });
    const now = new Date().toISOString();
    const job = {
      _id: jobId,
      type: 'transfer_job',
      user: owner,
      source: 'T2_CH_CERN',
      destination: 'T2_IT_Pisa',
      protocol: 'file',
      mode: 'stream',
      state: 'queued',
      created_at: now,
      lease: null,
      claims: 0,
      files: [
        {
          id: t._id,
          source_pfn: `file://${cern()}/store/temp/user/${owner}/../../../../../outside/${SECRET}`,
          destination_pfn: `file://${pisa()}/store/user/${owner}/${tag}/forged.json`,
        },
      ],
    };
    const ops = env.as('ops').use(env.dbs.transfers);
    await ops.insert(t as never);
    await ops.insert(job as never);
    const [ended] = await waitFor(env, [t._id as string]);
    expect({
      state: ended.state,
      reason: ended.failure_reason,
      cls: ended.attempts?.map((x) => x.error_class),
    }).toEqual({
      state: 'failed',
      cls: ['fatal'],
      reason: expect.stringMatching(
        /^refused: pfn: .* is outside the storage root .* of T2_CH_CERN \(must not contain \.\. segments\)/,
      ),
    });
    expect(newFiles(before, listFiles(storage.dir))).toEqual([]);
  });

  it("follows no symbolic link out of the root: a link in the user's own area to the secret, or to a directory outside", async () => {
    const owner = env.names.owner;
    const linkSrc = `/store/temp/user/${owner}/${tag}/link.root`;
    fs.mkdirSync(path.dirname(path.join(cern(), linkSrc)), { recursive: true });
    fs.symlinkSync(path.join(outside, SECRET), path.join(cern(), linkSrc));
    const f = writeSourceFile(storage, 'T2_CH_CERN', `/store/temp/user/${owner}/${tag}/plain.root`, 200);
    fs.mkdirSync(path.join(pisa(), 'store/user', owner, tag), { recursive: true });
    fs.symlinkSync(outside, path.join(pisa(), 'store/user', owner, tag, 'escape'));
    const before = listFiles(storage.dir);
    const secretSum = adler32Hex(fs.readFileSync(path.join(outside, SECRET)));
    const viaLink = transferFixture(owner, {
      workflow: tag,
      source_lfn: linkSrc,
      destination_lfn: `/store/user/${owner}/${tag}/link.root`,
      size: 16,
      checksums: { adler32: secretSum },
      created_at: new Date().toISOString(),
    });
    const intoLink = transferFixture(owner, {
      workflow: tag,
      source_lfn: `/store/temp/user/${owner}/${tag}/plain.root`,
      destination_lfn: `/store/user/${owner}/${tag}/escape/planted.root`,
      size: f.size,
      checksums: { adler32: f.adler32 },
      created_at: new Date().toISOString(),
    });
    for (const d of [viaLink, intoLink])
      expect(await putTransfer(env, 'owner', d)).toEqual({ status: 201, reason: '' });
    const ended = await waitFor(env, [viaLink._id, intoLink._id] as string[]);
    expect(
      ended.map((d) => ({ state: d.state, cls: d.attempts?.map((x) => x.error_class), reason: d.failure_reason })),
    ).toEqual([
      {
        state: 'failed',
        cls: ['fatal'],
        reason: expect.stringMatching(
          /^EPERM: permission denied: source .*link\.root resolves to .*outside\/server\.json, outside the storage root/,
        ),
      },
      {
        state: 'failed',
        cls: ['fatal'],
        reason: expect.stringMatching(
          /^EPERM: permission denied: destination .*escape resolves to .*outside, outside the storage root/,
        ),
      },
    ]);
    expect(newFiles(before, listFiles(storage.dir))).toEqual([]);
  });

  it("publishes only into the owner's datasets: a done transfer an operator wrote into another user's dataset is refused", async () => {
    const owner = env.names.owner;
    const theirs = `/Prim/${env.names.other}-${tag}/USER`;
    const mine = `/Prim/${owner}-${tag}/USER`;
    const at = new Date().toISOString();
    const done = (dataset: string) =>
      transferFixture(owner, {
        workflow: tag,
        state: 'done',
        publish: true,
        dataset,
        publication_state: 'not_published',
        started_at: at,
        finished_at: at,
        created_at: at,
      });
    const bad = done(theirs);
    const good = done(mine);
    for (const d of [bad, good]) expect(await putTransfer(env, 'ops', d)).toEqual({ status: 201, reason: '' });
    const ended = await waitFor(env, [bad._id, good._id] as string[], {
      ms: 60_000,
      until: (ds) =>
        ds.length === 2 &&
        ds.every((d) => d.publication_state === 'published' || d.publication_state === 'publication_failed'),
    });
    expect(ended.map((d) => ({ state: d.publication_state, reason: d.failure_reason ?? null }))).toEqual([
      {
        state: 'publication_failed',
        reason: expect.stringMatching(
          new RegExp(
            `^refused: dataset: you may only publish into or act on your own datasets, whose processed name starts with "${owner}-"`,
          ),
        ),
      },
      { state: 'published', reason: null },
    ]);
    const catalog = env.admin.use(env.dbs.catalog);
    expect(await catalog.get('dataset:' + theirs).catch((e) => (e as { statusCode: number }).statusCode)).toBe(404);
    expect((await catalog.get('dataset:' + mine)) as unknown as { owner: string }).toMatchObject({ owner });
  });

  it("reports the source's actual checksum only to its owner: another user's file cannot be probed", async () => {
    const owner = env.names.owner;
    const lfn = `/store/temp/user/${owner}/${tag}/mine.root`;
    const f = writeSourceFile(storage, 'T2_CH_CERN', lfn, 777);
    const mine = transferFixture(owner, {
      workflow: tag,
      source_lfn: lfn,
      destination_lfn: `/store/user/${owner}/${tag}/mine.root`,
      size: f.size,
      checksums: { adler32: '00000001' },
      created_at: new Date().toISOString(),
    });
    expect(await putTransfer(env, 'owner', mine)).toEqual({ status: 201, reason: '' });
    const [ended] = await waitFor(env, [mine._id as string]);
    // The reason names the actual adler32 of the source: harmless, the owner can read their file.
    expect({ state: ended.state, reason: ended.failure_reason }).toEqual({
      state: 'failed',
      reason: `checksum mismatch: expected 00000001, source has ${f.adler32}`,
    });
    // The same probe of another user's file never reaches storage: refused when written.
    const theirs = `/store/temp/user/${env.names.other}/${tag}/probe.root`;
    const data = writeSourceFile(storage, 'T2_CH_CERN', theirs, 555);
    const probe = transferFixture(owner, {
      workflow: tag,
      source_lfn: theirs,
      destination_lfn: `/store/user/${owner}/${tag}/probe.root`,
      checksums: { adler32: '00000001' },
      created_at: new Date().toISOString(),
    });
    const answer = await putTransfer(env, 'owner', probe);
    expect({
      status: answer.status,
      field: answer.reason.split(':')[0],
      leaks: answer.reason.includes(data.adler32),
    }).toEqual({ status: 403, field: 'source_lfn', leaks: false });
  });

  it("still copies a clean transfer of the owner's own file, verified", async () => {
    const owner = env.names.owner;
    const lfn = `/store/temp/user/${owner}/${tag}/good.root`;
    const f = writeSourceFile(storage, 'T2_CH_CERN', lfn, 4096);
    const before = listFiles(storage.dir);
    const good = transferFixture(owner, {
      workflow: tag,
      source_lfn: lfn,
      destination_lfn: `/store/user/${owner}/${tag}/good.root`,
      size: f.size,
      checksums: { adler32: f.adler32 },
      created_at: new Date().toISOString(),
    });
    expect(await putTransfer(env, 'owner', good)).toEqual({ status: 201, reason: '' });
    const [ended] = await waitFor(env, [good._id as string]);
    expect(ended.state).toBe('done');
    expect(newFiles(before, listFiles(storage.dir))).toEqual([`T2_IT_Pisa/store/user/${owner}/${tag}/good.root`]);
    expect(adler32Hex(fs.readFileSync(path.join(pisa(), 'store/user', owner, tag, 'good.root')))).toBe(f.adler32);
    expect(listFiles(outside)).toEqual(new Map([[SECRET, { size: 16, mode: 0o600 }]]));
  });
});
