/**
 * What the monitoring page counts, in one place: the keys of the `overview` view and the
 * roll-up the `stats` agent maintains are both computed here, so the two never disagree
 * (ARCHITECTURE: nothing the page shows is computed twice). Compiles into CouchDB's JS engine
 * (inlined into the map function by esbuild): no Node APIs, ES2017.
 *
 * Keys (value: the file's size in bytes; reduce `_stats` gives files = count, bytes = sum):
 *   ["link", source, destination, state]            per link and state
 *   ["time", done|failed, "YYYY-MM-DD", "HH", "MM", source, destination]
 *                                                   finished files per minute (UTC, finished_at);
 *                                                   group_level 3 = day, 4 = hour, 5 = minute,
 *                                                   7 = per link (throughput)
 *   ["fail", reason class, user, workflow]          failed/expired/killed files by classified reason
 *   ["pub", user, workflow, publication state]      done files to publish, by publication state
 *   ["wf", user, workflow]                          value: submission time (epoch seconds), not
 *                                                   bytes; `max` = the workflow's newest file (the
 *                                                   page lists workflows newest first). View only:
 *                                                   the roll-up does not need it (workflowKey).
 * Overall state totals and per-user/per-workflow counts come from the `totals` and `by_user` views.
 */
import { DocType, PublicationMachine, TransferMachine, TransferState, type TransferDoc } from '../schema';

/** Namespaces of the overview view's keys (first key element). */
export const OverviewKind = { link: 'link', time: 'time', fail: 'fail', pub: 'pub', wf: 'wf' } as const;

/**
 * Failure reasons grouped into classes a user can act on. Ordered: the first matching rule wins.
 * Free-text reasons come from the backends (agents/backends/errors.ts wording), the scheduler
 * (agents/lib/pfn.ts) and the retrier (expiry, kill).
 */
export const REASON_CLASSES: ReadonlyArray<readonly [string, RegExp]> = [
  ['killed on request', /killed on request/i],
  ['expired waiting', /waited more than/i],
  ['checksum mismatch', /checksum (mismatch|error)/i],
  ['source missing', /no such file|does not exist|not found|ENOENT/i],
  ['permission denied', /permission denied|not permitted|not authori[sz]ed|EACCES|EPERM/i],
  ['no space or quota', /no space|quota/i],
  ['no TFC rule or site', /TFC rule|is not configured|no common storage protocol/i],
  ['timeout', /timed? ?out/i],
  ['connection refused or unreachable', /refused|unreachable|connection reset/i],
  ['storage helper crashed', /helper died|crashed|cancel+ed/i],
  ['unsupported URL', /unsupported protocol|protocol not supported|invalid url/i],
];
export const OTHER_REASON = 'other';

export function classifyReason(reason: string | null | undefined): string {
  const text = reason || '';
  for (let i = 0; i < REASON_CLASSES.length; i++) if (REASON_CLASSES[i][1].test(text)) return REASON_CLASSES[i][0];
  return OTHER_REASON;
}

/** States whose files count as failures on the failures page. */
export const FAILURE_STATES: readonly string[] = TransferMachine.groups.failure;

function pad(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

/** ["YYYY-MM-DD", "HH", "MM"] in UTC, or null for a missing or unparsable time. */
export function timeBucket(iso: string | null | undefined): [string, string, string] | null {
  if (!iso) return null;
  const d = new Date(iso);
  const t = d.getTime();
  if (t !== t) return null;
  return [
    d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()),
    pad(d.getUTCHours()),
    pad(d.getUTCMinutes()),
  ];
}

export type OverviewKey = readonly (string | null)[];

/** Every [key, bytes] the overview view emits for one document (none for non-transfers). */
export function overviewKeys(doc: TransferDoc): Array<[OverviewKey, number]> {
  const out: Array<[OverviewKey, number]> = [];
  if (!doc || doc.type !== DocType.transfer) return out;
  const size = typeof doc.size === 'number' ? doc.size : 0;
  out.push([[OverviewKind.link, doc.source, doc.destination, doc.state], size]);
  if (doc.state === TransferState.done || doc.state === TransferState.failed) {
    const b = timeBucket(doc.finished_at);
    if (b) out.push([[OverviewKind.time, doc.state, b[0], b[1], b[2], doc.source, doc.destination], size]);
  }
  if (FAILURE_STATES.indexOf(doc.state) >= 0) {
    out.push([[OverviewKind.fail, classifyReason(doc.failure_reason), doc.user, doc.workflow], size]);
  }
  if (doc.publish && doc.state === TransferState.done) {
    out.push([[OverviewKind.pub, doc.user, doc.workflow, doc.publication_state || PublicationMachine.initial], size]);
  }
  return out;
}

/** The ["wf", user, workflow] row with the file's submission time in seconds; null without one. */
export function workflowKey(doc: TransferDoc): [OverviewKey, number] | null {
  if (!doc || doc.type !== DocType.transfer || typeof doc.created_at !== 'string') return null;
  const t = Date.parse(doc.created_at);
  return t === t ? [[OverviewKind.wf, doc.user, doc.workflow], Math.floor(t / 1000)] : null;
}
