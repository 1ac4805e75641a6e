/**
 * `couchstage kill` and `couchstage retry`: set `kill_requested` / `retry_requested` on the
 * user's own transfers, by id or for a whole workflow, in one `_bulk_docs`. The agents act on the
 * flags; validate_doc_update decides who may set them, and its refusals are shown as they come.
 */
import { Views, type TransferDoc } from '../../../views/schema';
import { flagIneligible, type UserFlag } from '../../../views/lib/user-flags';
import { flag, UsageError, type Args } from '../../client/args';
import { whoami, type Context } from '../../client/context';
import { fetchDocs } from '../../../agents/platform/bulk';
import { docsOf, queryView } from '../../../agents/platform/docs';
import type { Db } from '../../../agents/platform/couch';

export type { UserFlag };

export interface FlagOutcome {
  readonly id: string;
  readonly result: 'requested' | 'skipped' | 'refused' | 'missing';
  readonly reason?: string;
}

const eligible = flagIneligible;

async function selectDocs(ctx: Context, args: Args): Promise<{ docs: (TransferDoc | null)[]; ids: string[] }> {
  const db: Db = ctx.server.use(ctx.cfg.dbs.transfers);
  const workflow = flag(args, 'workflow');
  if (workflow) {
    const user = flag(args, 'user') || (await whoami(ctx)).name;
    if (!user) throw new UsageError('--workflow needs --user or a signed-in user');
    const rows = await queryView<unknown[], unknown, TransferDoc>(db, Views.byUser.ddoc, Views.byUser.name, {
      reduce: false,
      include_docs: true,
      startkey: [user, workflow],
      endkey: [user, workflow, {}],
    });
    const docs = docsOf<TransferDoc>(rows);
    // An empty answer is a misspelt name or someone else's workflow, never "nothing to do".
    if (!docs.length) throw new Error(`no workflow ${workflow} for user ${user}`);
    return { docs, ids: docs.map((d) => d._id) };
  }
  const ids = args.positional;
  if (!ids.length) throw new UsageError('give transfer ids, or --workflow W');
  const found = await fetchDocs<TransferDoc>(db, ids);
  return { docs: ids.map((id) => found.get(id) ?? null), ids };
}

export async function setUserFlag(ctx: Context, kind: UserFlag, args: Args): Promise<FlagOutcome[]> {
  const { docs, ids } = await selectDocs(ctx, args);
  const outcomes: FlagOutcome[] = [];
  const updates: TransferDoc[] = [];
  docs.forEach((doc, i) => {
    if (!doc) return outcomes.push({ id: ids[i], result: 'missing', reason: 'no such transfer' });
    const why = eligible(kind, doc);
    if (why) return outcomes.push({ id: doc._id, result: 'skipped', reason: why });
    updates.push({ ...doc, [kind === 'kill' ? 'kill_requested' : 'retry_requested']: true });
  });
  if (updates.length) {
    const res = await ctx.server.use(ctx.cfg.dbs.transfers).bulk({ docs: updates });
    // By id, not by position: the embedded server answers refused documents first.
    res.forEach((r, i) =>
      outcomes.push(
        r.error
          ? { id: r.id || updates[i]._id, result: 'refused', reason: `${r.error}: ${r.reason}` }
          : { id: r.id || updates[i]._id, result: 'requested' },
      ),
    );
  }
  return outcomes;
}

/** "3 done, 2 new": a skip reason without its explanation, which is the same on every line. */
function shortReason(reason: string | undefined): string {
  return (reason || 'unchanged').split(';')[0].replace(/^is /, '');
}

export async function runUserFlag(ctx: Context, kind: UserFlag, args: Args): Promise<number> {
  const outcomes = await setUserFlag(ctx, kind, args);
  if (ctx.json) ctx.out(JSON.stringify(outcomes, null, 2));
  else {
    // What changed (or should have and did not) line by line; what was left alone in one line,
    // so a workflow of thousands of done files does not bury the few retried ones.
    for (const o of outcomes)
      if (o.result !== 'skipped') ctx.out(`${o.result.padEnd(9)} ${o.id}${o.reason ? ': ' + o.reason : ''}`);
    const skipped = new Map<string, number>();
    for (const o of outcomes)
      if (o.result === 'skipped') skipped.set(shortReason(o.reason), (skipped.get(shortReason(o.reason)) || 0) + 1);
    const n = [...skipped.values()].reduce((a, b) => a + b, 0);
    if (n) ctx.out(`unchanged ${n}: ${[...skipped].map(([why, k]) => `${k} ${why}`).join(', ')}`);
  }
  return outcomes.some((o) => o.result === 'refused' || o.result === 'missing') ? 1 : 0;
}
