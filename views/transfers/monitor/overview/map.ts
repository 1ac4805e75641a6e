/** The monitoring page's one multi-purpose view: per link and state, finished files per minute,
 * failures by classified reason, publication states. Keys and their meaning: views/lib/monitor.ts
 * (shared with the stats agent's roll-up). One view with five key namespaces instead of five
 * views: the map runs once per document update, so the index cost is paid once. Reduce `_stats`. */
import type { TransferDoc } from '../../../schema';
import { overviewKeys, workflowKey } from '../../../lib/monitor';

export default function map(doc: TransferDoc): void {
  const keys = overviewKeys(doc);
  for (let i = 0; i < keys.length; i++) emit(keys[i][0], keys[i][1]);
  const wf = workflowKey(doc);
  if (wf) emit(wf[0], wf[1]);
}
