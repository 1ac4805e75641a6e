/** Files and bytes per user, workflow and state: key [user, workflow, state], value size;
 * `_stats`. group_level=1 -> per user, 2 -> per workflow, 3 -> per state of a workflow.
 * One sorted key serves the CLI's `status` and the page's drill-down with small key ranges. */
import { DocType, type TransferDoc } from '../../../schema';

export default function map(doc: TransferDoc): void {
  if (doc.type === DocType.transfer) emit([doc.user, doc.workflow, doc.state], doc.size);
}
