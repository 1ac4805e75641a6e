/**
 * What a scale-out run must leave, read through `env`'s server (one node of a cluster, say): every
 * file done with exactly one successful attempt and in exactly one finished transfer job; published
 * exactly once, one catalogue file and one replica per transfer, in closed blocks of at most
 * `perBlock` files whose counts match their files; one dataset. Shared by the single-node and the
 * cluster scale tests.
 */
import type { TransferDoc } from '../../views/schema';
import { fileIdOf, replicaIdOf } from '../../views/lib/catalog-ids';
import { waitPublished } from '../agents/publisher/support';
import { waitFor } from './agents';
import type { TestEnv } from './env';

export async function expectScaleInvariants(
  env: TestEnv,
  ids: readonly string[],
  opts: { perBlock: number; doneMs: number; publishedMs: number },
): Promise<void> {
  const docs: TransferDoc[] = await waitFor(env, ids, { ms: opts.doneMs });
  expect(docs.filter((d) => d.state !== 'done').map((d) => `${d._id} ${d.state}`)).toEqual([]);
  const bad = docs.filter((d) => (d.attempts || []).filter((a) => !a.error).length !== 1);
  expect(bad.map((d) => d._id)).toEqual([]);
  // Every file is in exactly one finished transfer job.
  const jobs = await env.admin
    .use(env.dbs.transfers)
    .find({ selector: { type: 'transfer_job' }, limit: 100_000 } as never);
  const perFile = new Map<string, number>();
  for (const j of jobs.docs as unknown as { state: string; files: { id: string }[] | string[] }[]) {
    if (j.state !== 'done') continue;
    for (const f of j.files) {
      const id = typeof f === 'string' ? f : f.id;
      perFile.set(id, (perFile.get(id) || 0) + 1);
    }
  }
  expect(ids.filter((id) => perFile.get(id) !== 1)).toEqual([]);
  // Published exactly once (the workflow has nothing pending: every block closes).
  const { transfers, catalog } = await waitPublished(env, ids, {
    ms: opts.publishedMs,
    until: (c) => c.blocks.length > 0 && c.blocks.every((b) => !b.open),
  });
  expect(catalog.files).toHaveLength(ids.length);
  expect(catalog.replicas).toHaveLength(ids.length);
  for (const t of transfers) {
    expect(catalog.docs.get(fileIdOf(t.destination_lfn))).toMatchObject({ block: t.block });
    expect(catalog.docs.get(replicaIdOf(t.destination_lfn, t.destination))).toMatchObject({ block: t.block });
  }
  const filesPerBlock = new Map<string, number>();
  for (const f of catalog.files) filesPerBlock.set(f.block, (filesPerBlock.get(f.block) || 0) + 1);
  expect(new Set(catalog.blocks.map((b) => b.name))).toEqual(new Set(filesPerBlock.keys()));
  for (const b of catalog.blocks) {
    expect(b.file_count).toBe(filesPerBlock.get(b.name));
    expect(b.file_count).toBeLessThanOrEqual(opts.perBlock);
  }
  expect(catalog.docs.size).toBe(1 + catalog.blocks.length + 2 * ids.length); // one dataset
}
