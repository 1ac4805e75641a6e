/**
 * A user's usage against their quota (agents/lib/quota.ts): what `couchstage quota show` prints and
 * the check `couchstage submit` runs before writing anything.
 */
import { TERMINAL_STATES, Views, type TransferState } from '../../views/schema';
import type { Db } from '../../agents/platform/couch';
import { queryView } from '../../agents/platform/docs';
import { addUsage, catalogUsage, quotaProblem, readQuota, type Usage } from '../../agents/lib/quota';
import { UsageError } from './args';
import type { Context } from './context';

/** Bytes and files of the user's non-terminal transfers (monitor/by_user: [user, workflow, state] -> size). */
export async function pendingUsage(transfers: Db, user: string): Promise<Usage> {
  const rows = await queryView<[string, string, TransferState], { sum: number; count: number }>(
    transfers,
    Views.byUser.ddoc,
    Views.byUser.name,
    { group_level: 3, startkey: [user], endkey: [user, {}] },
  );
  let bytes = 0;
  let files = 0;
  for (const row of rows) {
    const state = row.key[2];
    if (TERMINAL_STATES.indexOf(state) >= 0) continue;
    const v = row.value;
    bytes += v.sum;
    files += v.count;
  }
  return { bytes, files };
}

export async function usageOf(ctx: Context, user: string): Promise<{ catalog: Usage; pending: Usage; total: Usage }> {
  const catalog = await catalogUsage(ctx.server.use<Record<string, unknown>>(ctx.cfg.dbs.catalog), user);
  const pending = await pendingUsage(ctx.server.use<Record<string, unknown>>(ctx.cfg.dbs.transfers), user);
  return { catalog, pending, total: addUsage(catalog, pending) };
}

/** Refuses (UsageError, nothing written) a batch that would take a user past their quota. */
export async function checkQuota(ctx: Context, docs: readonly Record<string, unknown>[]): Promise<void> {
  const adding = new Map<string, Usage>();
  for (const d of docs) {
    if (typeof d.user !== 'string') continue;
    adding.set(
      d.user,
      addUsage(adding.get(d.user) || { bytes: 0, files: 0 }, { bytes: Number(d.size) || 0, files: 1 }),
    );
  }
  for (const [user, add] of adding) {
    const quota = await readQuota(ctx.server.use<Record<string, unknown>>(ctx.cfg.dbs.catalog), user);
    if (!quota) continue;
    const why = quotaProblem(quota, (await usageOf(ctx, user)).total, add);
    if (why) throw new UsageError(why + '\nnothing was submitted');
  }
}
