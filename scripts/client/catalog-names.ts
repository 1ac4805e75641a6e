/**
 * Catalogue queries on names: datasets by glob, a dataset's blocks and files, LFN <-> GUID,
 * parentage and directory listings. Where the data sits (replicas, sites, usage) is
 * catalog-placement.ts.
 */
import { CatalogId, DATASET_RE, type BlockDoc, type CatalogFileDoc, type DatasetDoc, Views } from '../../views/schema';
import { fileIdOf } from '../../views/lib/catalog-ids';
import { statusOf } from '../../agents/platform/couch';
import { docsOf, get } from '../../agents/platform/docs';
import { view, visibleBlocks, type Catalog } from './catalog-join';

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
