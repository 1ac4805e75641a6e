/**
 * The transfer lifecycle end to end on real processes, a real server and real files (native
 * file:// backend): scheduler, worker and retrier take every document to a terminal state;
 * checksums are verified; failures are classified; kill, resubmit and expiry work; link limits
 * and fair share hold.
 */
import * as fs from 'fs';
import { adler32Hex } from '../../support/adler32';
import {
  configure,
  destinationPath,
  makeStorage,
  startAgent,
  submitFiles,
  waitFor,
  type AgentProcess,
  type Storage,
} from '../../support/agents';
import { createTestEnv, type TestEnv } from '../../support/env';
import { main as cli } from '../../../scripts/cli/main';

describe('transfer lifecycle (native backend)', () => {
  let env: TestEnv;
  let storage: Storage;
  let agents: AgentProcess[] = [];

  beforeAll(async () => {
    env = await createTestEnv();
    storage = makeStorage(['T2_CH_CERN', 'T2_IT_Pisa', 'T1_US_FNAL']);
    await configure(env, storage, { max_files_per_transfer: 10, max_retry: 3 }, [
      { source: 'T2_CH_CERN', destination: 'T1_US_FNAL', max_active: 0 }, // a link held shut: files wait
    ]);
    agents = [
      startAgent(env, 'scheduler'),
      startAgent(env, 'worker', ['--backend', 'native']),
      startAgent(env, 'retrier'),
    ];
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    if (process.env.COUCHSTAGE_TEST_DUMP)
      for (const a of agents) fs.writeFileSync(`/tmp/agent-${a.name}.log`, a.output.join(''));
    await env?.cleanup();
    storage?.cleanup();
  });

  it('moves files of two users to done with verified checksums', async () => {
    const a = await submitFiles(env, storage, 40, { user: 'owner' });
    const b = await submitFiles(env, storage, 15, { user: 'other', source: 'T2_IT_Pisa', destination: 'T2_CH_CERN' });
    const docs = await waitFor(
      env,
      [...a, ...b].map((d) => d._id),
    );
    expect(docs.map((d) => d.state)).toEqual(docs.map(() => 'done'));
    for (const d of docs) {
      const data = fs.readFileSync(destinationPath(storage, d.destination, d.destination_lfn));
      expect(adler32Hex(data)).toBe(d.checksums.adler32);
      expect(d.attempts).toHaveLength(1);
      expect(d.attempts![0].error).toBeNull();
      // A copy shorter than mark_submitted_after (2 s) is never marked submitted: new -> acquired -> done.
      expect(d._rev).toMatch(/^3-/);
      expect(Date.parse(d.started_at!)).toBeLessThanOrEqual(Date.parse(d.finished_at!));
    }
  });

  it('marks files submitted before copying when mark_submitted_after is 0', async () => {
    const config = env.as('ops').use(env.dbs.config);
    const s = await config.get('settings');
    await config.insert({ ...s, mark_submitted_after: 0 } as never);
    await new Promise((r) => setTimeout(r, 1500)); // agents follow the settings on the config feed
    try {
      const docs = await waitFor(
        env,
        (await submitFiles(env, storage, 3)).map((d) => d._id),
      );
      const db = env.admin.use(env.dbs.transfers);
      for (const d of docs) {
        expect(d.state).toBe('done');
        expect(d._rev).toMatch(/^4-/);
        const history = (await db.get(d._id, { revs_info: true })) as unknown as { _revs_info: { rev: string }[] };
        const states = [];
        for (const r of history._revs_info.slice().reverse())
          states.push(((await db.get(d._id, { rev: r.rev })) as unknown as { state: string }).state);
        expect(states).toEqual(['new', 'acquired', 'submitted', 'done']);
      }
    } finally {
      const now = await config.get('settings');
      await config.insert({ ...now, mark_submitted_after: 2 } as never);
    }
  });

  it('retries a corrupted source, then fails it with a checksum reason', async () => {
    const [d] = await submitFiles(env, storage, 1, { over: () => ({ checksums: { adler32: '00000001' } }) });
    const [done] = await waitFor(env, [d._id]);
    expect(done.state).toBe('failed');
    expect(done.failure_reason).toMatch(/checksum/i);
    expect(done.attempts).toHaveLength(3);
  });

  it('fails a missing source at once, and a resubmission brings the same document back to done', async () => {
    const [d] = await submitFiles(env, storage, 1);
    const src = `${storage.sites[d.source]}${d.source_lfn}`;
    fs.renameSync(src, src + '.away');
    const [failed] = await waitFor(env, [d._id]);
    expect(failed.state).toBe('failed');
    expect(failed.attempts).toHaveLength(1);
    expect(failed.attempts![0].error_class).toBe('fatal');
    // The file is back; the user asks for a retry with a plain HTTP write on the same document.
    fs.renameSync(src + '.away', src);
    await env
      .as('owner')
      .use(env.dbs.transfers)
      .insert({ ...failed, retry_requested: true } as never);
    const [again] = await waitFor(env, [d._id], { until: (ds) => ds[0]?.state === 'done' });
    expect(again._id).toBe(d._id);
    expect(again.attempts!.map((a) => a.error_class ?? null)).toEqual(['fatal', null]);
    expect(again.retry_requested).toBeUndefined();
  });

  it('kills waiting files through the CLI and through a plain HTTP write; nothing is copied', async () => {
    const docs = await submitFiles(env, storage, 4, { source: 'T2_CH_CERN', destination: 'T1_US_FNAL' });
    await new Promise((r) => setTimeout(r, 500));
    const owner = env.as('owner').use(env.dbs.transfers);
    const first = await owner.get(docs[0]._id);
    await owner.insert({ ...first, kill_requested: true } as never);
    const saved = { url: process.env.COUCHDB_URL, prefix: process.env.COUCHSTAGE_DB_PREFIX };
    process.env.COUCHDB_URL = env.urlAs('owner');
    process.env.COUCHSTAGE_DB_PREFIX = env.prefix;
    const out: string[] = [];
    try {
      expect(
        await cli(
          ['kill', ...docs.slice(1).map((d) => d._id)],
          (l) => out.push(l),
          (l) => out.push(l),
        ),
      ).toBe(0);
    } finally {
      process.env.COUCHDB_URL = saved.url;
      process.env.COUCHSTAGE_DB_PREFIX = saved.prefix;
    }
    const ended = await waitFor(
      env,
      docs.map((d) => d._id),
    );
    expect(ended.map((d) => d.state)).toEqual(['killed', 'killed', 'killed', 'killed']);
    for (const d of ended)
      expect(fs.existsSync(destinationPath(storage, d.destination, d.destination_lfn))).toBe(false);
  });

  it('expires files that wait longer than max_waiting_time', async () => {
    await env
      .as('ops')
      .use(env.dbs.config)
      .get('settings')
      .then((s) =>
        env
          .as('ops')
          .use(env.dbs.config)
          .insert({ ...s, max_waiting_time: 1 } as never),
      );
    const [d] = await submitFiles(env, storage, 1, { source: 'T2_CH_CERN', destination: 'T1_US_FNAL' });
    const [ended] = await waitFor(env, [d._id], { ms: 30_000 });
    expect(ended.state).toBe('expired');
    const s = await env.as('ops').use(env.dbs.config).get('settings');
    await env
      .as('ops')
      .use(env.dbs.config)
      .insert({ ...s, max_waiting_time: 604800 } as never);
  });

  it('no transfer is left acquired or submitted, and every job is done', async () => {
    const jobs = await env.admin
      .use(env.dbs.transfers)
      .find({ selector: { type: 'transfer_job' }, limit: 10000 } as never);
    await new Promise((r) => setTimeout(r, 1000));
    const all = await env.admin.use(env.dbs.transfers).find({ selector: { type: 'transfer' }, limit: 10000 } as never);
    const stuck = (all.docs as unknown as { state: string }[]).filter(
      (d) => d.state === 'acquired' || d.state === 'submitted',
    );
    expect(stuck).toEqual([]);
    expect((jobs.docs as unknown as { state: string }[]).every((j) => j.state === 'done')).toBe(true);
  });
});
