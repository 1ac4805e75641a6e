/**
 * A killed publisher's last request is not cancelled with it: CouchDB goes on applying a
 * `_bulk_docs` whose client has gone. Here the leader's assignment write is held back (the process
 * "dies" with it in flight), a successor loads the transfers, which do not show it yet, and plans
 * its own pass; the held write lands in between. On a real server, with the publisher's own passes: no
 * block ever holds more than max_files_per_block files, and everything ends published exactly once.
 * Only the fault is staged (the write held and replayed later); the database and the publisher's
 * effects are real.
 */
import { DEFAULT_SETTINGS, type TransferDoc } from '../../../views/schema';
import { connect, type Db } from '../../../agents/platform/couch';
import { createLogger } from '../../../agents/platform/log';
import { createMetrics } from '../../../agents/platform/metrics';
import type { AgentContext } from '../../../agents/lib/runner';
import type { LiveConfig } from '../../../agents/lib/live-config';
import { closePass } from '../../../agents/publisher/close';
import { assignPass, publishPass } from '../../../agents/publisher/effects';
import { LEDGER_ID } from '../../../agents/publisher/ledger';
import { applyDoc, loadState, type PublisherState } from '../../../agents/publisher/state';
import { configure, makeStorage, submitFiles, type Storage } from '../../support/agents';
import { createTestEnv, type TestEnv } from '../../support/env';
import { snapshot } from './support';

const silentLogger = createLogger({}, { write: () => undefined, level: 'error' });

const PER_BLOCK = 50;
let env: TestEnv;
let storage: Storage;
let dataset = '';

beforeAll(async () => {
  env = await createTestEnv();
  storage = makeStorage(['T2_A', 'T2_B']);
  await configure(env, storage, { max_files_per_block: PER_BLOCK });
  dataset = `/Ledger/${env.names.owner}-v1/USER`;
});
afterAll(async () => {
  await env?.cleanup();
  storage?.cleanup();
});

/** A `_bulk_docs` that never answers: the request a killed process had sent, kept to land later. */
interface Held {
  armed: boolean;
  body: { docs: unknown[] } | null;
}

function contextFor(instance: string, held?: Held): AgentContext {
  const server = connect(env.urlAs('agent'));
  const settings = { ...DEFAULT_SETTINGS, max_files_per_block: PER_BLOCK, block_closure_timeout: 3600 };
  const db = (role: keyof typeof env.dbs): Db => {
    const d = server.use(env.dbs[role]) as Db;
    if (role !== 'transfers' || !held) return d;
    const bulk = d.bulk.bind(d);
    return Object.assign(Object.create(d), {
      bulk: (body: { docs: unknown[] }) => {
        if (!held.armed || !body.docs.some((x) => (x as TransferDoc).publication_state === 'publishing'))
          return bulk(body as never);
        held.armed = false;
        held.body = body;
        return new Promise(() => undefined);
      },
    }) as Db;
  };
  return {
    url: env.urlAs('agent'),
    server,
    dbs: env.dbs,
    db,
    config: { settings } as unknown as LiveConfig,
    log: silentLogger,
    signal: new AbortController().signal,
    instance,
    now: () => new Date(),
    metrics: createMetrics(),
  };
}

/** Submitted by the owner, then moved new -> acquired -> done as the worker would. */
async function doneFiles(n: number, workflow: string, part = ''): Promise<TransferDoc[]> {
  // A part names files apart from the workflow's others (submitFiles numbers them from 0).
  const lfns = (i: number) =>
    part
      ? {
          source_lfn: `/store/temp/user/${env.names.owner}/${workflow}/${part}_${i}.root`,
          destination_lfn: `/store/user/${env.names.owner}/${workflow}/${part}_${i}.root`,
        }
      : {};
  const docs = await submitFiles(env, storage, n, { workflow, over: (i) => ({ publish: true, dataset, ...lfns(i) }) });
  const db = env.as('agent').use(env.dbs.transfers);
  const out: TransferDoc[] = [];
  for (const state of ['acquired', 'done'] as const) {
    const cur = await db.fetch({ keys: docs.map((d) => d._id) });
    const next = cur.rows.map((r) => ({
      ...(r as unknown as { doc: TransferDoc }).doc,
      state,
      last_update: new Date().toISOString(),
    }));
    const res = await db.bulk({ docs: next as never[] });
    expect(res.filter((r) => r.error)).toEqual([]);
    if (state === 'done') out.push(...next);
  }
  return out;
}

