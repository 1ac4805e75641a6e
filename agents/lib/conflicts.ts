/**
 * Conflict resolution for `transfers`. On a CouchDB 3 cluster two writes based on the same
 * revision can both be accepted (on different nodes): the document then has several leaf
 * revisions (`_conflicts`) instead of one writer getting a 409. CouchDB picks a "winner" by
 * revision hash, which is arbitrary; we resolve by this written rule instead.
 *
 * THE RULE (pure, below; every instance resolving the same conflict picks the same winner):
 *
 * Transfers: the revision furthest along the lifecycle wins,
 *     done > failed > killed > expired > submitted > retry > acquired > new
 *   - done first: a done file was copied and verified; dropping that revision would copy it again
 *     (and could even publish it twice).
 *   - terminal states before the rest: no agent ever undoes a terminal state (only a user's retry
 *     does), so a terminal revision is the later truth; among them, failed and killed carry a
 *     reason and a history the user acts on, expired says only that nothing happened.
 *   - among the others, the order of the pipeline: submitted (a copy ran) > retry (one ended) >
 *     acquired (scheduled) > new.
 *   Ties: more attempts, then the later last_update, then the higher revision (by number, then by
 *   hash, as CouchDB orders leaves), which makes the choice total and deterministic.
 *   User requests are never lost: kill_requested set on ANY revision is carried into the winner
 *   when the winner is not terminal; retry_requested on any revision, or a resubmission served on
 *   a losing branch (its waiting_since is later than the winner's), is carried into a failed,
 *   killed or expired winner. A request that no longer applies (kill of a done file) is moot.
 *
 * Transfer jobs: done > active > queued; ties: the later lease expiry, then the higher revision.
 *
 * Leader locks and heartbeats (what agents write for themselves; no user request in them):
 * CouchDB's winner, the same on every node, stands and the other leaves are deleted. Two
 * instances that took `lock:<agent>` on different nodes both read that winner at their next
 * renewal, and the one whose lease lost stands by; a beat that lost is replaced by the next one.
 * Left unresolved, a lock kept its losing leaf for good (a node killed mid-write can leave one).
 *
 * THE WRITES (effects, agents/lib/conflict-effects.ts; planned here). validate_doc_update checks an
 * agent's write against the revision it edits (CouchDB passes that leaf, not the winner), so:
 *   1. The winner IS the current (CouchDB-chosen) revision: delete every other leaf; if requests
 *      were carried over, first write the merged winner on top of it.
 *   2. The current revision may legally move to the winner's content (the transitions table, e.g.
 *      acquired -> submitted): write the winner's content on top of the current revision, then
 *      delete every other leaf, the winner's own included. Writers holding the current revision
 *      (most agents: they read the winner) then get a plain 409 and re-read.
 *   3. Otherwise (a "jump", e.g. retry -> done): delete every other leaf, the current one
 *      included; the winner's leaf becomes current by itself. If requests were carried over, first
 *      write the merged winner on top of its own leaf (same state: always a legal move).
 *   Writes carry `resolved_conflict: <winner's revision>`; tombstones carry the revision that
 *   survived. validate_doc_update lets such a write carry the owner's requests over, and such a
 *   tombstone delete a non-terminal revision (see views/transfers/validate_doc_update.ts).
 *   The write goes first and the tombstones only once it is stored: one `_bulk_docs` is not atomic
 *   (CouchDB 3 has no all_or_nothing), and deleting the branch that holds the winner or a user's
 *   request while the write carrying it meets a 409 would lose it. When no write is needed the
 *   tombstones are the one `_bulk_docs`. A replay finds no `_conflicts` and writes nothing.
 */
import validateTransfers from '../../views/transfers/validate_doc_update';
import {
  Role,
  TransferJobMachine,
  TransferMachine,
  ofHeartbeat,
  ofLock,
  ofTransfer,
  ofTransferJob,
  type HeartbeatDoc,
  type LockDoc,
  type TransferDoc,
  type TransferJobDoc,
  type TransferJobState,
  type TransferState,
} from '../../views/schema';
import { sameJson } from '../../views/lib/vdu';

