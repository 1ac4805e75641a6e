/**
 * The `requests` agent's upload requests (the sequence is in agents/requests/effects.ts's header):
 * verify every file at the site, register it in the catalogue, write the request's final state, or
 * wait a cooloff when the storage did not answer. Separate from the replicate requests: it reads
 * storage, not the transfers, and writes the catalogue directly.
 */
import type {
  CatalogFileDoc,
  DatasetDoc,
  DataRequestDoc,
  DataRequestError,
  SiteDoc,
  UploadFile,
} from '../../views/schema';
import { CatalogId, DataRequestMachine, DataRequestState } from '../../views/schema';
import type { TransferBackend } from '../backends/types';
import { createOnce, fetchDocs, saveAll } from '../platform/bulk';
import type { AgentContext } from '../lib/runner';
import { backendProtocols, pfnAt } from '../lib/catalog-access';
import { finalState, saveDataRequest, type DataRequestBook } from '../lib/data-request-book';
import { cooloffSeconds } from '../lib/transition';
import { uploadDocs } from './decide';
import { capErrors } from './effects';

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
  const errors: DataRequestError[] = [];
  const urls = urlsAtSite(files, ctx.config.sites.get(siteName), siteName, backend, errors);
  const { verified, transient } = await verifyAtSite(
    backend,
    files.filter((f) => urls.has(f.lfn)),
    urls,
    siteName,
    errors,
  );
  const retries = req.retries || 0;
  const db = ctx.db('transfers');
  if (transient.length && retries < settings.max_retry) {
    await retryLater(ctx, book, req, transient.length, now);
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

/** Each file's URL at the site (its TFC, for the backend's protocols); the unmapped ones are errors. */
function urlsAtSite(
  files: readonly UploadFile[],
  site: SiteDoc | undefined,
  siteName: string,
  backend: TransferBackend,
  errors: DataRequestError[],
): Map<string, string> {
  const supported = backendProtocols(backend.name);
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
  return urls;
}

/**
 * Stats the files, 200 a call, with their adler32: each is verified, an error (missing, or another
 * size or checksum), or transient (the storage did not answer).
 */
async function verifyAtSite(
  backend: TransferBackend,
  listed: readonly UploadFile[],
  urls: ReadonlyMap<string, string>,
  siteName: string,
  errors: DataRequestError[],
): Promise<{ verified: UploadFile[]; transient: string[] }> {
  const transient: string[] = [];
  const verified: UploadFile[] = [];
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
  return { verified, transient };
}

/** The request stays new, one retry more, and is verified again after a cooloff. */
async function retryLater(
  ctx: AgentContext,
  book: DataRequestBook,
  req: DataRequestDoc,
  unreachable: number,
  now: Date,
): Promise<void> {
  const settings = ctx.config.settings;
  const retries = req.retries || 0;
  const wait = cooloffSeconds(retries + 1, settings.cooloff, settings.max_cooloff);
  const next = (cur: DataRequestDoc) =>
    cur.state === DataRequestState.new
      ? DataRequestMachine.transition(cur, DataRequestState.new, now, {
          retries: (cur.retries || 0) + 1,
          next_attempt_at: new Date(now.getTime() + wait * 1000).toISOString(),
        })
      : null;
  await saveDataRequest(ctx.db('transfers'), book, next(req)!, next, ctx.log);
  ctx.log.warn('upload verification will be retried', {
    request: req._id,
    unreachable,
    retries: retries + 1,
    in_s: wait,
  });
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
  await writeUploadDocs(ctx, docs, existing, now);
  return docs.files.length;
}

/**
 * The upload's catalogue documents: its dataset (made valid again if an earlier deletion left it
 * DELETED), its block, new files, files taken over from an earlier deletion, then the replicas.
 */
async function writeUploadDocs(
  ctx: AgentContext,
  docs: ReturnType<typeof uploadDocs>,
  existing: ReadonlyMap<string, CatalogFileDoc>,
  now: Date,
): Promise<void> {
  const catalog = ctx.db('catalog');
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
}
