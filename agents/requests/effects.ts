/**
 * The `requests` agent's reads and writes.
 *
 * replicate, new: read the files and replicas from the catalogue, create the transfers (one
 *   `_bulk_docs` per 500, deterministic ids: a replay gets 409s), then the request -> running
 *   with its counters. A crash in between replays the plan; the transfers exist once.
 * replicate, running: record a ReplicaDoc for every transfer that ended done (createOnce), and
 *   once every transfer is terminal, the request -> done / partially_failed / failed.
 * upload, new: stat every file at the site with its adler32 (the CLI copied them), register
 *   dataset, one closed block, files and replicas (deterministic ids), then the final state.
 *   Storage that cannot answer (transient) is retried after a cooloff, at most max_retry passes.
 * Here the replicate requests; uploads are agents/requests/upload.ts.
 */
import type { CatalogFileDoc, ReplicaDoc, DataRequestDoc, DataRequestError } from '../../views/schema';
import { DataRequestLimits, DataRequestMachine, DataRequestState, TransferState } from '../../views/schema';
import { createOnce, fetchDocs } from '../platform/bulk';
import type { AgentContext } from '../lib/runner';
import { cleanReason } from '../lib/transition';
import { fileId, filesOf, filesOfDatasets, replicaId, replicasAt } from '../lib/catalog-access';
import { saveDataRequest, type DataRequestBook } from '../lib/data-request-book';
import { planReplicate, replicateProgress } from './decide';
import { finalState, type Member } from '../lib/data-request-book';

/** How often a running replicate request's counters are rewritten (ms). */
const PROGRESS_MS = 2_000;

/** A request's errors as stored: at most DataRequestLimits.errorsMax, each reason cleaned. */
export const capErrors = (errors: readonly DataRequestError[]) =>
  errors.slice(0, DataRequestLimits.errorsMax).map((e) => ({ ...e, error: cleanReason(e.error) }));

/** The files of new replicate requests: one catalogue scan for all their datasets. */
export async function filesOfDataRequests(
  ctx: AgentContext,
  reqs: readonly DataRequestDoc[],
): Promise<Map<string, Map<string, CatalogFileDoc>>> {
  const catalog = ctx.db('catalog');
  const byDataset = await filesOfDatasets(catalog, [...new Set(reqs.filter((r) => r.dataset).map((r) => r.dataset!))]);
  const out = new Map<string, Map<string, CatalogFileDoc>>();
  for (const r of reqs) out.set(r._id, r.dataset ? byDataset.get(r.dataset)! : await filesOf(catalog, r));
  return out;
}

export async function startReplicate(
  ctx: AgentContext,
  book: DataRequestBook,
  req: DataRequestDoc,
  files: ReadonlyMap<string, CatalogFileDoc>,
): Promise<void> {
  const catalog = ctx.db('catalog');
  const sites = [...new Set([...ctx.config.sites.keys(), ...req.sites, ...(req.source ? [req.source] : [])])];
  const replicas = await replicasAt(catalog, [...files.keys()], sites);
  const now = ctx.now();
  const plan = planReplicate(req, files, replicas, now);
  const transfers = ctx.db('transfers');
  for (let i = 0; i < plan.transfers.length; i += 500) {
    const part = plan.transfers.slice(i, i + 500);
    await createOnce(transfers, part);
    for (const t of part) book.apply(t);
  }
  const unplaced = plan.errors.length;
  const progress = { total: plan.total, done: plan.already, failed: unplaced, already: plan.already, unplaced };
  const errors = capErrors(plan.errors);
  const next = (fresh: DataRequestDoc) => {
    if (fresh.state !== DataRequestState.new) return null;
    if (plan.total === 0)
      return DataRequestMachine.transition(fresh, DataRequestState.failed, now, {
        progress,
        errors: [
          {
            error: req.dataset ? `dataset ${req.dataset} has no valid files in the catalogue` : 'no file to replicate',
          },
        ],
      });
    if (!plan.transfers.length)
      return DataRequestMachine.transition(fresh, finalState(progress), now, {
        progress,
        errors,
        started_at: now.toISOString(),
      });
    return DataRequestMachine.transition(fresh, DataRequestState.running, now, {
      progress,
      errors,
      started_at: now.toISOString(),
    });
  };
  const saved = await saveDataRequest(transfers, book, next(req)!, next, ctx.log);
  if (saved)
    ctx.log.info('replicate request planned', {
      request: req._id,
      transfers: plan.transfers.length,
      already: plan.already,
      unplaced,
    });
}

export async function followReplicate(
  ctx: AgentContext,
  book: DataRequestBook,
  req: DataRequestDoc,
  recorded: Set<string>,
): Promise<boolean> {
  const members = [...(book.members.get(req._id)?.values() || [])];
  const fresh = members.filter((m) => m.state === TransferState.done && !recorded.has(m.id));
  if (fresh.length) await recordReplicas(ctx, req, fresh, recorded);
  const r = replicateProgress(req, members);
  const same = JSON.stringify(r.progress) === JSON.stringify(req.progress);
  // Intermediate counters at most every PROGRESS_MS per request: each write is a change every
  // agent reads; the final state is written at once.
  if (!r.settled && (same || ctx.now().getTime() - Date.parse(req.last_update || '1970-01-01T00:00:00Z') < PROGRESS_MS))
    return false;
  const now = ctx.now();
  const decide = (cur: DataRequestDoc): DataRequestDoc | null => {
    if (cur.state !== DataRequestState.running) return null;
    const again = replicateProgress(cur, members);
    if (!again.settled)
      return DataRequestMachine.transition(cur, DataRequestState.running, now, { progress: again.progress });
    const errors = capErrors([
      ...(cur.errors || []),
      ...again.failedMembers.map((m) => ({
        lfn: m.lfn,
        site: m.destination,
        error: m.failure_reason || 'transfer ' + m.state,
      })),
    ]);
    return DataRequestMachine.transition(cur, again.state, now, { progress: again.progress, errors });
  };
  const saved = await saveDataRequest(ctx.db('transfers'), book, decide(req)!, decide, ctx.log);
  if (saved && r.settled) {
    ctx.log.info('replicate request finished', { request: req._id, state: saved.state, ...saved.progress });
    book.members.delete(req._id);
  }
  return !!saved;
}

/** One ReplicaDoc per done copy; the owner is the requester (their quota holds the copy). */
async function recordReplicas(
  ctx: AgentContext,
  req: DataRequestDoc,
  done: readonly Member[],
  recorded: Set<string>,
): Promise<void> {
  const catalog = ctx.db('catalog');
  const files = await fetchDocs<CatalogFileDoc>(catalog, [...new Set(done.map((m) => fileId(m.lfn)))]);
  const iso = ctx.now().toISOString();
  const docs: ReplicaDoc[] = [];
  for (const m of done) {
    const f = files.get(fileId(m.lfn));
    if (!f) continue; // removed from the catalogue meanwhile: nothing to locate
    docs.push({
      _id: replicaId(m.lfn, m.destination),
      type: 'replica',
      lfn: m.lfn,
      site: m.destination,
      block: f.block,
      dataset: f.dataset,
      size: f.size,
      created_at: iso,
      owner: req.user,
    });
  }
  for (let i = 0; i < docs.length; i += 500) await createOnce(catalog, docs.slice(i, i + 500));
  for (const m of done) recorded.add(m.id);
}
