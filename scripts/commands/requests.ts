/**
 * `couchstage kill` and `couchstage retry`: set `kill_requested` / `retry_requested` on the
 * user's own transfers, by id or for a whole workflow, in one `_bulk_docs`. The agents act on the
 * flags; validate_doc_update decides who may set them, and its refusals are shown as they come.
 */
import type { TransferDoc } from '../../views/schema';
import { requestIneligible, type RequestKind } from '../../views/lib/requests';
import { flag, UsageError, type Args } from './args';
import { whoami, type Context } from './context';

export type { RequestKind };

export interface RequestOutcome {
  readonly id: string;
  readonly result: 'requested' | 'skipped' | 'refused' | 'missing';
  readonly reason?: string;
}

const eligible = requestIneligible;

async function selectDocs(ctx: Context, args: Args): Promise<{ docs: (TransferDoc | null)[]; ids: string[] }> {
  const db = ctx.server.use(ctx.cfg.dbs.transfers);
  const workflow = flag(args, 'workflow');
  if (workflow) {
    const user = flag(args, 'user') || (await whoami(ctx)).name;
    if (!user) throw new UsageError('--workflow needs --user or a signed-in user');
    const res = await db.view('monitor', 'by_user', { reduce: false, include_docs: true, startkey: [user, workflow], endkey: [user, workflow, {}] } as never);
    const docs = res.rows.map((r) => r.doc as unknown as TransferDoc);
    return { docs, ids: docs.map((d) => d._id) };
  }
  const ids = args.positional;
  if (!ids.length) throw new UsageError('give transfer ids, or --workflow W');
  const res = await db.fetch({ keys: ids });
  return { docs: res.rows.map((r) => ('doc' in r && r.doc ? (r.doc as unknown as TransferDoc) : null)), ids };
}

export async function request(ctx: Context, kind: RequestKind, args: Args): Promise<RequestOutcome[]> {
  const { docs, ids } = await selectDocs(ctx, args);
  const outcomes: RequestOutcome[] = [];
  const updates: TransferDoc[] = [];
  docs.forEach((doc, i) => {
    if (!doc) return outcomes.push({ id: ids[i], result: 'missing', reason: 'no such transfer' });
    const why = eligible(kind, doc);
    if (why) return outcomes.push({ id: doc._id, result: 'skipped', reason: why });
    updates.push({ ...doc, [kind === 'kill' ? 'kill_requested' : 'retry_requested']: true });
  });
  if (updates.length) {
    const res = await ctx.server.use(ctx.cfg.dbs.transfers).bulk({ docs: updates as never[] });
    // By id, not by position: the embedded server answers refused documents first.
    res.forEach((r, i) => outcomes.push(r.error
      ? { id: r.id || updates[i]._id, result: 'refused', reason: `${r.error}: ${r.reason}` }
      : { id: r.id || updates[i]._id, result: 'requested' }));
  }
  return outcomes;
}

export async function runRequest(ctx: Context, kind: RequestKind, args: Args): Promise<number> {
  const outcomes = await request(ctx, kind, args);
  if (ctx.json) ctx.out(JSON.stringify(outcomes, null, 2));
  else for (const o of outcomes) ctx.out(`${o.result.padEnd(9)} ${o.id}${o.reason ? ': ' + o.reason : ''}`);
  return outcomes.some((o) => o.result === 'refused' || o.result === 'missing') ? 1 : 0;
}
