/**
 * The catalogue the catalogue benchmark (catalog.ts) measures on: sites with TFC rules and one
 * dataset of closed blocks, each file with one replica. Apart so the figures' code reads alone.
 */
import { performance } from 'perf_hooks';
import type { Server } from '../../agents/platform/couch';
import { CatalogId, DocId, uuidFromHex, Views } from '../../views/schema';
import { fileIdOf, guidOf, replicaIdOf } from '../../views/lib/catalog-ids';
import { sha224Hex } from '../../views/lib/sha224';

const PER_BLOCK = 100; // the default max_files_per_block
export const SITES = ['T2_CH_CERN', 'T2_IT_Pisa', 'T1_US_FNAL'];
export const AT = '2026-11-26T06:00:00Z';

export interface BenchCatalogue {
  readonly docs: Record<string, unknown>[];
  readonly blocks: string[];
  readonly lfns: string[];
  readonly dataset: string;
}

/** The i-th file of a block and its one replica, at `site`. */
function fileDocs(lfn: string, i: number, site: string, block: string, dataset: string): Record<string, unknown>[] {
  return [
    {
      _id: fileIdOf(lfn),
      type: 'file',
      lfn,
      guid: guidOf(lfn),
      size: 1000 + i,
      adler32: '0badcafe',
      valid: true,
      block,
      dataset,
      owner: 'alice',
      created_at: AT,
    },
    {
      _id: replicaIdOf(lfn, site),
      type: 'replica',
      lfn,
      site,
      block,
      dataset,
      size: 1000 + i,
      created_at: AT,
      owner: 'alice',
    },
  ];
}

export function catalogDocs(n: number): BenchCatalogue {
  const dataset = '/Bench/alice-bench-v1/USER';
  const docs: Record<string, unknown>[] = [
    {
      _id: CatalogId.dataset(dataset),
      type: 'dataset',
      name: dataset,
      data_tier: 'USER',
      access_type: 'VALID',
      owner: 'alice',
      created_at: AT,
    },
  ];
  const blocks: string[] = [];
  const lfns: string[] = [];
  for (let b = 0; b * PER_BLOCK < n; b++) {
    const name = dataset + '#' + uuidFromHex(sha224Hex('bench-block-' + b));
    blocks.push(name);
    const count = Math.min(PER_BLOCK, n - b * PER_BLOCK);
    for (let i = 0; i < count; i++) {
      const lfn = `/store/user/alice/bench/${String(b).padStart(4, '0')}/out_${i}.root`;
      lfns.push(lfn);
      const site = SITES[b % SITES.length];
      docs.push(...fileDocs(lfn, i, site, name, dataset));
    }
    docs.push({
      _id: CatalogId.block(name),
      type: 'block',
      name,
      dataset,
      owner: 'alice',
      open: false,
      origin_site: SITES[b % SITES.length],
      file_count: count,
      total_size: 0,
      created_at: AT,
      closed_at: AT,
    });
  }
  // total_size as the sum of the block's files
  for (const d of docs)
    if (d.type === 'block')
      d.total_size = docs
        .filter((f) => f.type === 'file' && f.block === d.name)
        .reduce((a, f) => a + (f.size as number), 0);
  return { docs, blocks, lfns, dataset };
}

/** The sites, each with TFC rules for root and file (the replicas' PFNs are computed from them). */
export function siteDocs(): Record<string, unknown>[] {
  return SITES.map((s) => ({
    _id: DocId.site(s),
    type: 'site',
    name: s,
    endpoints: { root: 'root://x:1094' },
    tfc: [
      { protocol: 'root', path_match: '/+(.*)', result: `root://${s.toLowerCase()}.example:1094//$1` },
      { protocol: 'file', path_match: '/+(.*)', result: `file:///${s}/$1` },
    ],
  }));
}

/** Loads the catalogue by _bulk_docs of 1000 and builds its view indexes, printing how long each took. */
export async function loadCatalogue(
  admin: Server,
  db: string,
  n: number,
  { docs, blocks }: BenchCatalogue,
  serverKind: string,
): Promise<void> {
  let t = performance.now();
  const cdb = admin.use<Record<string, unknown>>(db);
  for (let i = 0; i < docs.length; i += 1000) {
    const res = await cdb.bulk({ docs: docs.slice(i, i + 1000) });
    const bad = res.find((r) => r.error);
    if (bad) throw new Error(`load: ${bad.id}: ${bad.error} ${bad.reason}`);
  }
  console.log(
    `server: ${serverKind}; catalogue of ${n} files, ${blocks.length} closed blocks, ${n} replicas (${docs.length} documents) loaded in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
  t = performance.now();
  for (const v of [Views.contents, Views.names, Views.children, Views.replicas])
    await cdb.view(v.ddoc, v.name, { limit: 1, reduce: false });
  console.log(`view indexes built in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
