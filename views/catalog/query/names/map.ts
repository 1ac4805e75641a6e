/**
 * The namespace (AliEn file catalogue): LFN -> GUID (key ['lfn', lfn], value [guid, block]),
 * GUID -> LFN (['guid', guid], value [lfn, block]) and directory listings: for every directory
 * above a file one row ['dir', directory, child] with value [size, block], where child is the
 * file's name in its own directory and `<subdir>/` above it. `ls D` reads ['dir', D] and sums per
 * child; a file costs one row per path level (LFNs are ~6 levels deep).
 */
import { DocType, type CatalogFileDoc } from '../../../schema';

export default function map(doc: CatalogFileDoc): void {
  if (doc.type !== DocType.file) return;
  emit(['lfn', doc.lfn], [doc.guid, doc.block]);
  emit(['guid', doc.guid], [doc.lfn, doc.block]);
  const parts = doc.lfn.split('/');
  // parts[0] is '' (absolute path): directory of level i is parts[0..i] joined.
  for (let i = parts.length - 1; i >= 1; i--) {
    const dir = i === 1 ? '/' : parts.slice(0, i).join('/');
    const child = i === parts.length - 1 ? parts[i] : parts[i] + '/';
    emit(['dir', dir, child], [doc.size, doc.block]);
  }
}
