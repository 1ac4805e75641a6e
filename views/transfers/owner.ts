/**
 * The namespace part of the `transfers` validate_doc_update: a user's new transfer reads from the
 * user's temporary area and writes into the user's area or a group area whose role the user holds,
 * and publishes only into the user's (or that group's) datasets (views/lib/namespace.ts). Decided
 * from the document and userCtx alone, with the CMS layout (DEFAULT_NAMESPACES): validation cannot
 * read a site's own `namespaces`, which the scheduler and worker check before any copy.
 */
import {
  DEFAULT_NAMESPACES,
  datasetOwnerProblem,
  groupsOf,
  ownerAreaProblem,
  transferOwnerProblem,
  type OwnedTransfer,
} from '../lib/namespace';
import { assert, type Doc, type UserCtx } from '../lib/vdu';

export function ownerCreate(doc: Doc, userCtx: UserCtx): void {
  const p = transferOwnerProblem(doc as unknown as OwnedTransfer, DEFAULT_NAMESPACES, groupsOf(userCtx.roles));
  assert(!p, p as string);
}

/**
 * A data-handling request acts on the user's own data only: an upload registers files already at a
 * site as a dataset, a replicate request writes copies of files at more sites under the same LFNs,
 * a delete request removes copies. Each would otherwise let a user write into or delete from
 * another user's area, so the dataset must be the user's (or a group's whose role the user holds)
 * and every named file must lie in the user's or such a group's area.
 */
export function ownerDataRequest(doc: Doc, userCtx: UserCtx): void {
  const user = userCtx.name as string;
  const groups = groupsOf(userCtx.roles);
  if (doc.dataset !== undefined) {
    const candidates: (string | null)[] = [null];
    const own = candidates.concat(groups).some((g) => !datasetOwnerProblem('dataset', doc.dataset, user, g));
    const p = own ? null : datasetOwnerProblem('dataset', doc.dataset, user, null);
    assert(!p, p as string);
  }
  const named: [string, string][] = [];
  if (Array.isArray(doc.files))
    (doc.files as { lfn: string }[]).forEach((f, i) => named.push(['files[' + i + '].lfn', f.lfn]));
  if (Array.isArray(doc.lfns)) (doc.lfns as string[]).forEach((l, i) => named.push(['lfns[' + i + ']', l]));
  for (let i = 0; i < named.length; i++) {
    const q = ownerAreaProblem(named[i][0], named[i][1], DEFAULT_NAMESPACES.destination, user, groups);
    assert(!q, q as string);
  }
}
