/**
 * Quota enforcement in the scheduler: before a pass, the waiting (`new`) transfers of each user
 * with a quota are admitted in queue order while the user's usage (catalogue replicas + transfers
 * already admitted: acquired, submitted, retry) stays within it; the others fail at once with a
 * `quota:` reason (the user may ask for a retry once space is freed). Jobs that PUT transfers
 * directly are caught here; `couchstage submit` refuses before writing.
 */
import type { QuotaDoc, TransferDoc } from '../../views/schema';
import { TransferMachine, TransferState, isTerminal } from '../../views/schema';
import { saveAll } from '../platform/bulk';
import { addUsage, catalogUsage, quotaProblem, readQuotas, type Usage } from '../lib/quota';
import type { AgentContext } from '../lib/runner';
import type { SlimTransfer, Tracker } from '../lib/tracker';
import { withAttempt } from '../lib/transition';
import { head } from './effects';

/** Quota documents are re-read at most this often (ms): a change applies within seconds. */
const QUOTA_REFRESH_MS = 5_000;

/** Pure: which waiting transfers of one user exceed the quota, with the reason for each. */
export function overQuota(
  quota: QuotaDoc,
  catalog: Usage,
  admitted: readonly SlimTransfer[],
  waiting: readonly SlimTransfer[],
): Map<string, string> {
  let used = admitted.reduce((u, t) => addUsage(u, { bytes: t.size, files: 1 }), catalog);
  const out = new Map<string, string>();
  for (const t of waiting) {
    const why = quotaProblem(quota, used, { bytes: t.size, files: 1 });
    if (why) out.set(t.id, why);
    else used = addUsage(used, { bytes: t.size, files: 1 });
  }
  return out;
}

export class QuotaGuard {
  private quotas = new Map<string, QuotaDoc>();
  private readAt = 0;
  /** Catalogue usage per user, re-read after QUOTA_REFRESH_MS: a Mango scan is too dear per tick. */
  private usage = new Map<string, { at: number; usage: Usage }>();

  async enforce(ctx: AgentContext, tracker: Tracker): Promise<number> {
    if (Date.now() - this.readAt > QUOTA_REFRESH_MS) {
      this.quotas = await readQuotas(ctx.db('catalog'));
      this.readAt = Date.now();
    }
    if (!this.quotas.size) return 0;
    const waiting = new Map<string, SlimTransfer[]>();
    const admitted = new Map<string, SlimTransfer[]>();
    for (const t of tracker.transfers.values()) {
      if (!this.quotas.has(t.user) || isTerminal(t.state)) continue;
      const into = t.state === TransferState.new && !t.kill_requested ? waiting : admitted;
      const list = into.get(t.user) || [];
      list.push(t);
      into.set(t.user, list);
    }
    const reasons = new Map<string, string>();
    for (const [user, list] of waiting) {
      let cached = this.usage.get(user);
      if (!cached || Date.now() - cached.at > QUOTA_REFRESH_MS) {
        cached = { at: Date.now(), usage: await catalogUsage(ctx.db('catalog'), user) };
        this.usage.set(user, cached);
      }
      const usage = cached.usage;
      const over = overQuota(this.quotas.get(user)!, usage, admitted.get(user) || [], head(list, list.length));
      for (const [id, why] of over) reasons.set(id, why);
    }
    if (!reasons.size) return 0;
    const now = ctx.now();
    const fail = (d: TransferDoc) =>
      d.state === TransferState.new && reasons.has(d._id)
        ? TransferMachine.transition(d, TransferState.failed, now, {
            failure_reason: reasons.get(d._id),
            finished_at: now.toISOString(),
            attempts: withAttempt(d, {
              at: now.toISOString(),
              error: reasons.get(d._id)!,
              error_class: 'fatal',
              transfer_job: null,
            }),
          })
        : null;
    const docs = [...reasons.keys()]
      .map((id) => tracker.waitingDocs.get(id))
      .filter((d): d is TransferDoc => !!d)
      .map(fail)
      .filter((d): d is TransferDoc => !!d);
    const res = await saveAll(ctx.db('transfers'), docs, fail, ctx.log);
    for (const d of res.saved) tracker.apply(d);
    if (res.saved.length) ctx.log.info('over quota: failed', { files: res.saved.length });
    return res.saved.length;
  }
}