/** The machines' conflict ranks (views/schema/machines.ts): higher wins. */
export const TRANSFER_RANK: Readonly<Record<TransferState, number>> = TransferMachine.ranks;
export const JOB_RANK: Readonly<Record<TransferJobState, number>> = TransferJobMachine.ranks;

export interface Resolved<D> {
  /** The winning revision's content, with carried-over requests; its `_rev` is the winning leaf. */
  readonly winner: D;
  /** Every other revision given, in CouchDB's order. */
  readonly losers: string[];
}

type Revisioned = { readonly _id: string; readonly _rev?: string };

function splitRev(rev: string | undefined): [number, string] {
  const s = rev || '0-';
  const i = s.indexOf('-');
  return [parseInt(s.slice(0, i), 10) || 0, s.slice(i + 1)];
}

/** CouchDB's order of leaf revisions: by number, then by hash. */
export function compareRevs(a: string | undefined, b: string | undefined): number {
  const [na, ha] = splitRev(a);
  const [nb, hb] = splitRev(b);
  if (na !== nb) return na - nb;
  return ha < hb ? -1 : ha > hb ? 1 : 0;
}

function time(iso: string | null | undefined): number {
  const t = iso ? Date.parse(iso) : NaN;
  return isNaN(t) ? -Infinity : t;
}

function compareNumbers(a: number, b: number): number {
  return a === b ? 0 : a < b ? -1 : 1;
}

/** > 0 when `a` beats `b`. */
export function compareTransfers(a: TransferDoc, b: TransferDoc): number {
  return (
    compareNumbers(TRANSFER_RANK[a.state] ?? -1, TRANSFER_RANK[b.state] ?? -1) ||
    compareNumbers((a.attempts || []).length, (b.attempts || []).length) ||
    compareNumbers(time(a.last_update), time(b.last_update)) ||
    compareRevs(a._rev, b._rev)
  );
}

export function compareJobs(a: TransferJobDoc, b: TransferJobDoc): number {
  return (
    compareNumbers(JOB_RANK[a.state] ?? -1, JOB_RANK[b.state] ?? -1) ||
    compareNumbers(time(a.lease?.expires_at), time(b.lease?.expires_at)) ||
    compareRevs(a._rev, b._rev)
  );
}

function best<D extends Revisioned>(revisions: readonly D[], compare: (a: D, b: D) => number, what: string): D {
  if (!revisions.length) throw new Error(`${what}: no revisions to choose from`);
  return revisions.reduce((a, b) => (compare(b, a) > 0 ? b : a));
}

/** The other revisions, in CouchDB's order (the answer does not depend on the input's order). */
function others(revisions: readonly Revisioned[], winner: Revisioned): string[] {
  return [...new Set(revisions.map((r) => r._rev as string).filter((r) => r !== winner._rev))].sort(compareRevs);
}

export function resolveTransfer(revisions: TransferDoc[]): Resolved<TransferDoc> {
  const top = best(revisions, compareTransfers, 'resolveTransfer');
  const kill =
    !top.kill_requested && !TransferMachine.isTerminal(top.state) && revisions.some((r) => r.kill_requested === true);
  const since = time(top.waiting_since);
  const retry =
    !top.retry_requested &&
    TransferMachine.inGroup('retryable', top.state) &&
    revisions.some((r) => r.retry_requested === true || time(r.waiting_since) > since);
  const winner: TransferDoc = {
    ...top,
    ...(kill ? { kill_requested: true } : {}),
    ...(retry ? { retry_requested: true } : {}),
  };
  return { winner, losers: others(revisions, top) };
}

export function resolveJob(revisions: TransferJobDoc[]): Resolved<TransferJobDoc> {
  const top = best(revisions, compareJobs, 'resolveJob');
  return { winner: top, losers: others(revisions, top) };
}

