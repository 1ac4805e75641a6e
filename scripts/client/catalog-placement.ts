/**
 * Catalogue queries on where data sits: a file's replicas with their PFNs (computed from the
 * sites' TFC rules, never stored), a block's locations, the datasets at a site, and usage per
 * user beside the quota. Queries on names are catalog-names.ts.
 */
import { DocId, CatalogId, type QuotaDoc, type ReplicaDoc, type SiteDoc, Views } from '../../views/schema';
import { fileIdOf } from '../../views/lib/catalog-ids';
import { lfnToPfn } from '../../views/lib/tfc';
import { docsOf, get } from '../../agents/platform/docs';
import { view, visibleBlocks, type Catalog } from './catalog-join';

export interface ReplicaEntry {
  readonly site: string;
  readonly size: number;
  readonly pfns: Record<string, string>;
}

async function site(c: Catalog, name: string): Promise<SiteDoc | null> {
  return get<SiteDoc>(c.config, DocId.site(name));
}

/** Whether the site is configured: tells "no such site" from "a site holding nothing". */
export async function siteExists(c: Catalog, name: string): Promise<boolean> {
  return (await site(c, name)) !== null;
}

/** PFNs per protocol from the site's TFC rules (every protocol the site has rules for). */
export function pfnsAt(s: SiteDoc | null, lfn: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!s) return out;
  for (const proto of [...new Set(s.tfc.map((r) => r.protocol))]) {
    const pfn = lfnToPfn(s, proto, lfn);
    if (pfn) out[proto] = pfn;
  }
  return out;
}

/** Replicas of a file: `_all_docs` on `replica:<sha224(lfn)>:`; PFNs computed per protocol. */
export async function replicas(c: Catalog, lfn: string): Promise<ReplicaEntry[]> {
  const prefix = 'replica:' + fileIdOf(lfn).slice('file:'.length) + ':';
  const res = await c.catalog.list({ startkey: prefix, endkey: prefix + '\ufff0', include_docs: true });
  const reps = docsOf<ReplicaDoc>(res.rows);
  const visible = await visibleBlocks(
    c,
    reps.map((r) => r.block),
  );
  const out: ReplicaEntry[] = [];
  for (const r of reps.filter((x) => visible.has(x.block)))
    out.push({ site: r.site, size: r.size, pfns: pfnsAt(await site(c, r.site), lfn) });
  return out;
}

export interface Location {
  readonly site: string;
  readonly files: number;
  readonly bytes: number;
  readonly complete: boolean;
}

/** DLS: the sites holding a block's files; `complete` when a site holds all of them. */
export async function blockLocations(c: Catalog, block: string): Promise<Location[]> {
  const b = (await visibleBlocks(c, [block])).get(block);
  if (!b) return [];
  const rows = await view<{ count: number; sum: number }>(c.catalog, Views.replicas, {
    startkey: ['block', block],
    endkey: ['block', block, {}],
    group_level: 3,
  });
  return rows.map((r) => ({
    site: r.key[2] as string,
    files: r.value.count,
    bytes: r.value.sum,
    complete: r.value.count >= b.file_count,
  }));
}

export interface SiteDataset {
  readonly dataset: string;
  readonly files: number;
  readonly bytes: number;
  readonly blocks: number;
  readonly complete_blocks: number;
}

export async function datasetsAtSite(c: Catalog, siteName: string): Promise<SiteDataset[]> {
  const rows = await view<{ count: number; sum: number }>(c.catalog, Views.replicas, {
    startkey: ['site', siteName],
    endkey: ['site', siteName, {}],
    group_level: 4,
  });
  const visible = await visibleBlocks(
    c,
    rows.map((r) => r.key[3] as string),
  );
  const out = new Map<
    string,
    { dataset: string; files: number; bytes: number; blocks: number; complete_blocks: number }
  >();
  for (const r of rows) {
    const b = visible.get(r.key[3] as string);
    if (!b) continue;
    const ds = r.key[2] as string;
    const e = out.get(ds) || { dataset: ds, files: 0, bytes: 0, blocks: 0, complete_blocks: 0 };
    e.files += r.value.count;
    e.bytes += r.value.sum;
    e.blocks++;
    if (r.value.count >= b.file_count) e.complete_blocks++;
    out.set(ds, e);
  }
  return [...out.values()];
}

export interface Usage {
  readonly user: string;
  readonly files: number;
  readonly bytes: number;
  readonly by_site: Record<string, { files: number; bytes: number }>;
  readonly quota: { max_files: number; max_bytes: number } | null;
}

/** Usage per user from the catalogue's replicas, beside the user's quota document. */
export async function usage(c: Catalog, user?: string): Promise<Usage[]> {
  const range = user
    ? { startkey: ['owner', user], endkey: ['owner', user, {}] }
    : { startkey: ['owner'], endkey: ['owner', {}] };
  const rows = await view<{ count: number; sum: number }>(c.catalog, Views.replicas, { ...range, group_level: 4 });
  const visible = await visibleBlocks(
    c,
    rows.map((r) => r.key[3] as string),
  );
  const out = new Map<
    string,
    { user: string; files: number; bytes: number; by_site: Record<string, { files: number; bytes: number }> }
  >();
  for (const r of rows) {
    if (!visible.has(r.key[3] as string)) continue;
    const u = r.key[1] as string;
    const e = out.get(u) || { user: u, files: 0, bytes: 0, by_site: {} };
    e.files += r.value.count;
    e.bytes += r.value.sum;
    const s = (e.by_site[r.key[2] as string] ||= { files: 0, bytes: 0 });
    s.files += r.value.count;
    s.bytes += r.value.sum;
    out.set(u, e);
  }
  if (user && !out.has(user)) out.set(user, { user, files: 0, bytes: 0, by_site: {} });
  const quotas = await c.catalog.fetch({ keys: [...out.keys()].map((u) => CatalogId.quota(u)) });
  const byUser = new Map<string, QuotaDoc>();
  for (const q of docsOf<QuotaDoc>(quotas.rows)) byUser.set(q.user, q);
  return [...out.values()].map((e) => {
    const q = byUser.get(e.user);
    return { ...e, quota: q ? { max_files: q.max_files, max_bytes: q.max_bytes } : null };
  });
}
