/**
 * The deleter's reads and writes, in an order that makes a SIGKILL at any instant harmless:
 *   claim    new -> running with the resolved targets (fixed from then on) and a lease; or take
 *            over a running request whose lease expired.
 *   per batch of targets: remove the physical copies (a missing file is success), then delete
 *            their ReplicaDocs, then write the progress (which renews the lease). A crash between
 *            the two first steps leaves a replica whose file is gone: the next pass removes
 *            "again" (success, existed=false) and deletes the document. A ReplicaDoc is deleted
 *            only after its copy is gone, and once (revision check).
 *   finalize files without any replica -> valid:false; datasets without any replica -> DELETED.
 *            Recomputed from the catalogue over all targets on every pass, so idempotent.
 */
import type {
  CatalogFileDoc,
  DatasetDoc,
  ReplicaDoc,
  DataRequestDoc,
  DataRequestError,
  DataRequestTarget,
} from '../../views/schema';
import { CatalogId, DataRequestLimits, DataRequestMachine, DataRequestState } from '../../views/schema';
import type { TransferBackend } from '../backends/types';
import { fetchDocs, saveAll } from '../platform/bulk';
import type { Db } from '../platform/couch';
import { leaseHeldByOther, newLease } from '../lib/lease';
import type { AgentContext } from '../lib/runner';
import { cleanReason } from '../lib/transition';
import { saveDataRequest, type DataRequestBook } from '../lib/data-request-book';
import {
  backendProtocols,
  fileId,
  filesOf,
  filesOfDatasets,
  pfnAt,
  replicaId,
  replicasAt,
} from '../lib/catalog-access';
import { endOfPass, resolveTargets } from './decide';

/** Errors so far plus new ones, one per (file, site): a pass redone after a takeover adds no duplicate. */
function mergeErrors(old: readonly DataRequestError[], more: readonly DataRequestError[]): DataRequestError[] {
  const seen = new Set(old.map((e) => `${e.lfn}\n${e.site}`));
  const out = [...old];
  for (const e of more) {
    if (seen.has(`${e.lfn}\n${e.site}`)) continue;
    out.push(e);
    seen.add(`${e.lfn}\n${e.site}`);
  }
  return out.slice(0, DataRequestLimits.errorsMax);
}

/** Targets per batch: one bulk remove and one `_bulk_docs`; a crash redoes at most this many removals. */
const BATCH = 100;

export function claimable(req: DataRequestDoc, instance: string, now: Date): boolean {
  if (!DataRequestMachine.inGroup('open', req.state)) return false;
  if (req.next_attempt_at && Date.parse(req.next_attempt_at) > now.getTime()) return false;
  return !leaseHeldByOther(req.lease, instance, now);
}

export async function claim(
  ctx: AgentContext,
  book: DataRequestBook,
  req: DataRequestDoc,
): Promise<DataRequestDoc | null> {
  const now = ctx.now();
  const lease = newLease(ctx.instance, now, ctx.config.settings.lease_seconds);
  if (req.state === DataRequestState.running) {
    const redo = (cur: DataRequestDoc) =>
      cur.state === DataRequestState.running && claimable(cur, ctx.instance, ctx.now())
        ? DataRequestMachine.transition(cur, DataRequestState.running, now, { lease })
        : null;
    return saveDataRequest(ctx.db('transfers'), book, redo(req)!, redo, ctx.log);
  }
  const catalog = ctx.db('catalog');
  const files = await filesOf(catalog, req);
  const lfns = req.lfns ? [...req.lfns] : [...files.keys()];
  const owners = new Map([...files.values()].map((f) => [f.lfn, f.owner]));
  const { targets, refused } = resolveTargets(req, await replicasAt(catalog, lfns, req.sites), owners);
  const progress = {
    total: targets.length + refused.length,
    done: 0,
    failed: refused.length,
    ...(refused.length ? { unplaced: refused.length } : {}),
  };
  const errors = refused.slice(0, DataRequestLimits.errorsMax);
  const redo = (cur: DataRequestDoc) =>
    cur.state === DataRequestState.new && claimable(cur, ctx.instance, ctx.now())
      ? DataRequestMachine.transition(cur, DataRequestState.running, now, {
          lease,
          targets,
          progress,
          errors,
          retries: 0,
          started_at: now.toISOString(),
        })
      : null;
  const saved = await saveDataRequest(ctx.db('transfers'), book, redo(req)!, redo, ctx.log);
  if (saved)
    ctx.log.info('delete request claimed', { request: req._id, targets: targets.length, refused: refused.length });
  return saved;
}

