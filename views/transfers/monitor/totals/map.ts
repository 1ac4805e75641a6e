/** Files and bytes per state over all users: key [state], value size; reduce `_stats`
 * gives count (files) and sum (bytes) in one row per state with group_level=1. */
import { DocType, type TransferDoc } from '../../../schema';

export default function map(doc: TransferDoc): void {
  if (doc.type === DocType.transfer) emit([doc.state], doc.size);
}
