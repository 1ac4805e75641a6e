/**
 * `couchstage status [--user U] [--workflow W] [--json]`: files and bytes per state, from the
 * monitor views (the same numbers the page shows).
 */
import { TRANSFER_STATES, type TransferState } from '../../views/schema';
import { flag, UsageError, type Args } from './args';
import type { Context } from './context';

interface StatsRow { key: [string, string, TransferState]; value: { count: number; sum: number } }

export interface StatusReport {
  readonly user: string | null;
  readonly workflow: string | null;
  readonly states: Record<TransferState, { files: number; bytes: number }>;
  readonly rows: { user: string; workflow: string; state: TransferState; files: number; bytes: number }[];
}

export async function status(ctx: Context, user: string | null, workflow: string | null): Promise<StatusReport> {
  const db = ctx.server.use(ctx.cfg.dbs.transfers);
  const range = user === null ? {} : workflow === null
    ? { startkey: [user], endkey: [user, {}] }
    : { startkey: [user, workflow], endkey: [user, workflow, {}] };
  const res = (await db.view('monitor', 'by_user', { group_level: 3, ...range } as never)) as unknown as { rows: StatsRow[] };
  const states = Object.fromEntries(TRANSFER_STATES.map((s) => [s, { files: 0, bytes: 0 }])) as StatusReport['states'];
  const rows = res.rows.map((r) => ({ user: r.key[0], workflow: r.key[1], state: r.key[2], files: r.value.count, bytes: r.value.sum }));
  for (const r of rows) {
    if (!states[r.state]) continue;
    states[r.state].files += r.files;
    states[r.state].bytes += r.bytes;
  }
  return { user, workflow, states, rows };
}

export async function runStatus(ctx: Context, args: Args): Promise<number> {
  const user = flag(args, 'user') ?? null;
  const workflow = flag(args, 'workflow') ?? null;
  if (workflow !== null && user === null) throw new UsageError('--workflow needs --user');
  const report = await status(ctx, user, workflow);
  if (ctx.json) {
    ctx.out(JSON.stringify(report, null, 2));
    return 0;
  }
  ctx.out(`transfers${user ? ` of ${user}` : ''}${workflow ? ` in ${workflow}` : ''}`);
  for (const s of TRANSFER_STATES) {
    const v = report.states[s];
    ctx.out(`  ${s.padEnd(10)} ${String(v.files).padStart(8)} files ${String(v.bytes).padStart(16)} bytes`);
  }
  if (report.rows.length) ctx.out('by user / workflow / state:');
  for (const r of report.rows) ctx.out(`  ${r.user}  ${r.workflow}  ${r.state}  ${r.files} files  ${r.bytes} bytes`);
  return 0;
}
