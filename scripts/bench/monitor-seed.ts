/**
 * Known transfer documents for the monitoring page's tests and benchmark: every state, four
 * failure reasons, publication states, finished times spread over a window, several users,
 * workflows and links. Deterministic from the index, so a test can recompute what it expects.
 * Written as a server admin (documents past `new` cannot be created by users).
 */
import { createHash } from 'crypto';
import { DocId, PUBLICATION_STATES, TransferMachine, TransferState, type TransferDoc } from '../../views/schema';
import type { Db } from '../../agents/platform/couch';

export const SEED_SITES = ['T2_CH_CERN', 'T2_IT_Pisa', 'T1_US_FNAL'] as const;

/** Config documents for the seeded sites (the page sets links to unconfigured sites apart). */
export function seedSiteDocs(): Record<string, unknown>[] {
  return SEED_SITES.map((name) => ({
    _id: DocId.site(name),
    type: 'site',
    name,
    endpoints: { root: `root://${name.toLowerCase()}.example:1094` },
    tfc: [{ protocol: 'root', path_match: '/+(.*)', result: `root://${name.toLowerCase()}.example:1094//$1` }],
  }));
}

const T = TransferState;

/** One cycle of 20 files: 9 done, 1 done to publish, 2 failed, 1 expired, 1 killed, 4 new, 1 acquired, 1 submitted. */
const CYCLE: readonly TransferState[] = [
  T.done,
  T.done,
  T.done,
  T.done,
  T.done,
  T.done,
  T.done,
  T.done,
  T.done,
  T.done,
  T.failed,
  T.failed,
  T.expired,
  T.killed,
  T.new,
  T.new,
  T.new,
  T.new,
  T.acquired,
  T.submitted,
];
export const FAILURE_REASONS = [
  'checksum mismatch: expected 0badcafe, source has 12345678',
  'no such file or directory (source)',
  'permission denied on destination',
  'connection refused',
] as const;

export interface SeedOptions {
  readonly users: readonly string[];
  readonly n: number;
  readonly workflowsPerUser: number;
  /** Finished times spread evenly over this many seconds before `now`. */
  readonly spreadSeconds: number;
  readonly now: Date;
  /** Prefix of workflow names. */
  readonly tag?: string;
}

export function lfnId(lfn: string): string {
  return createHash('sha224').update(lfn).digest('hex');
}

export function seedDoc(i: number, o: SeedOptions): TransferDoc {
  const user = o.users[i % o.users.length];
  const workflow = `${o.tag || 'wf'}${Math.floor(i / o.users.length) % o.workflowsPerUser}`;
  const state = CYCLE[Math.floor(i / o.users.length) % CYCLE.length];
  const publish = Math.floor(i / o.users.length) % CYCLE.length === 9;
  const source = SEED_SITES[i % 3];
  const destination = SEED_SITES[(i + 1 + (i % 2)) % 3];
  const lfn = `/store/temp/user/${user}/${workflow}/out_${i}.root`;
  const finished = new Date(o.now.getTime() - Math.floor((i * 7919) % (o.spreadSeconds * 1000))).toISOString();
  const terminal = TransferMachine.isTerminal(state);
  const reason =
    state === T.failed
      ? FAILURE_REASONS[i % FAILURE_REASONS.length]
      : state === T.expired
        ? 'waited more than 604800 s without starting'
        : state === T.killed
          ? 'killed on request'
          : null;
  const doc: Record<string, unknown> = {
    _id: lfnId(lfn),
    type: 'transfer',
    user,
    workflow,
    jobid: String(i),
    job_retry_count: 0,
    file_type: 'output',
    source,
    destination,
    source_lfn: lfn,
    destination_lfn: lfn.replace('/store/temp/user/', '/store/user/'),
    size: 1000 + (i % 97) * 100,
    checksums: { adler32: '0badcafe' },
    publish,
    priority: 3,
    state,
    created_at: new Date(o.now.getTime() - o.spreadSeconds * 1000 - 60_000).toISOString(),
  };
  if (publish) {
    doc.dataset = '/Demo/seed-v1/USER';
    doc.publication_state = PUBLICATION_STATES[i % PUBLICATION_STATES.length];
  }
  if (state === T.done || state === T.failed) {
    doc.attempts = [
      { at: finished, error: reason, error_class: state === T.failed ? 'fatal' : null, transfer_job: null },
    ];
  }
  if (terminal) {
    doc.finished_at = finished;
    doc.failure_reason = reason;
  }
  return doc as unknown as TransferDoc;
}

/** Writes `o.n` seed documents with `_bulk_docs` in batches (admin database handle). */
export async function seedTransfers(db: Db, o: SeedOptions, batch = 2000, from = 0): Promise<TransferDoc[]> {
  const all: TransferDoc[] = [];
  for (let i = from; i < from + o.n; i += batch) {
    const docs: TransferDoc[] = [];
    for (let j = i; j < Math.min(from + o.n, i + batch); j++) docs.push(seedDoc(j, o));
    const res = await db.bulk({ docs: docs });
    const bad = res.find((r) => r.error);
    if (bad) throw new Error(`seed: ${bad.id}: ${bad.error} ${bad.reason}`);
    all.push(...docs);
  }
  return all;
}
