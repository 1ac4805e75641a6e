/**
 * What an operator asks of an edge: how many documents wait to reach central (the backlog), how
 * long the oldest of them has waited, and when the push last succeeded. Measured, not estimated
 * from sequence numbers (CouchDB's are opaque strings): the edge's `_changes` since a confirmed
 * sequence, each transfer of the edge's sites asked of central with `_revs_diff`; what central
 * lacks is the backlog. With central unreachable, everything since the confirmed sequence counts.
 * The confirmed sequence and the last success are kept in the edge's `service` database
 * (`_local/couchstage-edge`: members of `transfers`, the site's users, cannot write it), so they
 * survive restarts and `couchstage edge status` reads them without the edge process.
 */
import { authParts, fetchChanges } from '../../agents/platform/couch';
import { DocType } from '../../views/schema';
import { http } from '../ops/http';

export const STATE_ID = '_local/couchstage-edge';

export interface EdgeState {
  readonly confirmed_seq: string | number;
  readonly last_ok_at: string | null;
}

export interface EdgeFigures {
  readonly backlog: number;
  /** Seconds since the oldest waiting document was submitted (its created_at); null with no backlog. */
  readonly oldestWaitingSeconds: number | null;
  readonly lastOkAt: string | null;
  readonly centralReachable: boolean;
}

export interface EdgeEnds {
  /** The edge's store with its admin's credentials, and its transfers and service databases. */
  readonly local: { readonly url: string; readonly transfers: string; readonly service: string };
  /** Central with the edge account's credentials (null: not asked, e.g. a status without the WAN). */
  readonly central: { readonly url: string; readonly transfers: string } | null;
  readonly sites: readonly string[];
}

export async function readState(ends: EdgeEnds): Promise<EdgeState & { _rev?: string }> {
  const a = await http<EdgeState & { _rev?: string }>(
    ends.local.url,
    'GET',
    `/${encodeURIComponent(ends.local.service)}/${STATE_ID}`,
  );
  if (a.status === 200) return a.body;
  return { confirmed_seq: 0, last_ok_at: null };
}

export async function writeState(ends: EdgeEnds, state: EdgeState): Promise<void> {
  const path = `/${encodeURIComponent(ends.local.service)}/${STATE_ID}`;
  const now = await readState(ends);
  await http(ends.local.url, 'PUT', path, { body: { ...state, ...(now._rev ? { _rev: now._rev } : {}) } });
}

type Waiting = { seq: string | number; id: string; rev: string; created_at?: unknown };

/** The edge's transfers changed since `since`, in feed order. */
async function changedSince(
  ends: EdgeEnds,
  since: string | number,
): Promise<{ rows: Waiting[]; last: string | number }> {
  const rows: Waiting[] = [];
  let last = since;
  for (;;) {
    const page = await fetchChanges<{ type?: string; source?: string; created_at?: unknown }>(
      ends.local.url,
      ends.local.transfers,
      { since: last, limit: 2000, include_docs: true },
    );
    for (const r of page.results) {
      const d = r.doc;
      if (!d || r.deleted || d.type !== DocType.transfer || !ends.sites.includes(String(d.source))) continue;
      rows.push({ seq: r.seq, id: r.id, rev: r.changes[0].rev, created_at: d.created_at });
    }
    last = page.last_seq;
    if (page.results.length < 2000) return { rows, last };
  }
}

/** Which of `rows` central lacks (their current revision); throws when central cannot be reached. */
async function missingCentrally(ends: EdgeEnds, rows: readonly Waiting[]): Promise<Set<string>> {
  const central = ends.central!;
  const missing = new Set<string>();
  for (let i = 0; i < rows.length; i += 1000) {
    const body: Record<string, string[]> = {};
    for (const r of rows.slice(i, i + 1000)) body[r.id] = [r.rev];
    const { base, headers } = authParts(central.url);
    const res = await fetch(`${base}/${encodeURIComponent(central.transfers)}/_revs_diff`, {
      method: 'POST',
      headers: { ...headers, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    if (!res.ok) throw new Error(`_revs_diff on central: ${res.status}`);
    const answer = (await res.json()) as Record<string, { missing?: string[] }>;
    for (const [id, v] of Object.entries(answer)) if (v.missing && v.missing.length) missing.add(id);
  }
  return missing;
}

/** Measures the backlog; returns the figures and the state to keep (a later confirmed sequence). */
export async function measure(ends: EdgeEnds, state: EdgeState): Promise<{ figures: EdgeFigures; state: EdgeState }> {
  const { rows, last } = await changedSince(ends, state.confirmed_seq);
  let missing: Set<string> | null = null;
  if (ends.central) missing = await missingCentrally(ends, rows).catch(() => null);
  const waiting = missing ? rows.filter((r) => missing.has(r.id)) : rows;
  // Confirmed up to the change before the first that still waits: the next measure starts there.
  let confirmed: string | number = state.confirmed_seq;
  if (missing) {
    const firstWaiting = rows.findIndex((r) => missing.has(r.id));
    confirmed = firstWaiting < 0 ? last : firstWaiting === 0 ? state.confirmed_seq : rows[firstWaiting - 1].seq;
  }
  const created = waiting.map((r) => Date.parse(String(r.created_at))).filter((t) => Number.isFinite(t));
  const oldest = created.length ? Math.max(0, (Date.now() - Math.min(...created)) / 1000) : null;
  const lastOkAt = missing && waiting.length === 0 ? new Date().toISOString() : state.last_ok_at;
  return {
    figures: { backlog: waiting.length, oldestWaitingSeconds: oldest, lastOkAt, centralReachable: missing !== null },
    state: { confirmed_seq: confirmed, last_ok_at: lastOkAt },
  };
}