async function feed(state: PublisherState): Promise<void> {
  const res = await env.as('agent').use(env.dbs.transfers).list({ include_docs: true });
  for (const row of res.rows) if (row.doc && !row.id.startsWith('_')) applyDoc(state, row.doc as never);
}

it("a dead leader's assignment landing after its successor planned never overfills a block", async () => {
  const all = await doneFiles(30, 'wf_first');
  // The leader A fills its first block with 30 files.
  const a: PublisherState = { transfers: new Map(), blocks: new Map() };
  const held: Held = { armed: false, body: null };
  const ctxA = contextFor('publisher-a', held);
  await loadState(ctxA, a);
  expect((await assignPass(ctxA, a)).assigned).toBe(30);
  // 60 more are done; A's next pass (20 into the first block, 40 into a new one) is sent, and A
  // dies with it in flight.
  all.push(...(await doneFiles(60, 'wf_second')));
  await feed(a);
  held.armed = true;
  void assignPass(ctxA, a);
  for (let i = 0; i < 100 && !held.body; i++) await new Promise((r) => setTimeout(r, 50));
  expect(held.body?.docs).toHaveLength(60);
  // 20 more are done, with ids that sort among A's: the successor's first 20 candidates are not A's.
  all.push(...(await doneFiles(20, 'wf_third')));
  const b: PublisherState = { transfers: new Map(), blocks: new Map() };
  const ctxB = contextFor('publisher-b');
  await loadState(ctxB, b);
  // A's request lands now, after B read the transfers (what CouchDB does with a request whose
  // client is gone), and B's pass runs on what it loaded.
  const landed = await env
    .as('agent')
    .use(env.dbs.transfers)
    .bulk(held.body as never);
  expect(landed.filter((r) => r.error)).toEqual([]);
  expect((await assignPass(ctxB, b)).assigned).toBe(20);
  await feed(b);
  for (let i = 0; i < 20; i++) {
    const more = (await assignPass(ctxB, b)).more;
    const p = await publishPass(ctxB, b);
    await closePass(ctxB, b);
    if (!more && !p.more && [...b.transfers.values()].every((t) => t.publication_state === 'published')) break;
    await feed(b);
  }
  const cat = await snapshot(env);
  const perBlock = new Map<string, number>();
  for (const f of cat.files) perBlock.set(f.block, (perBlock.get(f.block) || 0) + 1);
  expect(Math.max(...perBlock.values())).toBeLessThanOrEqual(PER_BLOCK);
  expect(cat.files).toHaveLength(all.length);
  for (const blk of cat.blocks) expect(blk.file_count).toBe(perBlock.get(blk.name));
  const transfers = (
    await env
      .as('agent')
      .use(env.dbs.transfers)
      .fetch({ keys: all.map((d) => d._id) })
  ).rows.map((r) => (r as unknown as { doc: TransferDoc }).doc);
  expect(transfers.every((t) => t.publication_state === 'published' && perBlock.has(t.block!))).toBe(true);
  // The ledger names no more files per block than the limit, and plain users cannot see it.
  const ledger = (await env.as('agent').use(env.dbs.service).get(LEDGER_ID)) as unknown as {
    blocks: Record<string, { n: number }>;
  };
  expect(Object.values(ledger.blocks).every((r) => r.n <= PER_BLOCK)).toBe(true);
  await expect(env.as('owner').use(env.dbs.service).get(LEDGER_ID)).rejects.toMatchObject({
    statusCode: expect.any(Number),
  });
}, 120_000);

