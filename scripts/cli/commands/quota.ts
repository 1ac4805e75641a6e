/**
 * `couchstage quota set USER --bytes N --files N` (operators) and `couchstage quota show [USER]`:
 * the quota document and the usage it is checked against (agents/lib/quota.ts). Also the check
 * `couchstage submit` runs before writing anything.
 */
import { jsonOf, quotaDocProblem } from '../../../views/lib/checks';
import { CatalogId, type QuotaDoc } from '../../../views/schema';
import { statusOf } from '../../../agents/platform/couch';
import { put } from '../../../agents/platform/docs';
import { readQuota } from '../../../agents/lib/quota';
import { flag, UsageError, type Args } from '../../client/args';
import { whoami, type Context } from '../../client/context';
import { formatSize } from './format';

/** Bytes and files of the user's non-terminal transfers (monitor/by_user: [user, workflow, state] -> size). */
import { usageOf } from '../../client/quota';

export async function runQuota(ctx: Context, args: Args): Promise<number> {
  const [sub, userArg] = args.positional;
  const catalog = ctx.server.use<Record<string, unknown>>(ctx.cfg.dbs.catalog);
  if (sub === 'set') {
    if (!userArg) throw new UsageError('quota set needs a user name: quota set USER --bytes N --files N');
    const doc: QuotaDoc = {
      _id: CatalogId.quota(userArg),
      type: 'quota',
      user: userArg,
      max_bytes: count(args, 'bytes'),
      max_files: count(args, 'files'),
    };
    const p = quotaDocProblem(jsonOf(doc));
    if (p) throw new UsageError(p);
    const old = await readQuota(catalog, userArg);
    try {
      await put(catalog, { ...doc, ...(old ? { _rev: old._rev } : {}) });
    } catch (err) {
      if (statusOf(err) === 403 || statusOf(err) === 401)
        throw new UsageError(`only operators set quotas (${(err as Error).message})`);
      throw err;
    }
    if (ctx.json)
      ctx.out(JSON.stringify({ user: userArg, max_bytes: doc.max_bytes, max_files: doc.max_files }, null, 2));
    else ctx.out(`quota of ${userArg}: ${formatSize(doc.max_bytes)}, ${doc.max_files} files`);
    return 0;
  }
  if (sub === 'show') {
    const user = userArg || (await whoami(ctx)).name;
    if (!user) throw new UsageError('quota show needs a user name or a signed-in user');
    const quota = await readQuota(catalog, user);
    const usage = await usageOf(ctx, user);
    const report = {
      user,
      max_bytes: quota ? quota.max_bytes : null,
      max_files: quota ? quota.max_files : null,
      usage,
    };
    if (ctx.json) ctx.out(JSON.stringify(report, null, 2));
    else {
      ctx.out(
        `${user}: ${formatSize(usage.total.bytes)}, ${usage.total.files} files in use (catalogue ${formatSize(usage.catalog.bytes)} / ${usage.catalog.files} files, pending transfers ${formatSize(usage.pending.bytes)} / ${usage.pending.files} files)`,
      );
      ctx.out(quota ? `quota: ${formatSize(quota.max_bytes)}, ${quota.max_files} files` : 'quota: none');
    }
    return 0;
  }
  throw new UsageError('quota: use "quota set USER --bytes N --files N" or "quota show [USER]"');
}

function count(args: Args, name: string): number {
  const v = flag(args, name);
  if (v === undefined || !/^\d+$/.test(v) || !Number.isSafeInteger(Number(v)))
    throw new UsageError(`--${name} must be a non-negative integer`);
  return Number(v);
}
