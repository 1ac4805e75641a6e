/**
 * Three more lifecycle checks on real processes, a real server and real files (native backend):
 * the source temp file is cleaned up after a verified copy only where the source site asks for
 * it; a failed transfer resubmitted with `couchstage retry` ends done on the same document with
 * its history; a kill that lands while the file is being copied ends the file killed (never done)
 * and removes the copy.
 */
import { execFileSync } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
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
import { createTestEnv, transferFixture, type TestEnv } from '../../support/env';
import { main as cli } from '../../../scripts/cli/main';
import type { TransferDoc } from '../../../views/schema';

const CLEANED = 'T2_CH_CERN'; // cleanup_source: true
const KEPT = 'T1_US_FNAL'; // no cleanup_source
const DEST = 'T2_IT_Pisa';

describe('transfer lifecycle extras (native backend)', () => {
  let env: TestEnv;
  let storage: Storage;
  let agents: AgentProcess[] = [];
  const fifos: string[] = [];

  beforeAll(async () => {
    env = await createTestEnv();
    storage = makeStorage([CLEANED, DEST, KEPT]);
    await configure(env, storage, { max_files_per_transfer: 10, max_retry: 3 });
    const config = env.as('ops').use(env.dbs.config);
    const site = await config.get('site:' + CLEANED);
    await config.insert({ ...site, cleanup_source: true } as never);
    agents = [
      startAgent(env, 'scheduler'),
      startAgent(env, 'worker', ['--backend', 'native']),
      startAgent(env, 'retrier'),
    ];
  });
  afterAll(async () => {
    // A worker still blocked on a named pipe nobody wrote to: give it an end of file.
    for (const fifo of fifos) {
      try {
        fs.closeSync(fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
      } catch {
        // no reader (ENXIO) or already gone
      }
    }
    await Promise.all(
      agents.map(async (a) => {
        const timer = setTimeout(() => a.child.kill('SIGKILL'), 10_000);
        await a.stop();
        clearTimeout(timer);
      }),
    );
    if (process.env.COUCHSTAGE_TEST_DUMP)
      for (const a of agents) fs.writeFileSync(`/tmp/agent-extras-${a.name}.log`, a.output.join(''));
    await env?.cleanup();
    storage?.cleanup();
  });

  const sourcePath = (d: TransferDoc) => path.join(storage.sites[d.source], d.source_lfn);
  const verified = (d: TransferDoc) =>
    adler32Hex(fs.readFileSync(destinationPath(storage, d.destination, d.destination_lfn))) === d.checksums.adler32;

  /** Waits until the transfer jobs that carried these files are done (the worker cleans up before that). */
  async function jobsFinished(docs: readonly TransferDoc[]): Promise<void> {
    const ids = [
      ...new Set(
        docs
          .map((d) => d.transfer_job || d.attempts?.[d.attempts.length - 1]?.transfer_job)
          .filter((j): j is string => !!j),
      ),
    ];
    expect(ids.length).toBeGreaterThan(0);
    const db = env.admin.use<{ state: string }>(env.dbs.transfers);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const res = await db.fetch({ keys: ids });
      if (res.rows.every((r) => 'doc' in r && r.doc && r.doc.state === 'done')) return;
      if (Date.now() > deadline) throw new Error('transfer jobs did not finish');
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('removes the source temp file after a verified copy only where the source site asks for it', async () => {
    const cleaned = await submitFiles(env, storage, 3, { source: CLEANED, destination: DEST });
    const kept = await submitFiles(env, storage, 3, { source: KEPT, destination: DEST });
    for (const d of [...cleaned, ...kept]) expect(fs.existsSync(sourcePath(d))).toBe(true);
    const done = await waitFor(
      env,
      [...cleaned, ...kept].map((d) => d._id),
    );
    expect(done.map((d) => d.state)).toEqual(done.map(() => 'done'));
    await jobsFinished(done);
    for (const d of done) {
      expect(verified(d)).toBe(true);
      expect({ source: d.source, exists: fs.existsSync(sourcePath(d)) }).toEqual({
        source: d.source,
        exists: d.source === KEPT,
      });
    }
  });

  it('a failed transfer resubmitted with `couchstage retry` ends done on the same document, history kept', async () => {
    const [d] = await submitFiles(env, storage, 1, { source: KEPT, destination: DEST });
    const src = sourcePath(d);
    fs.renameSync(src, src + '.away');
    const [failed] = await waitFor(env, [d._id]);
    expect(failed.state).toBe('failed');
    expect(failed.attempts!.map((a) => a.error_class)).toEqual(['fatal']);
    fs.renameSync(src + '.away', src);

    const saved = { url: process.env.COUCHDB_URL, prefix: process.env.COUCHSTAGE_DB_PREFIX };
    const out: string[] = [];
    process.env.COUCHDB_URL = env.urlAs('owner');
    process.env.COUCHSTAGE_DB_PREFIX = env.prefix;
    try {
      expect(
        await cli(
          ['retry', d._id],
          (l) => out.push(l),
          (l) => out.push(l),
        ),
      ).toBe(0);
    } finally {
      for (const [k, v] of [
        ['COUCHDB_URL', saved.url],
        ['COUCHSTAGE_DB_PREFIX', saved.prefix],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    expect(out.join('\n')).toMatch(new RegExp(`^requested\\s+${d._id}$`, 'm'));

    const [again] = await waitFor(env, [d._id], { until: (ds) => ds[0]?.state === 'done' });
    expect(again._id).toBe(d._id);
    expect(again.attempts!.map((a) => a.error_class ?? null)).toEqual(['fatal', null]);
    expect(again.attempts![0].error).toBe(failed.attempts![0].error);
    expect(again.retry_requested).toBeUndefined();
    expect(again.failure_reason).toBeNull();
    expect(verified(again)).toBe(true);
  });

  it('a kill that lands while the file is being copied ends it killed, never done, and removes the copy', async () => {
    // The source is a named pipe: the worker's copy cannot finish before the test writes the
    // file's bytes into it, so the kill is certain to land mid-copy. Then the copy completes and
    // verifies, and the worker must still discard it.
    const user = env.names.owner;
    const lfn = `/store/temp/user/${user}/kill_${randomBytes(3).toString('hex')}/out.root`;
    const fifo = path.join(storage.sites[KEPT], lfn);
    fs.mkdirSync(path.dirname(fifo), { recursive: true });
    execFileSync('mkfifo', [fifo]);
    fifos.push(fifo);
    const data = randomBytes(4 << 20);
    const doc = transferFixture(user, {
      source: KEPT,
      destination: DEST,
      source_lfn: lfn,
      destination_lfn: lfn.replace('/store/temp/user/', '/store/user/'),
      size: data.length,
      checksums: { adler32: adler32Hex(data) },
      created_at: new Date().toISOString(),
    });
    const owner = env.as('owner').use<Record<string, unknown>>(env.dbs.transfers);
    await owner.insert(doc as never);
    const id = doc._id as string;

    const [copying] = await waitFor(env, [id], { until: (ds) => ds[0]?.state === 'submitted' });
    await owner.insert({ ...copying, kill_requested: true } as never);
    expect(await owner.get(id)).toMatchObject({ state: 'submitted', kill_requested: true });

    // Let the copy finish: all the bytes go through (the worker read them), then end of file.
    await fs.promises.writeFile(fifo, data);
    const [ended] = await waitFor(env, [id]);
    expect(ended.state).toBe('killed');
    expect(ended.failure_reason).toBe('killed on request');
    expect(ended.attempts ?? []).toEqual([]); // the finished copy was not recorded as an attempt
    await jobsFinished([copying]);
    const dst = destinationPath(storage, DEST, ended.destination_lfn);
    expect(fs.existsSync(dst)).toBe(false);
    // The copy did run to the end: its directory exists, with nothing left in it (no partial file).
    expect(fs.readdirSync(path.dirname(dst))).toEqual([]);
  });
});
