/**
 * `couchstage status [--all | --user U] [--workflow W] [--json]`: files and bytes per state, from
 * the monitor views (the same numbers the page shows). The signed-in user's own workflows unless
 * asked otherwise: on a shared service everyone's rows bury one's own.
 */
import { TRANSFER_STATES, Views, type TransferState } from '../../../views/schema';
import { flag, UsageError, type Args } from '../../client/args';
import { whoami, type Context } from '../../client/context';
import { formatSize, table } from './format';
import { queryView } from '../../../agents/platform/docs';
import type { Db } from '../../../agents/platform/couch';

interface StatsRow {
  key: [string, string, TransferState];
  value: { count: number; sum: number };
}

export interface StatusReport {
  readonly user: string | null;
  readonly workflow: string | null;
  readonly states: Record<TransferState, { files: number; bytes: number }>;
  readonly rows: { user: string; workflow: string; state: TransferState; files: number; bytes: number }[];
}

export async function status(ctx: Context, user: string | null, workflow: string | null): Promise<StatusReport> {
  const db: Db = ctx.server.use(ctx.cfg.dbs.transfers);
  const range =
    user === null
      ? {}
      : workflow === null
        ? { startkey: [user], endkey: [user, {}] }
        : { startkey: [user, workflow], endkey: [user, workflow, {}] };
  const res = {
    rows: await queryView<StatsRow['key'], StatsRow['value']>(db, Views.byUser.ddoc, Views.byUser.name, {
      group_level: 3,
      ...range,
    }),
  };
  const states = Object.fromEntries(TRANSFER_STATES.map((s) => [s, { files: 0, bytes: 0 }])) as StatusReport['states'];
  const rows = res.rows.map((r) => ({
    user: r.key[0],
    workflow: r.key[1],
    state: r.key[2],
    files: r.value.count,
    bytes: r.value.sum,
  }));
  for (const r of rows) {
    if (!states[r.state]) continue;
    states[r.state].files += r.files;
    states[r.state].bytes += r.bytes;
  }
  return { user, workflow, states, rows };
}

export async function runStatus(ctx: Context, args: Args): Promise<number> {
  const all = args.flags.all === true;
  const given = flag(args, 'user');
  const workflow = flag(args, 'workflow') ?? null;
  if (all && given !== undefined) throw new UsageError('--all and --user: give one of them');
  if (all && workflow !== null) throw new UsageError("--workflow is one user's workflow: give --user U, or drop --all");
  let user: string | null = null;
  if (!all) {
    user = given ?? (await whoami(ctx)).name;
    if (!user) throw new UsageError('not signed in: give --user U or --all (or sign in: COUCHSTAGE_USER / --as)');
  }
  const report = await status(ctx, user, workflow);
  // A workflow with no files is a misspelt name or someone else's workflow, as for kill and retry.
  if (workflow !== null && !report.rows.length) throw new Error(`no workflow ${workflow} for user ${user}`);
  if (ctx.json) {
    ctx.out(JSON.stringify(report, null, 2));
    return 0;
  }
  ctx.out(`transfers${user ? ` of ${user}` : ' of every user'}${workflow ? ` in ${workflow}` : ''}`);
  const totals = TRANSFER_STATES.map((s) => [s, report.states[s].files, formatSize(report.states[s].bytes)]);
  for (const line of table([['state', 'files', 'size'], ...totals], [1, 2])) ctx.out('  ' + line);
  if (!report.rows.length) return 0;
  ctx.out('by user / workflow / state:');
  const rows = report.rows.map((r) => [r.user, r.workflow, r.state, r.files, formatSize(r.bytes)]);
  for (const line of table([['user', 'workflow', 'state', 'files', 'size'], ...rows], [3, 4])) ctx.out('  ' + line);
  return 0;
}