/** One pass over a claimed request's targets; returns false when the lease was lost. */
export async function runPass(
  ctx: AgentContext,
  book: DataRequestBook,
  claimed: DataRequestDoc,
  backend: TransferBackend,
): Promise<boolean> {
  const catalog = ctx.db('catalog');
  const targets = claimed.targets || [];
  const supported = backendProtocols(backend.name);
  const existing = await fetchDocs<ReplicaDoc>(
    catalog,
    targets.map((t) => replicaId(t.lfn, t.site)),
  );
  const pass: Pass = { req: claimed, gone: targets.length - existing.size, fatal: 0, transient: 0, errors: [] };
  const remaining = targets.filter((t) => existing.has(replicaId(t.lfn, t.site)));
  const progress = () => saveProgress(ctx, book, claimed, targets.length, pass);
  if (!(await progress())) return false;
  for (let i = 0; i < remaining.length; i += BATCH) {
    if (ctx.signal.aborted) return true; // the lease expires; this or another instance resumes
    await removeBatch(ctx, catalog, backend, supported, remaining.slice(i, i + BATCH), existing, pass);
    if (!(await progress())) return false;
  }
  await finalize(
    ctx,
    pass.req,
    targets.map((t) => t.lfn),
  );
  return endPass(ctx, book, pass);
}

/** A pass's state: the request as last saved, its counts so far, and the errors not saved yet. */
interface Pass {
  req: DataRequestDoc;
  /** Targets whose copy and ReplicaDoc are gone (before the pass, or removed by it). */
  gone: number;
  fatal: number;
  transient: number;
  readonly errors: DataRequestError[];
}

/** Writes the progress and renews the lease; false when the lease was lost. */
async function saveProgress(
  ctx: AgentContext,
  book: DataRequestBook,
  claimed: DataRequestDoc,
  targets: number,
  pass: Pass,
): Promise<boolean> {
  const now = ctx.now();
  const lease = newLease(ctx.instance, now, ctx.config.settings.lease_seconds);
  const refused = claimed.progress?.unplaced || 0;
  const fields = (cur: DataRequestDoc) => ({
    lease,
    progress: { ...cur.progress!, total: targets + refused, done: pass.gone, failed: refused },
    errors: mergeErrors(cur.errors || [], pass.errors),
  });
  const redo = (cur: DataRequestDoc) =>
    cur.state === DataRequestState.running && !leaseHeldByOther(cur.lease, ctx.instance, now)
      ? DataRequestMachine.transition(cur, DataRequestState.running, now, fields(cur))
      : null;
  const saved = await saveDataRequest(ctx.db('transfers'), book, redo(pass.req)!, redo, ctx.log);
  if (!saved) return false;
  pass.errors.length = 0;
  pass.req = saved;
  return true;
}

