/**
 * `couchstage files --workflow W [--state S] [--user U] [--json]`: a workflow's files, each with
 * its state and why it failed, which `status` only counts. The signed-in user's own workflow;
 * operators may name another user's: a failure reason can carry what only the owner should see
 * (a wrong checksum's reason names the source's adler32), so plain users are refused --user.
 */
import { Role, TRANSFER_STATES, Views, type TransferDoc, type TransferState } from '../../../views/schema';
import { flag, UsageError, type Args } from '../../client/args';
import { whoami, type Context } from '../../client/context';
import { formatSize, table } from './format';
import { queryView } from '../../../agents/platform/docs';
import type { Db } from '../../../agents/platform/couch';

/** One file as `--json` prints it (one object per line). */
export interface FileRow {
  readonly id: string;
  readonly state: TransferState;
  readonly size: number;
  readonly source_lfn: string;
  readonly destination_lfn: string;
  readonly failure_reason: string | null;
  readonly attempts: number;
  readonly last_update: string | null;
}

async function owner(ctx: Context, given: string | undefined): Promise<string> {
  const me = await whoami(ctx);
  if (given === undefined || given === me.name) {
    if (!me.name)
      throw new UsageError('not signed in: sign in (COUCHSTAGE_USER / --as), or as an operator give --user U');
    return me.name;
  }
  if (!me.roles.includes(Role.ops) && !me.roles.includes(Role.admin)) {
    throw new UsageError(`--user is for operators: ${me.name || 'an anonymous user'} sees only their own files`);
  }
  return given;
}

export async function workflowFiles(
  ctx: Context,
  user: string,
  workflow: string,
  state: TransferState | null,
): Promise<FileRow[] | null> {
  const db: Db = ctx.server.use(ctx.cfg.dbs.transfers);
  const view = (startkey: unknown[], endkey: unknown[]) =>
    queryView<unknown[], unknown, TransferDoc>(db, Views.byUser.ddoc, Views.byUser.name, {
      reduce: false,
      include_docs: true,
      startkey,
      endkey,
    });
  const res =
    state === null
      ? await view([user, workflow], [user, workflow, {}])
      : await view([user, workflow, state], [user, workflow, state, {}]);
  if (!res.length) {
    // Nothing in that state is an answer; nothing at all means there is no such workflow.
    if (state === null) return null;
    const any = await db.view(Views.byUser.ddoc, Views.byUser.name, {
      reduce: false,
      limit: 1,
      startkey: [user, workflow],
      endkey: [user, workflow, {}],
    });
    if (!any.rows.length) return null;
  }
  return res.map((r) => {
    const d = r.doc!;
    return {
      id: d._id,
      state: d.state,
      size: d.size,
      source_lfn: d.source_lfn,
      destination_lfn: d.destination_lfn,
      failure_reason: d.failure_reason ?? null,
      attempts: (d.attempts || []).length,
      last_update: d.last_update ?? null,
    };
  });
}

export async function runFiles(ctx: Context, args: Args): Promise<number> {
  const workflow = flag(args, 'workflow');
  if (!workflow) throw new UsageError('files needs --workflow W');
  const state = flag(args, 'state') ?? null;
  if (state !== null && !TRANSFER_STATES.includes(state as TransferState))
    throw new UsageError(`--state must be one of ${TRANSFER_STATES.join(', ')}`);
  const user = await owner(ctx, flag(args, 'user'));
  const rows = await workflowFiles(ctx, user, workflow, state as TransferState | null);
  if (rows === null) throw new Error(`no workflow ${workflow} for user ${user}`);
  if (ctx.json) {
    // JSON lines: a workflow of 100k files streams into jq or grep without one huge array.
    for (const r of rows) ctx.out(JSON.stringify(r));
    return 0;
  }
  if (!rows.length) {
    ctx.out(`no files of ${workflow} are ${state}`);
    return 0;
  }
  const lines = table(
    [
      ['state', 'size', 'attempts', 'destination_lfn', 'failure_reason'],
      ...rows.map((r) => [r.state, formatSize(r.size), r.attempts, r.destination_lfn, r.failure_reason || '']),
    ],
    [1, 2],
  );
  for (const l of lines) ctx.out(l.trimEnd());
  return 0;
}
