/**
 * `couchstage quota set USER --bytes N --files N` (operators) and `couchstage quota show [USER]`:
 * the quota document and the usage it is checked against (agents/lib/quota.ts). Also the check
 * `couchstage submit` runs before writing anything.
 */
import { quotaDocProblem } from '../../views/lib/checks';
import { CatalogId, TERMINAL_STATES, type QuotaDoc, type TransferState } from '../../views/schema';
import { statusOf, type Db } from '../../agents/lib/couch';
import { addUsage, catalogUsage, quotaProblem, readQuota, type Usage } from '../../agents/lib/quota';
import { flag, UsageError, type Args } from './args';
import { whoami, type Context } from './context';

/** Bytes and files of the user's non-terminal transfers (monitor/by_user: [user, workflow, state] -> size). */
export async function pendingUsage(transfers: Db, user: string): Promise<Usage> {
  const res = await transfers.view('monitor', 'by_user', { group_level: 3, startkey: [user], endkey: [user, {}] } as never);
  let bytes = 0;
  let files = 0;
  for (const row of res.rows) {
    const state = (row.key as unknown as unknown[])[2] as TransferState;
    if (TERMINAL_STATES.indexOf(state) >= 0) continue;
    const v = row.value as unknown as { sum: number; count: number };
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
    adding.set(d.user, addUsage(adding.get(d.user) || { bytes: 0, files: 0 }, { bytes: Number(d.size) || 0, files: 1 }));
  }
  for (const [user, add] of adding) {
    const quota = await readQuota(ctx.server.use<Record<string, unknown>>(ctx.cfg.dbs.catalog), user);
    if (!quota) continue;
    const why = quotaProblem(quota, (await usageOf(ctx, user)).total, add);
    if (why) throw new UsageError(why + '\nnothing was submitted');
  }
}

function count(args: Args, name: string): number {
  const v = flag(args, name);
  if (v === undefined || !/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UsageError(`--${name} must be a non-negative integer`);
  return Number(v);
}

export async function runQuota(ctx: Context, args: Args): Promise<number> {
  const [sub, userArg] = args.positional;
  const catalog = ctx.server.use<Record<string, unknown>>(ctx.cfg.dbs.catalog);
  if (sub === 'set') {
    if (!userArg) throw new UsageError('quota set needs a user name: quota set USER --bytes N --files N');
    const doc: QuotaDoc = { _id: CatalogId.quota(userArg), type: 'quota', user: userArg, max_bytes: count(args, 'bytes'), max_files: count(args, 'files') };
    const p = quotaDocProblem(doc as never);
    if (p) throw new UsageError(p);
    const old = await readQuota(catalog, userArg);
    try {
      await catalog.insert({ ...doc, ...(old ? { _rev: old._rev } : {}) } as never);
    } catch (err) {
      if (statusOf(err) === 403 || statusOf(err) === 401) throw new UsageError(`only operators set quotas (${(err as Error).message})`);
      throw err;
    }
    if (ctx.json) ctx.out(JSON.stringify({ user: userArg, max_bytes: doc.max_bytes, max_files: doc.max_files }, null, 2));
    else ctx.out(`quota of ${userArg}: ${doc.max_bytes} bytes, ${doc.max_files} files`);
    return 0;
  }
  if (sub === 'show') {
    const user = userArg || (await whoami(ctx)).name;
    if (!user) throw new UsageError('quota show needs a user name or a signed-in user');
    const quota = await readQuota(catalog, user);
    const usage = await usageOf(ctx, user);
    const report = { user, max_bytes: quota ? quota.max_bytes : null, max_files: quota ? quota.max_files : null, usage };
    if (ctx.json) ctx.out(JSON.stringify(report, null, 2));
    else {
      ctx.out(`${user}: ${usage.total.bytes} bytes, ${usage.total.files} files in use (catalogue ${usage.catalog.bytes} B / ${usage.catalog.files} files, pending transfers ${usage.pending.bytes} B / ${usage.pending.files} files)`);
      ctx.out(quota ? `quota: ${quota.max_bytes} bytes, ${quota.max_files} files` : 'quota: none');
    }
    return 0;
  }
  throw new UsageError('quota: use "quota set USER --bytes N --files N" or "quota show [USER]"');
}
