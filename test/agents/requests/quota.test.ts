/**
 * Quotas: `couchstage quota set` (operators only), `couchstage submit` refusing a batch that
 * would exceed the quota (nothing written), and the scheduler failing over-quota transfers that
 * a job PUT directly, with a `quota:` reason, while admitting those that fit.
 */
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  configure,
  makeStorage,
  readTransfers,
  startAgent,
  waitFor,
  type AgentProcess,
  type Storage,
} from '../../support/agents';
import { createTestEnv, transferFixture, type TestEnv } from '../../support/env';
import { cli, seedDataset } from './support';

describe('quotas', () => {
  let env: TestEnv;
  let storage: Storage;
  let tmp: string;
  const agents: AgentProcess[] = [];

  beforeAll(async () => {
    env = await createTestEnv();
    storage = makeStorage(['T2_CH_CERN', 'T2_IT_Pisa']);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-quota-'));
    await configure(env, storage);
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    storage?.cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
    await env?.cleanup();
  });

  const job = (user: string, i: number, size: number) => {
    const lfn = `/store/temp/user/${user}/q/${randomBytes(4).toString('hex')}_${i}.root`;
    return {
      workflow: 'q',
      jobid: String(i),
      source: 'T2_CH_CERN',
      destination: 'T2_IT_Pisa',
      source_lfn: lfn,
      destination_lfn: lfn.replace('/temp/user/', '/user/'),
      size,
      checksums: { adler32: '0badcafe' },
      publish: false,
    };
  };
  const sha224 = (s: string) => createHash('sha224').update(s).digest('hex');

  it('only operators set quotas; show reports usage from catalogue replicas and pending transfers', async () => {
    const owner = env.names.owner;
    const refused = await cli(env, 'owner', 'quota', 'set', owner, '--bytes', '1', '--files', '1');
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/only operators set quotas/);
    expect((await cli(env, 'ops', 'quota', 'set', owner, '--bytes', 'lots', '--files', '1')).err).toMatch(
      /--bytes must be a non-negative integer/,
    );
    // The catalogue holds 3 replicas of the owner's: they count.
    const seeded = await seedDataset(env, owner, 'T2_CH_CERN', storage.sites.T2_CH_CERN, 3);
    const bytes = seeded.lfns.reduce((a, l) => a + fs.statSync(path.join(storage.sites.T2_CH_CERN, l)).size, 0);
    const set = await cli(
      env,
      'ops',
      'quota',
      'set',
      owner,
      '--bytes',
      String(bytes + 10_000),
      '--files',
      '8',
      '--json',
    );
    expect(set.code).toBe(0);
    const show = await cli(env, 'owner', 'quota', 'show', '--json');
    expect(JSON.parse(show.out)).toEqual({
      user: owner,
      max_bytes: bytes + 10_000,
      max_files: 8,
      usage: {
        catalog: { bytes, files: 3 },
        pending: { bytes: 0, files: 0 },
        total: { bytes, files: 3 },
      },
    });
  });

  it('submit refuses a batch over the quota and writes nothing; a batch that fits goes in', async () => {
    const owner = env.names.owner;
    // 3 files in the catalogue, max 8: 6 more are too many.
    const six = Array.from({ length: 6 }, (_, i) => job(owner, i, 100));
    const file = path.join(tmp, 'six.json');
    fs.writeFileSync(file, JSON.stringify(six));
    const r = await cli(env, 'owner', 'submit', file);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^couchstage submit: quota: .* would use 9 files > max_files 8 .*\nnothing was submitted$/s);
    expect(
      await readTransfers(
        env,
        six.map((d) => sha224(d.source_lfn)),
      ),
    ).toEqual([]);
    const big = [job(owner, 9, 20_000)];
    fs.writeFileSync(file, JSON.stringify(big));
    const rb = await cli(env, 'owner', 'submit', file);
    expect(rb.err).toMatch(/quota: .* bytes > max_bytes/);
    expect(await readTransfers(env, [sha224(big[0].source_lfn)])).toEqual([]);
    const three = Array.from({ length: 3 }, (_, i) => job(owner, 10 + i, 100));
    fs.writeFileSync(file, JSON.stringify(three));
    const ok = await cli(env, 'owner', 'submit', file);
    expect({ code: ok.code, err: ok.err }).toEqual({ code: 0, err: '' });
    // Now 3 catalogue + 3 pending = 6 of 8: two more fit, a third does not.
    const show = JSON.parse((await cli(env, 'owner', 'quota', 'show', '--json')).out);
    expect(show.usage.pending).toEqual({ bytes: 300, files: 3 });
    // Another user without a quota is not limited.
    fs.writeFileSync(file, JSON.stringify(Array.from({ length: 12 }, (_, i) => job(env.names.other, i, 100))));
    expect((await cli(env, 'other', 'submit', file)).code).toBe(0);
  });

  it('the scheduler fails transfers PUT directly past the quota with a quota: reason, and admits the rest', async () => {
    const owner = env.names.owner;
    // No worker: admitted transfers stay acquired, so the pending usage is stable.
    agents.push(startAgent(env, 'scheduler'));
    const docs = Array.from({ length: 4 }, (_, i) =>
      transferFixture(owner, { ...job(owner, 20 + i, 100), created_at: new Date(Date.now() + i).toISOString() }),
    );
    const res = await env
      .as('owner')
      .use(env.dbs.transfers)
      .bulk({ docs: docs as never[] });
    expect(res.filter((x) => x.error)).toEqual([]);
    const ids = docs.map((d) => d._id as string);
    const ended = await waitFor(env, ids, {
      ms: 60_000,
      until: (ds) => ds.length === 4 && ds.every((d) => d.state !== 'new'),
    });
    const byState = (s: string) => ended.filter((d) => d.state === s);
    expect(byState('acquired')).toHaveLength(2);
    expect(byState('failed')).toHaveLength(2);
    for (const d of byState('failed')) {
      expect(d.failure_reason).toMatch(/^quota: .* would use 9 files > max_files 8/);
      expect(d.attempts).toEqual([expect.objectContaining({ error_class: 'fatal', error: d.failure_reason })]);
    }
    // Queue order: the older two were admitted.
    expect(
      byState('acquired')
        .map((d) => d._id)
        .sort(),
    ).toEqual(ids.slice(0, 2).sort());
    // The other user has no quota: all 12 of theirs were scheduled, none failed for quota.
    const theirs = await env.admin.use(env.dbs.transfers).view('monitor', 'by_user', {
      group_level: 3,
      startkey: [env.names.other],
      endkey: [env.names.other, {}],
    } as never);
    expect(theirs.rows.filter((r) => (r.key as unknown as string[])[2] === 'failed')).toEqual([]);
  });
});
