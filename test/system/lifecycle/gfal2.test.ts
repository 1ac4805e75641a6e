/**
 * The lifecycle on real grid storage: three XRootD storage elements on loopback, the worker on
 * the gfal2 backend (bulk copies with adler32 checked at both ends), real agent processes and the
 * deployed database. 500 files of several users on several links (streamed and third-party
 * copy); a corrupted source; a missing source; a storage element that is down and comes back.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { adler32Hex } from '../../support/adler32';
import { siteDoc, startAgent, waitFor, type AgentProcess } from '../../support/agents';
import { createTestEnv, transferFixture, type TestEnv } from '../../support/env';
import {
  startStorageElement,
  startStorageElements,
  stopStorageElement,
  stopStorageElements,
  type SE,
} from '../../../scripts/se/xrootd';
import type { TransferDoc } from '../../../views/schema';

const SITES = ['T2_CH_CERN', 'T2_IT_Pisa', 'T1_US_FNAL'];

describe('transfer lifecycle on XRootD storage elements (gfal2 backend)', () => {
  let env: TestEnv;
  let base: string;
  let ses: SE[];
  let agents: AgentProcess[] = [];
  const seOf = (site: string) => ses[SITES.indexOf(site)];

  beforeAll(async () => {
    env = await createTestEnv();
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-xrd-'));
    ses = await startStorageElements({ count: 3, baseDir: base, ownerPid: process.pid });
    const docs: Record<string, unknown>[] = SITES.map((name, i) => siteDoc(name, ses[i].rootUrl));
    docs.push({
      _id: 'link:T2_CH_CERN:T1_US_FNAL',
      type: 'link',
      source: 'T2_CH_CERN',
      destination: 'T1_US_FNAL',
      max_active: 50,
      mode: 'tpc',
    });
    docs.push({
      _id: 'settings',
      type: 'settings',
      lease_seconds: 30,
      cooloff: 2,
      max_cooloff: 4,
      max_retry: 4,
      max_files_per_transfer: 100,
    });
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
    if (process.env.COUCHSTAGE_TEST_DUMP)
      for (const a of agents) fs.writeFileSync(`/tmp/agent-${a.name}.log`, a.output.join(''));
    if (base) {
      await stopStorageElements(base);
      fs.rmSync(base, { recursive: true, force: true });
    }
    await env?.cleanup();
  });

  /** Writes source files into the source SE's namespace and submits their transfers. */
  async function submit(
    actor: 'owner' | 'other',
    source: string,
    destination: string,
    n: number,
    over: (i: number) => Record<string, unknown> = () => ({}),
  ): Promise<TransferDoc[]> {
    const user = env.names[actor];
    const wf = 'wf_' + randomBytes(3).toString('hex');
    const docs = [];
    for (let i = 0; i < n; i++) {
      const lfn = `/store/temp/user/${user}/${wf}/out_${i}.root`;
      const file = path.join(seOf(source).dataDir, lfn);
      const data = randomBytes(2048 + i);
      writeAsSe(seOf(source), file, data);
      docs.push(
        transferFixture(user, {
          workflow: wf,
          source,
          destination,
          source_lfn: lfn,
          destination_lfn: `/store/user/${user}/${wf}/out_${i}.root`,
          size: data.length,
          checksums: { adler32: adler32Hex(data) },
          created_at: new Date().toISOString(),
          ...over(i),
        }),
      );
    }
    const res = await env
      .as(actor)
      .use(env.dbs.transfers)
      .bulk({ docs: docs as never[] });
    expect(res.filter((r) => r.error)).toEqual([]);
    return docs as unknown as TransferDoc[];
  }

  /** Files a job left in the SE's namespace belong to the SE's user, as if written through it. */
  function writeAsSe(se: SE, file: string, data: Buffer): void {
    const { uid, gid } = fs.statSync(se.dataDir);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    for (let d = path.dirname(file); d.startsWith(se.dataDir) && d !== se.dataDir; d = path.dirname(d))
      fs.chownSync(d, uid, gid);
    fs.writeFileSync(file, data);
    fs.chownSync(file, uid, gid);
  }

  function destinationChecksum(d: TransferDoc): string {
    return adler32Hex(fs.readFileSync(path.join(seOf(d.destination).dataDir, d.destination_lfn)));
  }

  it('copies 500 files of two users on three links, each destination checksum equal to the declared one', async () => {
    const docs = [
      ...(await submit('owner', 'T2_CH_CERN', 'T2_IT_Pisa', 250)),
      ...(await submit('other', 'T2_IT_Pisa', 'T1_US_FNAL', 240)),
      ...(await submit('owner', 'T2_CH_CERN', 'T1_US_FNAL', 10)), // third-party copy link
    ];
    const ended = await waitFor(
      env,
      docs.map((d) => d._id),
      { ms: 240_000 },
    );
    const states: Record<string, number> = {};
    for (const d of ended) states[d.state] = (states[d.state] || 0) + 1;
    const notDone = ended.find((d) => d.state !== 'done');
    expect({ states, firstProblem: notDone?.attempts }).toEqual({ states: { done: 500 }, firstProblem: undefined });
    for (const d of ended) expect(destinationChecksum(d)).toBe(d.checksums.adler32);
  }, 300_000);

  it('retries a corrupted source and then fails it with a checksum reason', async () => {
    const [d] = await submit('owner', 'T2_CH_CERN', 'T2_IT_Pisa', 1, () => ({ checksums: { adler32: '0000abcd' } }));
    const [ended] = await waitFor(env, [d._id], { ms: 120_000 });
    expect(ended.state).toBe('failed');
    expect(ended.failure_reason).toMatch(/checksum mismatch/);
    expect(ended.attempts).toHaveLength(4);
    expect(ended.attempts!.every((a) => a.error_class === 'transient')).toBe(true);
  });

  it('fails a missing source at once', async () => {
    const [d] = await submit('other', 'T2_IT_Pisa', 'T1_US_FNAL', 1);
    fs.rmSync(path.join(seOf('T2_IT_Pisa').dataDir, d.source_lfn));
    const [ended] = await waitFor(env, [d._id], { ms: 60_000 });
    expect(ended.state).toBe('failed');
    expect(ended.attempts).toHaveLength(1);
    expect(ended.attempts![0].error_class).toBe('fatal');
  });

  it('retries while a storage element is down and succeeds once it is back', async () => {
    const fnal = seOf('T1_US_FNAL');
    await stopStorageElement(fnal);
    const docs = await submit('other', 'T2_IT_Pisa', 'T1_US_FNAL', 5);
    const retrying = await waitFor(
      env,
      docs.map((d) => d._id),
      { ms: 60_000, until: (ds) => ds.length === 5 && ds.every((d) => (d.attempts || []).length >= 1) },
    );
    expect(retrying.every((d) => d.attempts![0].error_class === 'transient')).toBe(true);
    ses[SITES.indexOf('T1_US_FNAL')] = await startStorageElement(base, fnal.index, fnal.port, {
      ownerPid: process.pid,
    });
    const ended = await waitFor(
      env,
      docs.map((d) => d._id),
      { ms: 120_000 },
    );
    expect(ended.map((d) => d.state)).toEqual(['done', 'done', 'done', 'done', 'done']);
    for (const d of ended) expect(destinationChecksum(d)).toBe(d.checksums.adler32);
  });
});
