/**
 * Kill and retry from the page: set `kill_requested` / `retry_requested` on transfer documents
 * in one `_bulk_docs`. The page pre-checks with the CLI's rule (views/lib/user-flags.ts) only to
 * skip what cannot apply; validate_doc_update decides, and every refusal is reported per file.
 */
import type { TransferDoc } from '../views/schema';
import { USER_FLAG_FIELD, flagIneligible, type UserFlag } from '../views/lib/user-flags';
import { DB, getJson } from './api';

export interface Outcome {
  id: string;
  result: 'requested' | 'skipped' | 'refused';
  reason?: string;
}

export async function flagOn(kind: UserFlag, docs: readonly TransferDoc[]): Promise<Outcome[]> {
  const out: Outcome[] = [];
  const updates: TransferDoc[] = [];
  for (const d of docs) {
    const why = flagIneligible(kind, d);
    if (why) out.push({ id: d._id, result: 'skipped', reason: why });
    else updates.push({ ...d, [USER_FLAG_FIELD[kind]]: true });
  }
  if (updates.length) {
    const res = await getJson<{ id: string; ok?: boolean; error?: string; reason?: string }[]>(`${DB}_bulk_docs`, {
      method: 'POST',
      body: JSON.stringify({ docs: updates }),
    });
    // By id, not position: the embedded server lists refused documents first.
    res.forEach((r, i) =>
      out.push(
        r.error
          ? { id: r.id || updates[i]._id, result: 'refused', reason: `${r.error}: ${r.reason}` }
          : { id: r.id || updates[i]._id, result: 'requested' },
      ),
    );
  }
  return out;
}

/** One line for the notice area: what happened, refusals first with the server's reason. */
export function describe(kind: UserFlag, out: readonly Outcome[]): { text: string; refused: boolean } {
  const n = (r: Outcome['result']) => out.filter((o) => o.result === r).length;
  const refused = out.filter((o) => o.result === 'refused');
  const parts: string[] = [];
  if (refused.length)
    parts.push(`refused for ${refused.length} file${refused.length > 1 ? 's' : ''} (${refused[0].reason})`);
  if (n('requested')) parts.push(`${kind} requested for ${n('requested')} file${n('requested') > 1 ? 's' : ''}`);
  if (n('skipped')) parts.push(`${n('skipped')} skipped (${out.find((o) => o.result === 'skipped')!.reason})`);
  if (!out.length) parts.push('no files to act on');
  return { text: `${kind[0].toUpperCase()}${kind.slice(1)}: ${parts.join('; ')}`, refused: refused.length > 0 };
}
