/**
 * The catalogue's queries, each one or two HTTP requests on the `query` views
 * (design/catalog-query.ts) or the primary index. Shared by `couchstage catalog` and the
 * benchmark. Block-centred answers join through the block documents: a file, replica or location
 * counts only when its block document exists, so a block in the middle of a migration is seen
 * whole or not at all.
 */
import {
  DocId,
  CatalogId,
  DATASET_RE,
  type BlockDoc,
  type CatalogFileDoc,
  type DatasetDoc,
  type QuotaDoc,
  type ReplicaDoc,
  type SiteDoc,
  Views,
  type ViewRef,
} from '../../views/schema';
import { fileIdOf } from '../../views/lib/catalog-ids';
import { lfnToPfn } from '../../views/lib/tfc';
import { statusOf, type Db } from '../../agents/platform/couch';
import { docsOf, get, queryView, type ViewRow } from '../../agents/platform/docs';

export interface Catalog {
  readonly catalog: Db;
  /** The config database (sites and their TFC rules); PFNs are computed, never stored. */
  readonly config: Db;
}

function view<V = unknown, D = unknown>(
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

/** `*` any characters, `?` one; matched against the whole dataset name. */
export function globRegExp(glob: string): RegExp {
  return new RegExp(
    '^' +
      glob
        .split('')
        .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\/-]/g, '\\$&')))
        .join('') +
      '$',
  );
}

/** Datasets whose name matches the glob: a key range on `dataset:<literal prefix>`, then the glob. */
export async function datasets(c: Catalog, glob = '*'): Promise<DatasetDoc[]> {
  const prefix = glob.split(/[*?]/)[0];
  const re = globRegExp(glob);
  const out: DatasetDoc[] = [];
  let startkey = CatalogId.dataset(prefix);
  for (;;) {
    const res = await c.catalog.list({
      startkey,
      endkey: CatalogId.dataset(prefix) + '\ufff0',
      include_docs: true,
      limit: 1001,
    });
    const rows = res.rows.slice(0, 1000);
    for (const d of docsOf<DatasetDoc>(rows)) if (re.test(d.name)) out.push(d);
    if (res.rows.length <= 1000) return out;
    startkey = res.rows[1000].id;
  }
}

export async function blocks(c: Catalog, dataset: string): Promise<BlockDoc[]> {
  const rows = await view<null, BlockDoc>(c.catalog, Views.contents, {
    startkey: [dataset, 0],
    endkey: [dataset, 0, {}],
    include_docs: true,
    reduce: false,
  });
  return rows.map((r) => r.doc!).filter(Boolean);
}

/** Whether the dataset document exists: tells "no such dataset" from "a dataset with nothing in it yet". */
export async function datasetExists(c: Catalog, name: string): Promise<boolean> {
  try {
    await c.catalog.head(CatalogId.dataset(name));
    return true;
  } catch (err) {
    if (statusOf(err) === 404) return false;
    throw err;
  }
}

export interface FileEntry {
  readonly lfn: string;
  readonly block: string;
  readonly size: number;
}

/** Files of a dataset (or of one of its blocks), only those of visible blocks. */
export async function files(c: Catalog, dataset: string, block?: string): Promise<FileEntry[]> {
  const range = block
    ? { startkey: [dataset, 1, block], endkey: [dataset, 1, block, {}] }
    : { startkey: [dataset, 1], endkey: [dataset, 1, {}] };
  const rows = await view<number>(c.catalog, Views.contents, { ...range, reduce: false });
  const entries = rows.map((r) => ({ lfn: r.key[3] as string, block: r.key[2] as string, size: r.value }));
  const visible = await visibleBlocks(
    c,
    entries.map((e) => e.block),
  );
  return entries.filter((e) => visible.has(e.block));
}

export interface NameEntry {
  readonly lfn: string;
  readonly guid: string;
  readonly block: string;
}

/**
 * LFN -> GUID by primary key (`file:<sha224(lfn)>`), not by the `names` view: on the embedded
 * server queries of one view are served one at a time, the primary index has no such queue.
 */
export async function lfnToGuid(c: Catalog, lfn: string): Promise<NameEntry | null> {
  const doc = await get<CatalogFileDoc>(c.catalog, fileIdOf(lfn));
  if (!doc) return null;
  if (!(await visibleBlocks(c, [doc.block])).size) return null;
  return { lfn, guid: doc.guid, block: doc.block };
}

export async function guidToLfn(c: Catalog, guid: string): Promise<NameEntry | null> {
  const rows = await view<[string, string]>(c.catalog, Views.names, {
    key: ['guid', guid.toLowerCase()],
    reduce: false,
  });
  const hit = rows[0];
  if (!hit || !(await visibleBlocks(c, [hit.value[1]])).size) return null;
  return { lfn: hit.value[0], guid: guid.toLowerCase(), block: hit.value[1] };
}

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

export interface Parentage {
  readonly kind: 'file' | 'dataset';
  readonly name: string;
  readonly parents: string[];
  readonly children: string[];
}

/** Parents (from the document) and children (from the `children` view) of a file or dataset. */
export async function parentage(c: Catalog, name: string): Promise<Parentage | null> {
  const kind = DATASET_RE.test(name) ? 'dataset' : 'file';
  // A parent need not be catalogued itself (raw input files): then it has children only.
  let doc: DatasetDoc | CatalogFileDoc | null = await get<DatasetDoc | CatalogFileDoc>(
    c.catalog,
    kind === 'dataset' ? CatalogId.dataset(name) : fileIdOf(name),
  );
  if (doc && doc.type === 'file' && !(await visibleBlocks(c, [doc.block])).size) doc = null;
  const rows = await view<string | null>(c.catalog, Views.children, {
    startkey: [kind, name],
    endkey: [kind, name, {}],
    reduce: false,
  });
  let children = rows.map((r) => ({ name: r.key[2] as string, block: r.value }));
  if (kind === 'file') {
    const visible = await visibleBlocks(
      c,
      children.map((ch) => ch.block as string),
    );
    children = children.filter((ch) => visible.has(ch.block as string));
  }
  if (!doc && !children.length) return null;
  return { kind, name, parents: [...((doc && doc.parents) || [])], children: children.map((ch) => ch.name) };
}

export interface LsEntry {
  readonly name: string;
  readonly directory: boolean;
  readonly files: number;
  readonly bytes: number;
}

/** AliEn-style `ls` of an LFN directory: its files and subdirectories with sizes (summed below). */
export async function ls(c: Catalog, dir: string): Promise<LsEntry[]> {
  const d = dir.length > 1 ? dir.replace(/\/+$/, '') : '/';
  const rows = await view<[number, string]>(c.catalog, Views.names, {
    startkey: ['dir', d],
    endkey: ['dir', d, {}],
    reduce: false,
  });
  const visible = await visibleBlocks(
    c,
    rows.map((r) => r.value[1]),
  );
  const out = new Map<string, LsEntry>();
  for (const r of rows) {
    if (!visible.has(r.value[1])) continue;
    const name = r.key[2] as string;
    const e = out.get(name) || { name, directory: name.endsWith('/'), files: 0, bytes: 0 };
    out.set(name, { ...e, files: e.files + 1, bytes: e.bytes + r.value[0] });
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