/** One batch: remove the physical copies, then delete the ReplicaDocs of those that are gone. */
async function removeBatch(
  ctx: AgentContext,
  catalog: Db,
  backend: TransferBackend,
  supported: (protocol: string) => boolean,
  part: readonly DataRequestTarget[],
  existing: Map<string, ReplicaDoc>,
  pass: Pass,
): Promise<void> {
  const urls = part.map((t) => pfnAt(ctx.config.sites.get(t.site), t.lfn, supported));
  const withUrl = part.filter((_t, k) => urls[k] !== null);
  part.forEach((t, k) => {
    if (urls[k] === null) {
      pass.fatal++;
      pass.errors.push({
        lfn: t.lfn,
        site: t.site,
        error: `no PFN: site ${t.site} has no TFC rule for ${t.lfn} below its storage root that backend ${backend.name} can reach`,
      });
    }
  });
  const results = withUrl.length ? await backend.remove(urls.filter((u): u is string => u !== null)) : [];
  const removed: ReplicaDoc[] = [];
  results.forEach((r, k) => {
    const t = withUrl[k];
    if (r.ok) removed.push(existing.get(replicaId(t.lfn, t.site))!);
    else if (r.errorClass === 'fatal') {
      pass.fatal++;
      pass.errors.push({ lfn: t.lfn, site: t.site, error: cleanReason(r.error || 'remove failed') });
    } else pass.transient++;
  });
  const tomb = (d: { _id: string; _rev?: string }) => ({ _id: d._id, _rev: d._rev, _deleted: true as const });
  const res = await saveAll(catalog, removed.map(tomb), (fresh) => tomb(fresh), ctx.log);
  // Saved, or already gone (the conflict re-read found nothing): the copy is gone either way.
  pass.gone += res.saved.length + res.dropped.length;
}

/** The pass's outcome: the request finished, or left running for a retry later (lease released). */
async function endPass(ctx: AgentContext, book: DataRequestBook, pass: Pass): Promise<boolean> {
  const { req, gone, fatal, transient } = pass;
  const now = ctx.now();
  const end = endOfPass(req, gone, fatal, transient, ctx.config.settings, now);
  const redo = (cur: DataRequestDoc) => {
    if (cur.state !== DataRequestState.running || leaseHeldByOther(cur.lease, ctx.instance, now)) return null;
    return end.kind === 'final'
      ? DataRequestMachine.transition(cur, end.state, now, { progress: end.progress })
      : DataRequestMachine.transition(cur, DataRequestState.running, now, {
          progress: end.progress,
          retries: end.retries,
          next_attempt_at: end.next_attempt_at,
          lease: null,
        });
  };
  const saved = await saveDataRequest(ctx.db('transfers'), book, redo(req)!, redo, ctx.log);
  if (saved)
    ctx.log.info(end.kind === 'final' ? 'delete request finished' : 'delete request will retry', {
      request: req._id,
      state: saved.state,
      ...saved.progress,
      transient,
    });
  return !!saved;
}

/** Files without any replica left -> valid:false; datasets without any replica -> DELETED. */
async function finalize(ctx: AgentContext, req: DataRequestDoc, lfns: readonly string[]): Promise<void> {
  const catalog = ctx.db('catalog');
  const sites = [...new Set([...ctx.config.sites.keys(), ...req.sites])];
  const unique = [...new Set(lfns)];
  const located = await replicasAt(catalog, unique, sites);
  const files = await fetchDocs<CatalogFileDoc>(catalog, unique.map(fileId));
  const now = ctx.now().toISOString();
  const orphan = (f: CatalogFileDoc) => f.valid && !located.get(f.lfn)?.size;
  const invalid = [...files.values()].filter(orphan).map((f) => ({ ...f, valid: false, last_update: now }));
  await saveAll(
    catalog,
    invalid,
    (fresh) => (orphan(fresh) ? { ...fresh, valid: false, last_update: now } : null),
    ctx.log,
  );
  const datasets = new Set([...files.values()].map((f) => f.dataset));
  if (req.dataset) datasets.add(req.dataset);
  const members = await filesOfDatasets(catalog, [...datasets]);
  for (const [name, dsFiles] of members) {
    const left = await replicasAt(catalog, [...dsFiles.keys()], sites);
    if (left.size) continue;
    const ds = (await fetchDocs<DatasetDoc>(catalog, [CatalogId.dataset(name)])).get(CatalogId.dataset(name));
    if (!ds || ds.access_type === 'DELETED') continue;
    const mark = (d: DatasetDoc) =>
      d.access_type === 'DELETED' ? null : { ...d, access_type: 'DELETED' as const, last_update: now };
    await saveAll(catalog, [mark(ds)!], mark, ctx.log);
    ctx.log.info('dataset has no replica left: DELETED', { dataset: name });
  }
}
