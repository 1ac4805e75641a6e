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
 */
import type { CatalogFileDoc, DatasetDoc, ReplicaDoc, DataRequestDoc, DataRequestError } from '../../views/schema';
import { CatalogId, DataRequestLimits, DataRequestMachine, DataRequestState, TransferState } from '../../views/schema';
import type { TransferBackend } from '../backends/types';
import { createOnce, fetchDocs, saveAll } from '../platform/bulk';
import type { AgentContext } from '../lib/runner';
import { cleanReason } from '../lib/transition';
import {
  backendProtocols,
  fileId,
  filesOf,
  filesOfDatasets,
  pfnAt,
  replicaId,
  replicasAt,
} from '../lib/catalog-access';
import { saveDataRequest, type DataRequestBook } from '../lib/data-request-book';
import { planReplicate, replicateProgress, uploadDocs } from './decide';
import { finalState, type Member } from '../lib/data-request-book';
import { cooloffSeconds } from '../lib/transition';

/** How often a running replicate request's counters are rewritten (ms). */
const PROGRESS_MS = 2_000;

const capErrors = (errors: readonly DataRequestError[]) =>
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

export async function runUpload(
  ctx: AgentContext,
  book: DataRequestBook,
  req: DataRequestDoc,
  backend: TransferBackend,
): Promise<void> {
  const now = ctx.now();
  const settings = ctx.config.settings;
  const files = req.files || [];
  const siteName = req.sites[0];
  const site = ctx.config.sites.get(siteName);
  const supported = backendProtocols(backend.name);
  const errors: DataRequestError[] = [];
  const transient: string[] = [];
  const verified: { lfn: string; size: number; adler32: string }[] = [];
  const urls = new Map<string, string>();
  for (const f of files) {
    const pfn = pfnAt(site, f.lfn, supported);
    if (!pfn)
      errors.push({
        lfn: f.lfn,
        site: siteName,
        error: site
          ? `no TFC rule of ${siteName} maps ${f.lfn} for backend ${backend.name}`
          : `site ${siteName} is not configured`,
      });
    else urls.set(f.lfn, pfn);
  }
  const listed = files.filter((f) => urls.has(f.lfn));
  for (let i = 0; i < listed.length; i += 200) {
    const part = listed.slice(i, i + 200);
    const stats = await backend.stat(
      part.map((f) => urls.get(f.lfn)!),
      true,
    );
    part.forEach((f, k) => {
      const st = stats[k];
      if (st.error) transient.push(f.lfn);
      else if (!st.exists)
        errors.push({ lfn: f.lfn, site: siteName, error: 'not found at the site: the upload did not copy it' });
      else if (st.size !== f.size)
        errors.push({ lfn: f.lfn, site: siteName, error: `size at the site is ${st.size}, expected ${f.size}` });
      else if ((st.adler32 || '').toLowerCase() !== f.adler32.toLowerCase())
        errors.push({
          lfn: f.lfn,
          site: siteName,
          error: `adler32 at the site is ${st.adler32}, expected ${f.adler32.toLowerCase()}`,
        });
      else verified.push(f);
    });
  }
  const retries = req.retries || 0;
  const db = ctx.db('transfers');
  if (transient.length && retries < settings.max_retry) {
    const wait = cooloffSeconds(retries + 1, settings.cooloff, settings.max_cooloff);
    const next = (cur: DataRequestDoc) =>
      cur.state === DataRequestState.new
        ? DataRequestMachine.transition(cur, DataRequestState.new, now, {
            retries: (cur.retries || 0) + 1,
            next_attempt_at: new Date(now.getTime() + wait * 1000).toISOString(),
          })
        : null;
    await saveDataRequest(db, book, next(req)!, next, ctx.log);
    ctx.log.warn('upload verification will be retried', {
      request: req._id,
      unreachable: transient.length,
      retries: retries + 1,
      in_s: wait,
    });
    return;
  }
  for (const lfn of transient)
    errors.push({ lfn, site: siteName, error: `storage did not answer after ${retries + 1} passes` });
  const registered = await register(ctx, req, verified, errors);
  const progress = { total: files.length, done: registered, failed: files.length - registered };
  const next = (cur: DataRequestDoc) =>
    cur.state === DataRequestState.new
      ? DataRequestMachine.transition(cur, finalState(progress), now, {
          progress,
          errors: capErrors(errors),
          started_at: now.toISOString(),
        })
      : null;
  const saved = await saveDataRequest(db, book, next(req)!, next, ctx.log);
  if (saved) ctx.log.info('upload registered', { request: req._id, state: saved.state, ...progress });
}

/**
 * Writes the catalogue documents of verified files; returns how many files are registered.
 * A file already catalogued and valid in another block keeps its entry (an error for this
 * upload); one left invalid by an earlier deletion is taken over by this upload's block.
 */
async function register(
  ctx: AgentContext,
  req: DataRequestDoc,
  verified: { lfn: string; size: number; adler32: string }[],
  errors: DataRequestError[],
): Promise<number> {
  if (!verified.length) return 0;
  const catalog = ctx.db('catalog');
  const now = ctx.now();
  const owned = (await fetchDocs<DatasetDoc>(catalog, [CatalogId.dataset(req.dataset!)])).get(
    CatalogId.dataset(req.dataset!),
  );
  if (owned && owned.owner !== req.user) {
    for (const f of verified)
      errors.push({ lfn: f.lfn, site: req.sites[0], error: `dataset ${req.dataset} belongs to ${owned.owner}` });
    return 0;
  }
  let docs = uploadDocs(req, verified, now);
  const existing = await fetchDocs<CatalogFileDoc>(
    catalog,
    docs.files.map((f) => f._id),
  );
  const taken = new Set<string>();
  for (const f of docs.files) {
    const old = existing.get(f._id);
    if (old && old.valid && old.block !== f.block) {
      taken.add(f.lfn);
      errors.push({ lfn: f.lfn, site: req.sites[0], error: `already catalogued in block ${old.block}` });
    }
  }
  if (taken.size)
    docs = uploadDocs(
      req,
      verified.filter((v) => !taken.has(v.lfn)),
      now,
    );
  if (!docs.files.length) return 0;
  const ds = await createOnce(catalog, [docs.dataset]);
  if (ds.existed.length) {
    const cur = (await fetchDocs<DatasetDoc>(catalog, [docs.dataset._id])).get(docs.dataset._id);
    if (cur && cur.access_type === 'DELETED') {
      await saveAll(
        catalog,
        [{ ...cur, access_type: 'VALID', last_update: now.toISOString() }],
        (f) => (f.access_type === 'DELETED' ? { ...f, access_type: 'VALID', last_update: now.toISOString() } : null),
        ctx.log,
      );
    }
  }
  await createOnce(catalog, [docs.block]);
  const fresh = docs.files.filter((f) => !existing.has(f._id));
  const revived = docs.files
    .filter((f) => existing.has(f._id))
    .map((f) => ({
      ...f,
      _rev: existing.get(f._id)!._rev,
      created_at: existing.get(f._id)!.created_at,
      last_update: now.toISOString(),
    }));
  for (let i = 0; i < fresh.length; i += 500) await createOnce(catalog, fresh.slice(i, i + 500));
  if (revived.length) await saveAll(catalog, revived, () => null, ctx.log);
  for (let i = 0; i < docs.replicas.length; i += 500) await createOnce(catalog, docs.replicas.slice(i, i + 500));
  return docs.files.length;
}
