/**
 * Finding and resolving conflicted documents on the server: which documents of a feed batch or
 * of the whole database have conflict revisions, and the reads and writes that resolve them.
 * The rule and the plan of the writes are pure and live in agents/lib/conflicts.ts, whose header
 * explains the order of the writes carried out here.
 */
import type { Change, ChangesResult, Db } from '../platform/couch';
import { docOf, get, type Stored } from '../platform/docs';
import type { Logger } from '../platform/log';
import { planFor, type Json, type Resolvable, type ResolutionPlan } from './conflicts';

/** Notes which documents of a feed batch (read with `conflicts=true`) are in conflict. */
export function noteConflicts(changes: readonly Change[], conflicted: Set<string>): void {
  for (const c of changes) {
    const doc = c.doc as { _conflicts?: unknown } | undefined;
    if (!doc) continue;
    if (!c.deleted && Array.isArray(doc._conflicts) && doc._conflicts.length) conflicted.add(c.id);
    else conflicted.delete(c.id);
  }
}

/**
 * Finds every conflicted document once, a page per call, so that it never holds up the agent's
 * start (a conflict the feed showed before a crash is not shown again). Reads the feed without
 * documents but with every leaf (`style=all_docs`, ~100 bytes per document; 0.75 s per 10k
 * documents on the embedded server), then only the candidates (more than one leaf) with
 * `conflicts=true`.
 */
export class ConflictScan {
  private since: string | number = 0;
  done = false;

  constructor(private readonly page = 10_000) {}

  /** Scans the next page into `conflicted`; returns true while pages remain. */
  async step(db: Db, conflicted: Set<string>): Promise<boolean> {
    if (this.done) return false;
    // nano's parameter type has no `style`; CouchDB reads it from the query string all the same.
    const params = { since: this.since, limit: this.page, style: 'all_docs' };
    const res: ChangesResult = await db.changes(params);
    const candidates = res.results
      .filter((c) => !c.deleted && c.changes.length > 1 && !c.id.startsWith('_design/'))
      .map((c) => c.id);
    for (let i = 0; i < candidates.length; i += 1000) {
      const rows = await db.fetch({ keys: candidates.slice(i, i + 1000) }, { conflicts: true });
      for (const row of rows.rows) {
        const doc = 'doc' in row ? (row.doc as { _id: string; _conflicts?: unknown } | null) : null;
        if (doc && Array.isArray(doc._conflicts) && doc._conflicts.length) conflicted.add(doc._id);
      }
    }
    this.since = res.last_seq;
    this.done = res.results.length < this.page;
    return !this.done;
  }
}

export interface ResolveOutcome {
  /** Resolved now: each document's content as it reads afterwards, with its surviving revision. */
  readonly resolved: Json[];
  /** Found without conflicts (resolved already, or gone): nothing written. */
  readonly clean: string[];
  /** A concurrent write got in between: try again on the next pass. */
  readonly retry: string[];
  /** Refused by the server, or of a type this rule does not cover: logged, not retried. */
  readonly failed: string[];
}

interface Pending {
  readonly id: string;
  readonly plan: ResolutionPlan<Resolvable>;
  survivor?: string;
}

/** Resolves the listed documents: reads their leaves, plans, writes (see agents/lib/conflicts.ts). */
export async function resolveConflicts(db: Db, ids: readonly string[], log?: Logger): Promise<ResolveOutcome> {
  const out = { resolved: [] as Json[], clean: [] as string[], retry: [] as string[], failed: [] as string[] };
  if (!ids.length) return out;
  const work = await planConflicts(db, ids, out, log);
  // 1. The writes that carry the winner's content or a user's request.
  await writeWinners(db, work, out, log);
  for (const w of work) if (!w.plan.write) w.survivor = w.plan.winner._rev;
  // 2. The tombstones of the losing leaves, once what they lose to is stored.
  await removeLosers(
    db,
    work.filter((w) => w.survivor),
    out,
    log,
  );
  return out;
}

/** Reads each document's leaves and plans its writes; the clean and unresolvable ones go to `out`. */
async function planConflicts(
  db: Db,
  ids: readonly string[],
  out: ResolveOutcome,
  log: Logger | undefined,
): Promise<Pending[]> {
  const res = await db.fetch({ keys: [...ids] }, { conflicts: true });
  const work: Pending[] = [];
  for (const row of res.rows) {
    const current = docOf<Json & { _conflicts?: string[] }>(row);
    if (!current || !current._conflicts || !current._conflicts.length) {
      out.clean.push(row.key as string);
      continue;
    }
    const leaves = await Promise.all(
      current._conflicts.map((rev) => get<Json>(db, current._id, { rev }).catch(() => null)),
    );
    const live = leaves.filter((d): d is Stored<Json> => !!d && !d._deleted);
    const plan = planFor(current, [current, ...live]);
    if (!plan) {
      log?.warn('conflict left as is: no resolution rule for this document type', {
        id: current._id,
        type: current.type,
      });
      out.failed.push(current._id);
      continue;
    }
    if (!plan.remove.length && !plan.write) {
      out.clean.push(current._id);
      continue;
    }
    work.push({ id: current._id, plan });
  }
  return work;
}

/** Writes the planned revisions; a stored one becomes its document's survivor. */
async function writeWinners(
  db: Db,
  work: readonly Pending[],
  out: ResolveOutcome,
  log: Logger | undefined,
): Promise<void> {
  const writes = work.filter((w) => w.plan.write);
  if (!writes.length) return;
  const answers = await db.bulk({ docs: writes.map((w) => w.plan.write) });
  const byId = new Map(answers.map((a) => [a.id as string, a]));
  for (const w of writes) {
    const a = byId.get(w.id);
    if (a && !a.error && a.rev) w.survivor = a.rev;
    else if (a && a.error !== 'conflict') {
      log?.error('conflict resolution write refused', { id: w.id, error: a.error, reason: a.reason });
      out.failed.push(w.id);
    } else out.retry.push(w.id);
  }
}

/** Deletes the losing leaves of documents whose survivor is stored, and reports each document. */
async function removeLosers(
  db: Db,
  ready: readonly Pending[],
  out: ResolveOutcome,
  log: Logger | undefined,
): Promise<void> {
  const tombstones = ready.flatMap((w) =>
    w.plan.remove.map((rev) => ({ _id: w.id, _rev: rev, _deleted: true, resolved_conflict: w.survivor })),
  );
  const errors = new Map<string, { error: string; reason?: string }>();
  if (tombstones.length) {
    for (const a of await db.bulk({ docs: tombstones })) {
      if (a.error && !errors.has(a.id as string)) errors.set(a.id as string, { error: a.error, reason: a.reason });
    }
  }
  for (const w of ready) {
    const e = errors.get(w.id);
    if (!e) {
      out.resolved.push({ ...(w.plan.write || w.plan.winner), _rev: w.survivor });
      log?.info('conflict resolved', {
        id: w.id,
        winner: w.plan.winner._rev,
        type: w.plan.winner.type,
        ...('state' in w.plan.winner ? { state: w.plan.winner.state } : {}),
        survivor: w.survivor,
        deleted: w.plan.remove.length,
      });
    } else if (e.error === 'conflict') {
      out.retry.push(w.id);
    } else {
      log?.error('conflict resolution delete refused', { id: w.id, error: e.error, reason: e.reason });
      out.failed.push(w.id);
    }
  }
}
