/**
 * Chooses the storage protocol and the PFNs of a transfer from the two sites' TFC rules: the
 * first protocol (in the source site's endpoint order) that both sites serve and for which both
 * LFNs map. A missing site or rule is a fatal error with a reason a user can act on.
 */
import { lfnToPfn } from '../../views/lib/tfc';
import type { SiteDoc } from '../../views/schema';

export type PfnChoice =
  | { readonly ok: true; readonly protocol: string; readonly source_pfn: string; readonly destination_pfn: string }
  | { readonly ok: false; readonly reason: string };

export function choosePfns(
  sites: ReadonlyMap<string, SiteDoc>, source: string, destination: string, sourceLfn: string, destinationLfn: string,
  supported: (protocol: string) => boolean = () => true,
): PfnChoice {
  const src = sites.get(source);
  const dst = sites.get(destination);
  if (!src) return { ok: false, reason: `source: site ${source} is not configured` };
  if (!dst) return { ok: false, reason: `destination: site ${destination} is not configured` };
  const protocols = Object.keys(src.endpoints).filter((p) => p in dst.endpoints && supported(p));
  if (!protocols.length) return { ok: false, reason: `no common storage protocol between ${source} and ${destination} that this worker supports` };
  for (const protocol of protocols) {
    const s = lfnToPfn(src, protocol, sourceLfn);
    const d = lfnToPfn(dst, protocol, destinationLfn);
    if (s && d) return { ok: true, protocol, source_pfn: s, destination_pfn: d };
  }
  const which = protocols.join(', ');
  if (!protocols.some((p) => lfnToPfn(src, p, sourceLfn))) return { ok: false, reason: `no TFC rule of ${source} maps ${sourceLfn} (protocols ${which})` };
  return { ok: false, reason: `no TFC rule of ${destination} maps ${destinationLfn} (protocols ${which})` };
}
