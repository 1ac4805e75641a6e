/**
 * Chaos for the publisher: 2,000 files of two users (instant backend for the copies: this test is
 * about the catalogue), the publisher SIGKILLed at random moments and restarted, again and again,
 * until everything is published. Afterwards: no duplicate and no missing catalogue entry, every
 * block holds at most max_files_per_block files and its counts match its files, every block is
 * closed, and every transfer names the block its catalogue file is in.
 */
import * as fs from 'fs';
import {
  configure,
  makeStorage,
  startAgent,
  submitFiles,
  waitFor,
  type AgentProcess,
  type Storage,
} from '../../support/agents';
import { createTestEnv, type TestEnv } from '../../support/env';
import { fileIdOf, replicaIdOf } from '../../../views/lib/catalog-ids';
import { snapshot, waitPublished } from './support';

const FILES = 2000;
const PER_BLOCK = 50;

describe('chaos: the publisher killed at random points', () => {
  let env: TestEnv;
  let storage: Storage;
  let publisher: AgentProcess | null = null;
  const others: AgentProcess[] = [];
  let kills = 0;
  const outputs: string[][] = [];

  beforeAll(async () => {
    env = await createTestEnv();
    storage = makeStorage(['T2_CH_CERN', 'T2_IT_Pisa', 'T1_US_FNAL']);
    // Leases of 30 s: the machine this runs on can be so loaded that 4 s leases churn; the
    // publisher's restarts reuse their instance name, so they take the lease back at once.
    await configure(env, storage, {
      max_files_per_transfer: 100,
      max_files_per_block: PER_BLOCK,
      block_closure_timeout: 3600,
      lease_seconds: 30,
    });
  });
  afterAll(async () => {
    await Promise.all([publisher, ...others].filter(Boolean).map((a) => a!.stop('SIGKILL')));
    if (process.env.COUCHSTAGE_TEST_DUMP)
      fs.writeFileSync('/tmp/chaos-publisher.log', outputs.map((o, i) => `--- run ${i}\n${o.join('')}`).join('\n'));
    await env?.cleanup();
    storage?.cleanup();
  });

  it('leaves no duplicate and no missing catalogue entry', async () => {
    // The same instance name after a restart takes the leader lease back at once.
    const start = () => {
      publisher = startAgent(env, 'publisher', ['--instance', 'publisher-chaos'], { COUCHSTAGE_LOG_LEVEL: 'debug' });
      outputs.push(publisher.output);
    };
    others.push(
      startAgent(env, 'scheduler'),
      startAgent(env, 'worker', ['--backend', 'instant']),
      startAgent(env, 'retrier'),
    );
    start();
    // Two waves: the second is submitted only after the 4th kill, so at least four kills land while
    // the catalogue is still incomplete however fast the server is (on a quiet machine the embedded
    // server published all 2,000 files in one wave between 3 kills).
    const wave = async () => [
      ...(await submitFiles(env, storage, FILES / 4, {
        user: 'owner',
        source: 'T2_CH_CERN',
        destination: 'T2_IT_Pisa',
        size: 64,
        over: () => ({ publish: true, dataset: `/Chaos/${env.names.owner}-v1/USER` }),
      })),
      ...(await submitFiles(env, storage, FILES / 4, {
        user: 'other',
        source: 'T2_IT_Pisa',
        destination: 'T1_US_FNAL',
        size: 64,
        over: () => ({ publish: true, dataset: `/Chaos/${env.names.other}-v1/USER` }),
      })),
    ];
    const first = await wave();
    let second: Promise<typeof first> | null = null;
    let chaos = true;
    // Kill while publication is under way: from the first catalogue write until everything is
    // in (at most 20 kills). Even rounds kill 0.1-1.5 s after the instance has started working
    // (before or inside its first pass: a restart costs seconds of loading on a busy machine, so
    // killing by the wall clock alone never hits a pass); odd rounds wait until the new instance
    // has written to the catalogue, then kill 0-0.3 s later (inside its pass). The second kind is
    // what makes this test independent of the server's speed: a pass of 200 files took 0.5-8 s on
    // the embedded server and 3-13 s on CouchDB 3.4 on a busy machine, where kills of the first
    // kind alone all landed before the first pass; on a quiet machine the embedded server
    // published all 2,000 files in a few seconds, and kills 0-1.5 s after a write hit only 3.
    const catalogDocs = async () =>
      ((await env.admin.use(env.dbs.catalog).info()) as unknown as { doc_count: number }).doc_count;
    const during: number[] = [];
    const loop = (async () => {
      while (chaos && (await catalogDocs()) <= 1) await new Promise((r) => setTimeout(r, 200));
      for (let round = 0; chaos && round < 20; round++) {
        const before = await catalogDocs();
        for (let i = 0; chaos && i < 300 && !publisher!.output.join('').includes('agent started'); i++)
          await new Promise((r) => setTimeout(r, 100));
        if (round % 2)
          for (let i = 0; chaos && i < 600 && (await catalogDocs()) === before; i++)
            await new Promise((r) => setTimeout(r, 100));
        await new Promise((r) => setTimeout(r, round % 2 ? Math.random() * 300 : 100 + Math.random() * 1400));
        if (!chaos) break;
        const n = await catalogDocs();
        if (n >= 2 * FILES + 2 + FILES / PER_BLOCK) break; // everything is in
        await publisher!.stop('SIGKILL');
        kills++;
        during.push(n);
        if (kills === 4) second = wave();
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 400));
        start();
      }
    })();
    let result;
    const progress = setInterval(
      () =>
        void snapshot(env).then((s) =>
          console.log(
            `chaos progress: ${kills} kills, ${s.files.length} files, ${s.blocks.length} blocks (${s.blocks.filter((b) => !b.open).length} closed)`,
          ),
        ),
      15_000,
    );
    try {
      while (!second) await new Promise((r) => setTimeout(r, 200)); // the loop's 4th kill submits it
      const ids = [...first, ...(await second)].map((d) => d._id);
      await waitFor(env, ids, { ms: 420_000 });
      result = await waitPublished(env, ids, {
        ms: 600_000,
        until: (s) => s.blocks.length > 0 && s.blocks.every((b) => !b.open) && s.files.length >= FILES,
      });
    } finally {
      clearInterval(progress);
      chaos = false;
      await loop;
    }
    // The kills really hit a publication in progress (catalogue partly written).
    console.log(`publisher chaos: kills at catalogue sizes ${during.join(',')}`);
    expect(during.filter((n) => n > 2 && n < 2 * FILES).length).toBeGreaterThan(3);
    const { transfers, catalog } = result;
    expect(transfers.every((t) => t.state === 'done' && t.publication_state === 'published' && t.block)).toBe(true);
    // No missing and no extra entry: exactly one file and one replica per transfer.
    expect(catalog.files).toHaveLength(FILES);
    expect(catalog.replicas).toHaveLength(FILES);
    for (const t of transfers) {
      expect(catalog.docs.get(fileIdOf(t.destination_lfn))).toMatchObject({ block: t.block, size: t.size });
      expect(catalog.docs.get(replicaIdOf(t.destination_lfn, t.destination))).toMatchObject({ block: t.block });
    }
    // Blocks: at most PER_BLOCK files, counts equal to their files and transfers, all closed.
    const filesPerBlock = new Map<string, number>();
    for (const f of catalog.files) filesPerBlock.set(f.block, (filesPerBlock.get(f.block) || 0) + 1);
    const transfersPerBlock = new Map<string, number>();
    for (const t of transfers) transfersPerBlock.set(t.block!, (transfersPerBlock.get(t.block!) || 0) + 1);
    expect(new Set(catalog.blocks.map((b) => b.name))).toEqual(new Set(filesPerBlock.keys()));
    for (const b of catalog.blocks) {
      expect(b.open).toBe(false);
      expect(b.file_count).toBeLessThanOrEqual(PER_BLOCK);
      expect(b.file_count).toBe(filesPerBlock.get(b.name));
      expect(b.file_count).toBe(transfersPerBlock.get(b.name));
    }
    expect(catalog.blocks.reduce((a, b) => a + b.file_count, 0)).toBe(FILES);
    // Two datasets, one per user; nothing else in the catalogue.
    expect(catalog.docs.size).toBe(2 + catalog.blocks.length + 2 * FILES);
    const again = await snapshot(env);
    expect(again.docs.size).toBe(catalog.docs.size);
    console.log(
      `publisher chaos: ${kills} kills at catalogue sizes ${during.join(',')}, ${catalog.blocks.length} blocks, sizes ${[...new Set(catalog.blocks.map((b) => b.file_count))].join(',')}`,
    );
  }, 1_100_000);
});
