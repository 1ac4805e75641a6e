/**
 * Kill and retry from the page: set `kill_requested` / `retry_requested` on transfer documents
 * in one `_bulk_docs`. The page pre-checks with the CLI's rule (views/lib/user-flags.ts) only to
 * skip what cannot apply; validate_doc_update decides, and every refusal is reported per file.
 */
import type { TransferDoc } from '../views/schema';
import { USER_FLAG_FIELD, flagIneligible, type UserFlag } from '../views/lib/user-flags';
import { DB, getJson, type Me } from './api';
import { note, type Sel } from './dom';

/** Where the outcome of an action is shown: the page's notice line, red when refused. */
export type Notify = (text: string, refused: boolean) => void;

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

/** Flags the files, reports the outcome (or the error) on the notice line, then renders again. */
export async function flagAndReport(
  kind: UserFlag,
  docs: readonly TransferDoc[],
  notify: Notify,
  rerender: () => void,
): Promise<void> {
  try {
    const d = describe(kind, await flagOn(kind, docs));
    notify(d.text, d.refused);
  } catch (err) {
    notify(`${kind}: ${err instanceof Error ? err.message : String(err)}`, true);
  }
  rerender();
}

/**
 * The same rule as validate_doc_update: only the owner or an operator acts on a user's transfers;
 * nobody else is offered a button that would be refused.
 */
export function mayActOn(me: Me, user: string): boolean {
  return me.ops || user === me.name;
}

/** The drill-down pages' warning for someone looking at another user's transfers. */
export function noteLookOnly(parent: Sel, user: string): void {
  note(parent, `These are ${user}'s transfers: you can look, but only ${user} or an operator can act on them.`, 'warn');
}
