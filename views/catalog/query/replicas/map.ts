/**
 * Locations (DLS) and usage from replica documents, value: size, reduce `_stats` (count = files):
 *   ['block', block, site]            group_level=3: files of a block per site (block locations:
 *                                     complete where count = the block's file_count)
 *   ['site', site, dataset, block]    group_level=4: what a site holds, per dataset and block
 *   ['owner', owner, site, block]     group_level=4: a user's usage per site and block
 * Keep ranges small on the embedded server, which recomputes reduces on every query.
 */
import { DocType, type ReplicaDoc } from '../../../schema';

export default function map(doc: ReplicaDoc): void {
  if (doc.type !== DocType.replica) return;
  emit(['block', doc.block, doc.site], doc.size);
  emit(['site', doc.site, doc.dataset, doc.block], doc.size);
  if (doc.owner) emit(['owner', doc.owner, doc.site, doc.block], doc.size);
}
