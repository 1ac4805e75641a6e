/**
 * Storage paths stay inside their storage element and their owner's namespace on real grid
 * storage: two XRootD storage elements on loopback, the worker on the gfal2 backend, real agents.
 * A plain user's hostile LFNs are refused by the server; a TFC rule that sends a site's files to
 * another storage element or adds CGI, a transfer an operator wrote outside the namespaces and a
 * transfer job whose PFNs climb out of the root or carry `?` are failed before any copy; and no
 * file appears in either storage element's data directory but the one legitimate copy.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { adler32Hex } from '../../support/adler32';
import { siteDoc, startAgent, waitFor, type AgentProcess } from '../../support/agents';
import { createTestEnv, transferFixture, type TestEnv } from '../../support/env';
import { expectAllRefused, hostileTransfers, listFiles, newFiles, putTransfer } from '../../support/hostile';
import { startStorageElements, stopStorageElements, type SE } from '../../../scripts/se/xrootd';
import { JOB_ID_PREFIX } from '../../../views/schema';

const SITES = ['T2_CH_CERN', 'T2_IT_Pisa'];

describe('storage paths on XRootD storage elements (gfal2 backend)', () => {
  let env: TestEnv;
  let base: string;
  let ses: SE[];
  let agents: AgentProcess[] = [];
  const tag = 'wf_' + randomBytes(3).toString('hex');
  const data = () => listFiles(base); // every SE's data/ and logs; compared by name below

  /** Files the SEs serve belong to the SEs' user, as if written through them. */
  function writeAsSe(se: SE, lfn: string, bytes: Buffer): string {
    const file = path.join(se.dataDir, lfn);
    const { uid, gid } = fs.statSync(se.dataDir);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    for (let d = path.dirname(file); d.startsWith(se.dataDir) && d !== se.dataDir; d = path.dirname(d))
      fs.chownSync(d, uid, gid);
    fs.writeFileSync(file, bytes);
    fs.chownSync(file, uid, gid);
    return adler32Hex(bytes);
  }
  const dataFilesOnly = (names: string[]) => names.filter((n) => /^se\d+\/data\//.test(n));

  beforeAll(async () => {
    env = await createTestEnv();
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-xrd-paths-'));
    ses = await startStorageElements({ count: 2, baseDir: base, ownerPid: process.pid });
    const docs: Record<string, unknown>[] = SITES.map((name, i) => siteDoc(name, ses[i].rootUrl));
    // Operators' mistakes: T2_BAD's user area is on the other storage element, T2_CGI adds CGI.
    docs.push({
      _id: 'site:T2_BAD',
      type: 'site',
      name: 'T2_BAD',
      endpoints: { root: ses[1].rootUrl + '//bad' },
      tfc: [
        { protocol: 'root', path_match: '/store/user/(.*)', result: `${ses[1].rootUrl}//store/user/$1` },
        { protocol: 'root', path_match: '/+(.*)', result: `${ses[1].rootUrl}//bad/$1` },
      ],
    });
    docs.push({
      _id: 'site:T2_CGI',
      type: 'site',
      name: 'T2_CGI',
      endpoints: { root: ses[1].rootUrl },
      tfc: [{ protocol: 'root', path_match: '/+(.*)', result: `${ses[1].rootUrl}//$1?oss.cgroup=public` }],
    });
    docs.push({ _id: 'settings', type: 'settings', lease_seconds: 30, cooloff: 1, max_cooloff: 2, max_retry: 2 });
    const res = await env
      .as('ops')
      .use(env.dbs.config)
      .bulk({ docs: docs as never[] });
    expect(res.filter((r) => r.error)).toEqual([]);
    agents = [
      startAgent(env, 'scheduler'),
      startAgent(env, 'worker', ['--backend', 'gfal2']),
      startAgent(env, 'retrier'),
    ];
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    if (base) {
      await stopStorageElements(base);
      fs.rmSync(base, { recursive: true, force: true });
    }
    await env?.cleanup();
  });

  it('refuses every hostile LFN of a plain user with a 403 naming the field, stores nothing, writes nothing', async () => {
    const owner = env.names.owner;
    const other = env.names.other;
    for (let i = 1; i <= 6; i++) writeAsSe(ses[0], `/store/temp/user/${owner}/${tag}/a${i}.root`, randomBytes(100));
    writeAsSe(ses[0], `/store/temp/user/${other}/${tag}/private.root`, randomBytes(100));
    writeAsSe(ses[1], `/store/user/${other}/${tag}/victim.root`, randomBytes(100));
    const before = data();
    const attacks = hostileTransfers(owner, other, 'xrootd.cfg', tag);
    await expectAllRefused(env, attacks, tag);
    await new Promise((r) => setTimeout(r, 2000));
    expect(dataFilesOnly(newFiles(before, data()))).toEqual([]);
  });

  it('fails before any copy a TFC rule leaving the root or adding CGI, and a transfer outside the namespaces', async () => {
    const owner = env.names.owner;
    const other = env.names.other;
    const mk = (name: string, over: Record<string, unknown>) => {
      const lfn = `/store/temp/user/${owner}/${tag}/${name}.root`;
      const sum = writeAsSe(ses[0], lfn, Buffer.from(name.repeat(50)));
      return transferFixture(owner, {
        workflow: tag,
        source_lfn: lfn,
        destination_lfn: `/store/user/${owner}/${tag}/${name}.root`,
        size: name.length * 50,
        checksums: { adler32: sum },
        created_at: new Date().toISOString(),
        ...over,
      });
    };
    writeAsSe(ses[0], `/store/temp/user/${other}/${tag}/theirs.root`, randomBytes(100));
    const toBad = mk('tobad', { destination: 'T2_BAD' });
    const toCgi = mk('tocgi', { destination: 'T2_CGI' });
    const before = data();
    for (const d of [toBad, toCgi]) expect(await putTransfer(env, 'owner', d)).toEqual({ status: 201, reason: '' });
    const byOps = transferFixture(owner, {
      workflow: tag,
      source_lfn: `/store/temp/user/${other}/${tag}/theirs.root`,
      destination_lfn: `/store/user/${owner}/${tag}/theirs.root`,
      created_at: new Date().toISOString(),
    });
    expect(await putTransfer(env, 'ops', byOps)).toEqual({ status: 201, reason: '' });
    const [a, b, c] = await waitFor(env, [toBad._id, toCgi._id, byOps._id] as string[], { ms: 60_000 });
    const esc = (s: string) => s.replace(/[.?*+/]/g, '\\$&');
    expect(
      [a, b, c].map((d) => ({ state: d.state, reason: d.failure_reason, cls: d.attempts?.map((x) => x.error_class) })),
    ).toEqual([
      {
        state: 'failed',
        cls: ['fatal'],
        reason: expect.stringMatching(
          new RegExp(
            `^refused: pfn: ${esc(ses[1].rootUrl)}//store/user/${owner}/.* is outside the storage root ${esc(ses[1].rootUrl)}//bad of T2_BAD`,
          ),
        ),
      },
      {
        state: 'failed',
        cls: ['fatal'],
        reason: expect.stringMatching(
          /^refused: pfn: .*tocgi\.root\?oss\.cgroup=public is outside the storage root .* of T2_CGI \(must not contain % \? #/,
        ),
      },
      {
        state: 'failed',
        cls: ['fatal'],
        reason: expect.stringMatching(
          new RegExp(`^refused: source_lfn: must be in your own area, under /store/temp/user/${owner}/`),
        ),
      },
    ]);
    expect(dataFilesOnly(newFiles(before, data()))).toEqual([]);
  });

  it('the worker refuses a transfer job whose root:// PFNs climb out of the root or carry CGI', async () => {
    const owner = env.names.owner;
    const before = data();
    const now = new Date().toISOString();
    const forged = [
      [
        `${ses[0].rootUrl}//store/temp/user/${owner}/../../../../../../se0/xrootd.cfg`,
        `${ses[1].rootUrl}//store/user/${owner}/${tag}/cfg.root`,
        /\(must not contain \.\. segments\)/,
      ],
      [
        `${ses[0].rootUrl}//store/temp/user/${owner}/${tag}/a1.root`,
        `${ses[1].rootUrl}//store/user/${owner}/${tag}/x.root?oss.asize=1`,
        /of T2_IT_Pisa \(must not contain % \? #/,
      ],
      [
        `${ses[0].rootUrl}//store/temp/user/${owner}/%2e%2e/%2e%2e/%2e%2e/${tag}/a1.root`,
        `${ses[1].rootUrl}//store/user/${owner}/${tag}/y.root`,
        /of T2_CH_CERN \(must not contain % \? #/,
      ],
    ] as const;
    const ids: string[] = [];
    for (const [src, dst] of forged) {
      const jobId = JOB_ID_PREFIX + randomBytes(20).toString('hex');
      const t = transferFixture(owner, { workflow: tag, state: 'acquired', transfer_job: jobId, created_at: now });
      const job = {
        _id: jobId,
        type: 'transfer_job',
        user: owner,
        source: 'T2_CH_CERN',
        destination: 'T2_IT_Pisa',
        protocol: 'root',
        mode: 'stream',
        state: 'queued',
        created_at: now,
        lease: null,
        claims: 0,
        files: [{ id: t._id, source_pfn: src, destination_pfn: dst }],
      };
      await env
        .as('ops')
        .use(env.dbs.transfers)
        .insert(t as never);
      await env
        .as('ops')
        .use(env.dbs.transfers)
        .insert(job as never);
      ids.push(t._id as string);
    }
    const ended = await waitFor(env, ids, { ms: 60_000 });
    expect(ended.map((d) => ({ state: d.state, cls: d.attempts?.map((x) => x.error_class) }))).toEqual(
      ids.map(() => ({ state: 'failed', cls: ['fatal'] })),
    );
    ended.forEach((d, i) =>
      expect(d.failure_reason).toMatch(
        new RegExp('^refused: pfn: .* is outside the storage root .*' + forged[i][2].source),
      ),
    );
    expect(dataFilesOnly(newFiles(before, data()))).toEqual([]);
  });

  it("still copies a clean transfer of the owner's own file, and only that file appears", async () => {
    const owner = env.names.owner;
    const lfn = `/store/temp/user/${owner}/${tag}/good.root`;
    const bytes = randomBytes(4096);
    const sum = writeAsSe(ses[0], lfn, bytes);
    const before = data();
    const good = transferFixture(owner, {
      workflow: tag,
      source_lfn: lfn,
      destination_lfn: `/store/user/${owner}/${tag}/good.root`,
      size: bytes.length,
      checksums: { adler32: sum },
      created_at: new Date().toISOString(),
    });
    expect(await putTransfer(env, 'owner', good)).toEqual({ status: 201, reason: '' });
    const [ended] = await waitFor(env, [good._id as string], { ms: 60_000 });
    expect(ended.state).toBe('done');
    expect(dataFilesOnly(newFiles(before, data()))).toEqual([`se1/data/store/user/${owner}/${tag}/good.root`]);
    // Nothing the earlier attacks aimed at exists anywhere in the storage elements.
    const all = [...data().keys()];
    expect(
      all.filter(
        (n) =>
          /[?#]|oss\./.test(n) ||
          (n.startsWith('se1/') && /stolen|planted|theirs|tobad|tocgi|cfg\.root|\/x\.root|\/y\.root/.test(n)),
      ),
    ).toEqual([]);
  });
});
