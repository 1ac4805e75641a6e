/**
 * Catalogue reads and ids the data-handling agents and the CLI share. Replicas are read by
 * their deterministic ids (the primary index); only "the files of a dataset" needs a Mango
 * `_find` without an index, which both servers answer by a scan of the catalogue: no index time
 * on writes (the publisher's hot path), one scan per batch of requests. A catalogue view by
 * dataset (like the `query` views in design/catalog-query.ts) can replace `filesOfDatasets`
 * without changing any caller.
 */
import type nano from 'nano';
import type { CatalogFileDoc, ReplicaDoc, SiteDoc } from '../../views/schema';
import { fileIdOf, guidOf, replicaIdOf } from '../../views/lib/catalog-ids';
import { lfnToPfn, pfnRootProblem } from '../../views/lib/tfc';
import { fetchDocs } from '../platform/bulk';
import type { Db } from '../platform/couch';
import { find } from '../platform/docs';

// The catalogue's one definition of its ids and GUIDs (also what the publisher and the VDU use).
export { fileIdOf as fileId, replicaIdOf as replicaId, guidOf };

/** The largest `_find` answer we ask for at once; a request lists at most 10k files anyway. */
const FIND_LIMIT = 1_000_000;

export function findDocs<D>(db: Db, selector: nano.MangoSelector, fields?: string[]): Promise<D[]> {
  return find<D>(db, { selector, ...(fields ? { fields } : {}), limit: FIND_LIMIT });
}

/** Files of a dataset (all, valid or not), or the named LFNs (missing ones are left out). */
export async function filesOf(
  catalog: Db,
  sel: { dataset?: string; lfns?: readonly string[] },
): Promise<Map<string, CatalogFileDoc>> {
  if (sel.dataset !== undefined) return (await filesOfDatasets(catalog, [sel.dataset])).get(sel.dataset) || new Map();
  const out = new Map<string, CatalogFileDoc>();
  const docs = await fetchDocs<CatalogFileDoc>(catalog, (sel.lfns || []).map(fileIdOf));
  for (const f of docs.values()) if (f.type === 'file') out.set(f.lfn, f);
  return out;
}

/** Files of several datasets in one `_find` scan (dataset -> lfn -> file). */
export async function filesOfDatasets(
  catalog: Db,
  datasets: readonly string[],
): Promise<Map<string, Map<string, CatalogFileDoc>>> {
  const out = new Map<string, Map<string, CatalogFileDoc>>(datasets.map((d) => [d, new Map()]));
  if (!datasets.length) return out;
  const selector =
    datasets.length === 1 ? { type: 'file', dataset: datasets[0] } : { type: 'file', dataset: { $in: [...datasets] } };
  for (const f of await findDocs<CatalogFileDoc>(catalog, selector)) out.get(f.dataset)?.set(f.lfn, f);
  return out;
}

/**
 * Replicas of the given LFNs at the given sites (lfn -> site -> replica), by their
 * deterministic ids: the primary index, no scan. Sites are those of the request or all
 * configured ones (a replica at a site without configuration has no PFN anyway).
 */
export async function replicasAt(
  catalog: Db,
  lfns: readonly string[],
  sites: readonly string[],
): Promise<Map<string, Map<string, ReplicaDoc>>> {
  const out = new Map<string, Map<string, ReplicaDoc>>();
  const ids: string[] = [];
  for (const lfn of lfns) for (const site of sites) ids.push(replicaIdOf(lfn, site));
  for (const r of (await fetchDocs<ReplicaDoc>(catalog, ids)).values()) {
    if (r.type !== 'replica') continue;
    const m = out.get(r.lfn) || new Map<string, ReplicaDoc>();
    m.set(r.site, r);
    out.set(r.lfn, m);
  }
  return out;
}

/**
 * The PFN of an LFN at a site for the first of the site's protocols (endpoint order) that the
 * backend supports and a TFC rule maps below the site's storage root; null when none does (a PFN
 * outside the root is never stat-ed or removed: views/lib/tfc.ts pfnRootProblem).
 */
export function pfnAt(site: SiteDoc | undefined, lfn: string, supported: (protocol: string) => boolean): string | null {
  if (!site) return null;
  for (const protocol of Object.keys(site.endpoints)) {
    if (!supported(protocol)) continue;
    const pfn = lfnToPfn(site, protocol, lfn);
    if (pfn && !pfnRootProblem(site, protocol, pfn)) return pfn;
  }
  return null;
}

/** Protocols a backend can reach: native only file://, gfal2 root:// and file:// (and http). */
export function backendProtocols(backend: string): (protocol: string) => boolean {
  if (backend === 'native') return (p) => p === 'file';
  return (p) => p === 'file' || p === 'root' || p === 'http' || p === 'https' || p === 'davs';
}