it('two leaders filling one block at once leave it counting every file, and it closes', async () => {
  const wf = 'wf_overlap';
  const blockOf = async (ids: string[]) =>
    new Set(
      (await env.as('agent').use(env.dbs.transfers).fetch({ keys: ids })).rows.map(
        (r) => (r as unknown as { doc: TransferDoc }).doc.block,
      ),
    );
  // A keeps a pending transfer of the workflow from the start, so nothing closes the block early.
  const pending = (
    await submitFiles(env, storage, 1, {
      workflow: wf,
      over: () => ({
        publish: true,
        dataset,
        source_lfn: `/store/temp/user/${env.names.owner}/${wf}/pending.root`,
        destination_lfn: `/store/user/${env.names.owner}/${wf}/pending.root`,
      }),
    })
  )[0];
  const first = await doneFiles(10, wf, 'a');
  const a: PublisherState = { transfers: new Map(), blocks: new Map() };
  const ctxA = contextFor('publisher-a2');
  await loadState(ctxA, a);
  expect((await assignPass(ctxA, a)).assigned).toBe(10);
  expect((await publishPass(ctxA, a)).published).toBe(10);
  const [block] = [...(await blockOf(first.map((d) => d._id)))];
  // B takes over (A's lease ran out in a long pass on a loaded machine) and puts 10 more in.
  const second = await doneFiles(10, wf, 'b');
  const b: PublisherState = { transfers: new Map(), blocks: new Map() };
  const ctxB = contextFor('publisher-b2');
  await loadState(ctxB, b);
  expect((await assignPass(ctxB, b)).assigned).toBe(10);
  expect(await blockOf(second.map((d) => d._id))).toEqual(new Set([block]));
  // A, still in its pass and not having seen B's work, assigns 5 more into the same block (the
  // ledger gives it the room B left) and publishes them after B has published its 10.
  const third = await doneFiles(5, wf, 'c');
  for (const d of third) applyDoc(a, d as never);
  let assigned = 0;
  for (let i = 0; i < 3 && !assigned; i++) assigned = (await assignPass(ctxA, a)).assigned;
  expect(assigned).toBe(5);
  expect(await blockOf(third.map((d) => d._id))).toEqual(new Set([block]));
  expect((await publishPass(ctxB, b)).published).toBe(10);
  await publishPass(ctxA, a);
  // The workflow ends; both go on with what the feed brings them, until nothing is left to do.
  await env
    .as('agent')
    .use(env.dbs.transfers)
    .bulk({
      docs: [
        {
          ...(await env.as('agent').use(env.dbs.transfers).get(pending._id)),
          state: 'failed',
          failure_reason: 'staged',
          last_update: new Date().toISOString(),
        },
      ],
    } as never);
  for (let i = 0; i < 10; i++) {
    for (const [s, ctx] of [
      [a, ctxA],
      [b, ctxB],
    ] as const) {
      await feed(s);
      await assignPass(ctx, s);
      await publishPass(ctx, s);
      await closePass(ctx, s);
    }
    const doc = (await env.admin
      .use(env.dbs.catalog)
      .get(`block:${block}`)
      .catch(() => null)) as { open: boolean } | null;
    if (doc && !doc.open) break;
  }
  const cat = await snapshot(env);
  const files = cat.files.filter((f) => f.block === block);
  expect(files).toHaveLength(25);
  const doc = cat.blocks.find((x) => x.name === block)!;
  expect(doc).toMatchObject({ open: false, file_count: 25, total_size: files.reduce((n, f) => n + f.size, 0) });
  const transfers = (
    await env
      .as('agent')
      .use(env.dbs.transfers)
      .fetch({ keys: [...first, ...second, ...third].map((d) => d._id) })
  ).rows.map((r) => (r as unknown as { doc: TransferDoc }).doc);
  expect(transfers.every((t) => t.publication_state === 'published' && t.block === block)).toBe(true);
}, 120_000);
