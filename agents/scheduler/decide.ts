/**
 * The scheduler's decision, pure (no I/O): given the waiting transfers per link and user, each
 * link's active count and the configuration, which transfer jobs to create, which files they
 * acquire and which files fail at once (no site or TFC rule).
 *
 * Fair share: a link's free slots are split evenly between the users waiting on it (round robin),
 * so one user's 100k files cannot starve another's 10; within a user, higher priority first, then
 * oldest first (the queue view's order). Jobs hold at most `max_files_per_transfer` files of one
 * user on one link with one protocol.
 */
import { createHash } from 'crypto';
import {
  DocId,
  TransferJobMachine,
  TransferMachine,
  TransferState,
  type Settings,
  type SiteDoc,
  type TransferDoc,
  type TransferJobDoc,
  type TransferJobFile,
} from '../../views/schema';
import { transferPfns } from '../lib/pfn';
import { withAttempt } from '../lib/transition';

export interface LinkQueue {
  readonly source: string;
  readonly destination: string;
  /** Waiting files per user, in queue order; may be a prefix of the user's queue. */
  readonly users: ReadonlyMap<string, readonly TransferDoc[]>;
  readonly active: number;
  readonly maxActive: number;
  readonly mode: 'stream' | 'tpc';
  /** Users whose list above was cut at the read limit: they may have more waiting. */
  readonly truncated: ReadonlySet<string>;
}

export interface SchedulePlan {
  readonly jobs: TransferJobDoc[];
  /** new -> acquired, each naming its job. */
  readonly acquire: TransferDoc[];
  /** new -> failed: no site or TFC rule. */
  readonly fail: TransferDoc[];
  /** Some link still has waiting files and free slots (the queue prefixes were too short). */
  readonly more: boolean;
}

/** Splits `slots` between users with `wanted[i]` files each, round robin. */
export function fairShare(slots: number, wanted: readonly number[]): number[] {
  const got = wanted.map(() => 0);
  let left = slots;
  let progress = true;
  while (left > 0 && progress) {
    progress = false;
    for (let i = 0; i < wanted.length && left > 0; i++) {
      if (got[i] < wanted[i]) {
        got[i]++;
        left--;
        progress = true;
      }
    }
  }
  return got;
}

export function jobId(files: readonly TransferDoc[]): string {
  const h = createHash('sha224');
  for (const f of files) h.update(`${f._id}@${f._rev}\n`);
  return DocId.job(h.digest('hex'));
}

export function planLink(
  q: LinkQueue,
  sites: ReadonlyMap<string, SiteDoc>,
  settings: Settings,
  now: Date,
): SchedulePlan {
  const jobs: TransferJobDoc[] = [];
  const acquire: TransferDoc[] = [];
  const fail: TransferDoc[] = [];
  const users = [...q.users.keys()].sort();
  const free = Math.max(0, q.maxActive - q.active);
  const shares = fairShare(
    free,
    users.map((u) => q.users.get(u)!.length),
  );
  const iso = now.toISOString();
  let more = false;
  users.forEach((user, i) => {
    const waiting = q.users.get(user)!;
    // Every file read for this user got a slot and there may be more behind them: come back now.
    if (shares[i] === waiting.length && q.truncated.has(user) && shares.reduce((a, b) => a + b, 0) < free) more = true;
    const chosen = waiting.slice(0, shares[i]);
    const byProtocol = new Map<string, { doc: TransferDoc; file: TransferJobFile }[]>();
    for (const doc of chosen) {
      const pfn = transferPfns(doc, sites);
      if (!pfn.ok) {
        fail.push(
          TransferMachine.transition(doc, TransferState.failed, now, {
            failure_reason: pfn.reason,
            finished_at: iso,
            attempts: withAttempt(doc, { at: iso, error: pfn.reason, error_class: 'fatal', transfer_job: null }),
          }),
        );
        continue;
      }
      const list = byProtocol.get(pfn.protocol) || [];
      list.push({ doc, file: { id: doc._id, source_pfn: pfn.source_pfn, destination_pfn: pfn.destination_pfn } });
      byProtocol.set(pfn.protocol, list);
    }
    for (const [protocol, list] of byProtocol) {
      for (let k = 0; k < list.length; k += settings.max_files_per_transfer) {
        const part = list.slice(k, k + settings.max_files_per_transfer);
        const id = jobId(part.map((p) => p.doc));
        jobs.push({
          _id: id,
          type: 'transfer_job',
          user,
          source: q.source,
          destination: q.destination,
          protocol,
          mode: q.mode,
          files: part.map((p) => p.file),
          state: TransferJobMachine.initial,
          created_at: iso,
          lease: null,
          claims: 0,
        });
        for (const p of part)
          acquire.push(TransferMachine.transition(p.doc, TransferState.acquired, now, { transfer_job: id }));
      }
    }
  });
  return { jobs, acquire, fail, more };
}

export function planSchedule(
  queues: readonly LinkQueue[],
  sites: ReadonlyMap<string, SiteDoc>,
  settings: Settings,
  now: Date,
): SchedulePlan {
  const out = { jobs: [] as TransferJobDoc[], acquire: [] as TransferDoc[], fail: [] as TransferDoc[], more: false };
  for (const q of queues) {
    const p = planLink(q, sites, settings, now);
    out.jobs.push(...p.jobs);
    out.acquire.push(...p.acquire);
    out.fail.push(...p.fail);
    out.more = out.more || p.more;
  }
  return out;
}
