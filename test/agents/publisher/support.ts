/** Helpers for the catalogue tests: read the whole catalogue, wait for publication. */
import type { TestEnv } from '../../support/env';
import { readTransfers } from '../../support/agents';
import type { BlockDoc, CatalogFileDoc, ReplicaDoc, TransferDoc } from '../../../views/schema';

export interface CatalogSnapshot {
  readonly docs: Map<string, Record<string, unknown> & { _id: string; _rev: string }>;
  readonly blocks: BlockDoc[];
  readonly files: CatalogFileDoc[];
  readonly replicas: ReplicaDoc[];
}

export async function snapshot(env: TestEnv, dbName = env.dbs.catalog): Promise<CatalogSnapshot> {
  const res = await env.admin.use(dbName).list({ include_docs: true });
  const docs = new Map<string, Record<string, unknown> & { _id: string; _rev: string }>();
  for (const r of res.rows) if (r.doc && !r.id.startsWith('_design/')) docs.set(r.id, r.doc as never);
  const all = [...docs.values()];
  return {
    docs,
    blocks: all.filter((d) => d.type === 'block') as unknown as BlockDoc[],
    files: all.filter((d) => d.type === 'file') as unknown as CatalogFileDoc[],
    replicas: all.filter((d) => d.type === 'replica') as unknown as ReplicaDoc[],
  };
}

/** Polls until every listed transfer is published (and `until` holds on the catalogue). */
export async function waitPublished(
  env: TestEnv,
  ids: readonly string[],
  opts: { ms?: number; until?: (s: CatalogSnapshot, t: TransferDoc[]) => boolean } = {},
): Promise<{ transfers: TransferDoc[]; catalog: CatalogSnapshot }> {
  const deadline = Date.now() + (opts.ms ?? 90_000);
  for (;;) {
    const transfers = await readTransfers(env, ids);
    if (transfers.every((t) => t.publication_state === 'published')) {
      const catalog = await snapshot(env);
      if (!opts.until || opts.until(catalog, transfers)) return { transfers, catalog };
    }
    if (Date.now() > deadline) {
      const counts: Record<string, number> = {};
      for (const t of transfers)
        counts[`${t.state}/${t.publication_state}`] = (counts[`${t.state}/${t.publication_state}`] || 0) + 1;
      // What the catalogue holds, to tell a stuck publication from a block left open.
      const catalog = await snapshot(env);
      const open = catalog.blocks.filter((b) => b.open);
      const blocks = `${catalog.blocks.length} blocks, ${open.length} open${
        open.length
          ? ` (first: ${open
              .slice(0, 3)
              .map((b) => `${b.name} with ${b.file_count}`)
              .join(', ')})`
          : ''
      }`;
      throw new Error(
        `timed out waiting for publication: ${JSON.stringify(counts)}; ${catalog.files.length} catalogue files, ${blocks}`,
      );
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}
