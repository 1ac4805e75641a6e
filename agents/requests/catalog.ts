/**
 * Catalogue reads and ids the data-handling agents and the CLI share. Reads use the primary
 * index (deterministic ids, `_all_docs` key ranges) and Mango `_find` by field without an index:
 * both servers answer it by a scan of the catalogue, which costs no index time on writes (the
 * publisher's hot path) and is fine for requests, which are rare. The catalogue views of the
 * query part of issue 4 can replace these scans without changing any caller.
 */
import { createHash } from 'crypto';
import { CatalogId, uuidFromHex, type CatalogFileDoc, type OwnedReplicaDoc, type SiteDoc } from '../../views/schema';
import { lfnToPfn } from '../../views/lib/tfc';
import { fetchDocs } from '../lib/bulk';
import type { Db } from '../lib/couch';

export function sha224(s: string): string {
  return createHash('sha224').update(s, 'utf8').digest('hex');
}

export const fileId = (lfn: string) => CatalogId.file(sha224(lfn));
export const replicaId = (lfn: string, site: string) => CatalogId.replica(sha224(lfn), site);
/** Deterministic GUID of a file: the LFN's SHA-224 shaped as a UUID (survives replays). */
export const guidOf = (lfn: string) => uuidFromHex(sha224(lfn));

/** The largest `_find` answer we ask for at once; a request lists at most 10k files anyway. */
const FIND_LIMIT = 1_000_000;

export async function findDocs<D>(db: Db, selector: Record<string, unknown>, fields?: string[]): Promise<D[]> {
  const res = await db.find({ selector, ...(fields ? { fields } : {}), limit: FIND_LIMIT } as never);
  return res.docs as unknown as D[];
}

/** Valid files of a dataset, or the named LFNs (missing ones are reported by the caller). */
export async function filesOf(catalog: Db, sel: { dataset?: string; lfns?: readonly string[] }): Promise<Map<string, CatalogFileDoc>> {
  const out = new Map<string, CatalogFileDoc>();
  if (sel.dataset !== undefined) {
    for (const f of await findDocs<CatalogFileDoc>(catalog, { type: 'file', dataset: sel.dataset })) out.set(f.lfn, f);
  } else {
    const docs = await fetchDocs<CatalogFileDoc>(catalog, (sel.lfns || []).map(fileId));
    for (const f of docs.values()) if (f.type === 'file') out.set(f.lfn, f);
  }
  return out;
}

/** Replicas of the given LFNs (lfn -> site -> replica), by their deterministic ids' key ranges. */
export async function replicasOf(catalog: Db, lfns: readonly string[], dataset?: string): Promise<Map<string, Map<string, OwnedReplicaDoc>>> {
  const out = new Map<string, Map<string, OwnedReplicaDoc>>();
  const add = (r: OwnedReplicaDoc) => {
    const m = out.get(r.lfn) || new Map<string, OwnedReplicaDoc>();
    m.set(r.site, r);
    out.set(r.lfn, m);
  };
  if (dataset !== undefined) {
    const wanted = new Set(lfns);
    for (const r of await findDocs<OwnedReplicaDoc>(catalog, { type: 'replica', dataset })) if (wanted.has(r.lfn)) add(r);
    return out;
  }
  for (let i = 0; i < lfns.length; i += 200) {
    const part = lfns.slice(i, i + 200);
    for (const r of await findDocs<OwnedReplicaDoc>(catalog, { type: 'replica', lfn: { $in: part } })) add(r);
  }
  return out;
}

/**
 * The PFN of an LFN at a site for the first of the site's protocols (endpoint order) that the
 * backend supports and a TFC rule maps; null when none does.
 */
export function pfnAt(site: SiteDoc | undefined, lfn: string, supported: (protocol: string) => boolean): string | null {
  if (!site) return null;
  for (const protocol of Object.keys(site.endpoints)) {
    if (!supported(protocol)) continue;
    const pfn = lfnToPfn(site, protocol, lfn);
    if (pfn) return pfn;
  }
  return null;
}

/** Protocols a backend can reach: native only file://, gfal2 root:// and file:// (and http). */
export function backendProtocols(backend: string): (protocol: string) => boolean {
  if (backend === 'native') return (p) => p === 'file';
  return (p) => p === 'file' || p === 'root' || p === 'http' || p === 'https' || p === 'davs';
}
