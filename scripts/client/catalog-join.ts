/**
 * What every catalogue query shares: the two databases it reads, the view query on the `query`
 * design document (design/catalog-query.ts), and the join on block documents that makes a block
 * in the middle of a migration seen whole or not at all.
 */
import { CatalogId, type BlockDoc, type ViewRef } from '../../views/schema';
import type { Db } from '../../agents/platform/couch';
import { docsOf, queryView, type ViewRow } from '../../agents/platform/docs';

export interface Catalog {
  readonly catalog: Db;
  /** The config database (sites and their TFC rules); PFNs are computed, never stored. */
  readonly config: Db;
}

export function view<V = unknown, D = unknown>(
  db: Db,
  ref: ViewRef,
  params: Record<string, unknown>,
): Promise<ViewRow<unknown[], V, D>[]> {
  return queryView<unknown[], V, D>(db, ref.ddoc, ref.name, params);
}

/** Which of these block names have a block document (the join every block-centred answer makes). */
export async function visibleBlocks(c: Catalog, names: Iterable<string>): Promise<Map<string, BlockDoc>> {
  const ids = [...new Set(names)].map((n) => CatalogId.block(n));
  const out = new Map<string, BlockDoc>();
  for (let i = 0; i < ids.length; i += 1000) {
    const res = await c.catalog.fetch({ keys: ids.slice(i, i + 1000) });
    for (const b of docsOf<BlockDoc>(res.rows)) out.set(b.name, b);
  }
  return out;
}