/** What to write, in order: `write` (if any, on the leaf its `_rev` names), then the tombstones. */
export interface ResolutionPlan<D> {
  /** The document's content once resolved (before the write gets its new revision). */
  readonly winner: D;
  /** A new revision on top of an existing leaf, or null when deleting the others suffices. */
  readonly write: D | null;
  /** Leaf revisions to delete once the write is stored. */
  readonly remove: string[];
}

/** Fields of a read that are not part of a document's content. */
const READ_ONLY_FIELDS = ['_conflicts', '_deleted_conflicts', '_revisions', '_revs_info', '_local_seq'];

export function bodyOf<D extends object>(doc: D): D {
  const out = { ...doc };
  for (const f of READ_ONLY_FIELDS) Reflect.deleteProperty(out, f);
  return out;
}

/**
 * Plans the writes for one conflicted document: `current` is the revision CouchDB serves now,
 * `revisions` every live leaf (current included). `mayWrite(next, base)`: would the server take
 * `next` on top of `base` from an agent (validate_doc_update, see `agentMayWrite`)?
 */
export function planResolution<D extends Revisioned>(
  current: D,
  revisions: readonly D[],
  resolve: (r: D[]) => Resolved<D>,
  mayWrite: (next: D, base: D) => boolean,
): ResolutionPlan<D> {
  const all = revisions.some((r) => r._rev === current._rev) ? [...revisions] : [current, ...revisions];
  const { winner: merged, losers } = resolve(all.map(bodyOf));
  const winner = bodyOf(merged);
  const original = bodyOf(all.find((r) => r._rev === winner._rev)!);
  const changed = !sameJson(winner, original);
  const marked = { ...winner, resolved_conflict: winner._rev } as D;
  if (winner._rev === current._rev) return { winner, write: changed ? marked : null, remove: losers };
  const onCurrent = { ...marked, _rev: current._rev } as D;
  if (mayWrite(onCurrent, bodyOf(current))) {
    return { winner, write: onCurrent, remove: all.map((r) => r._rev as string).filter((r) => r !== current._rev) };
  }
  return { winner, write: changed ? marked : null, remove: losers };
}

const AGENT = { name: 'couchstage-conflicts', roles: [Role.agent] };

/** Whether validate_doc_update accepts `next` on top of `base` from an agent. */
export function agentMayWrite(next: Revisioned, base: Revisioned): boolean {
  try {
    // Shallow copies: validate_doc_update reads any field by name, which a document's own type does not allow.
    validateTransfers({ ...next }, { ...base }, AGENT, {});
    return true;
  } catch {
    return false;
  }
}

export type Json = Record<string, unknown> & { _id: string; _rev?: string };

/** The kinds this rule resolves. */
export type Resolvable = TransferDoc | TransferJobDoc | LockDoc | HeartbeatDoc;

/**
 * The plan for one conflicted document of a kind this rule resolves, with any stray revision of
 * another type deleted too; null for other kinds.
 */
export function planFor(current: Json, revisions: readonly Json[]): ResolutionPlan<Resolvable> | null {
  const strays = revisions.filter((r) => r.type !== current.type).map((r) => r._rev as string);
  let plan: ResolutionPlan<Resolvable>;
  if (ofTransfer(current)) {
    plan = planResolution<TransferDoc>(current, revisions.filter(ofTransfer), resolveTransfer, agentMayWrite);
  } else if (ofTransferJob(current)) {
    plan = planResolution<TransferJobDoc>(current, revisions.filter(ofTransferJob), resolveJob, agentMayWrite);
  } else if (ofLock(current) || ofHeartbeat(current)) {
    const others = revisions.map((r) => r._rev as string).filter((rev) => rev !== current._rev);
    return { winner: bodyOf(current), write: null, remove: [...new Set(others)] };
  } else {
    return null;
  }
  return strays.length ? { ...plan, remove: [...plan.remove, ...strays] } : plan;
}
