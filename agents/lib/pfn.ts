/**
 * Chooses the storage protocol and the PFNs of a transfer from the two sites' TFC rules: the
 * first protocol (in the source site's endpoint order) that both sites serve and for which both
 * LFNs map to PFNs below the sites' storage roots. A missing site or rule, a PFN outside its root
 * or an LFN outside its owner's namespace is a fatal error with a reason a user can act on.
 */
import { namespacesOf, transferOwnerProblem } from '../../views/lib/namespace';
import { lfnToPfn, pfnRootProblem } from '../../views/lib/tfc';
import { DATA_REQUEST_TRANSFER_PREFIX, type SiteDoc, type TransferDoc } from '../../views/schema';

export type PfnChoice =
  | { readonly ok: true; readonly protocol: string; readonly source_pfn: string; readonly destination_pfn: string }
  | { readonly ok: false; readonly reason: string };

export function choosePfns(
  sites: ReadonlyMap<string, SiteDoc>,
  source: string,
  destination: string,
  sourceLfn: string,
  destinationLfn: string,
  supported: (protocol: string) => boolean = () => true,
): PfnChoice {
  const src = sites.get(source);
  const dst = sites.get(destination);
  if (!src) return { ok: false, reason: `source: site ${source} is not configured` };
  if (!dst) return { ok: false, reason: `destination: site ${destination} is not configured` };
  const protocols = Object.keys(src.endpoints).filter((p) => p in dst.endpoints && supported(p));
  if (!protocols.length)
    return {
      ok: false,
      reason: `no common storage protocol between ${source} and ${destination} that this worker supports`,
    };
  let outside: string | null = null;
  for (const protocol of protocols) {
    const s = lfnToPfn(src, protocol, sourceLfn);
    const d = lfnToPfn(dst, protocol, destinationLfn);
    if (!s || !d) continue;
    const bad = pfnRootProblem(src, protocol, s) || pfnRootProblem(dst, protocol, d);
    if (bad) {
      outside = outside || bad;
      continue;
    }
    return { ok: true, protocol, source_pfn: s, destination_pfn: d };
  }
  if (outside) return { ok: false, reason: `refused: ${outside}` };
  const which = protocols.join(', ');
  if (!protocols.some((p) => lfnToPfn(src, p, sourceLfn)))
    return { ok: false, reason: `no TFC rule of ${source} maps ${sourceLfn} (protocols ${which})` };
  return { ok: false, reason: `no TFC rule of ${destination} maps ${destinationLfn} (protocols ${which})` };
}

/**
 * Why the sites' namespaces refuse this transfer, or null. Users' transfers are held to the
 * source site's `namespaces.source` and the destination site's `namespaces.destination` (CMS
 * defaults when unset); the group is the one the document names, which validate_doc_update
 * checked against the writer's roles. A replicate request's transfer (agent-written `rt-` id)
 * copies a catalogued file to the same LFN elsewhere: it must not change the name.
 */
export function namespaceReason(
  doc: Pick<
    TransferDoc,
    '_id' | 'user' | 'group' | 'source' | 'destination' | 'source_lfn' | 'destination_lfn' | 'publish' | 'dataset'
  >,
  sites: ReadonlyMap<string, SiteDoc>,
): string | null {
  if (doc._id.startsWith(DATA_REQUEST_TRANSFER_PREFIX)) {
    return doc.source_lfn === doc.destination_lfn ? null : 'refused: destination_lfn: a replica keeps its LFN';
  }
  const ns = {
    source: namespacesOf(sites.get(doc.source)).source,
    destination: namespacesOf(sites.get(doc.destination)).destination,
  };
  const p = transferOwnerProblem(doc, ns, doc.group ? [doc.group] : []);
  return p ? `refused: ${p} (site namespaces of ${doc.source} -> ${doc.destination})` : null;
}

/** The PFNs of one transfer, after its namespace check: what the scheduler and worker both ask. */
export function transferPfns(
  doc: Parameters<typeof namespaceReason>[0],
  sites: ReadonlyMap<string, SiteDoc>,
  supported?: (protocol: string) => boolean,
): PfnChoice {
  const ns = namespaceReason(doc, sites);
  if (ns) return { ok: false, reason: ns };
  return choosePfns(sites, doc.source, doc.destination, doc.source_lfn, doc.destination_lfn, supported);
}
