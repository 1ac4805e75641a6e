/**
 * Data handling (Belle II seed 000) from the command line, each as one request document that
 * agents execute (views/schema DataRequestDoc):
 *   couchstage replicate (--dataset D | LFN...) --to SITE[,SITE] [--from SITE]
 *   couchstage upload PATH... --site SITE --dataset D [--lfn-dir DIR] [--backend auto|gfal2|native]
 *   couchstage delete (--dataset D | LFN...) --site SITE[,SITE]
 *   couchstage request ID
 * `--wait` follows the request until it ends; `--json` prints the request document. A request
 * is checked with the code validate_doc_update runs, and against the catalogue and the sites,
 * before anything is written: a refusal writes nothing. Upload copies the files itself (the
 * files are on this machine), adler32 checked at both ends, then writes the request; the
 * `requests` agent verifies them at the site and registers them.
 */
import { createHash } from 'crypto';
import { jsonOf, dataRequestUserProblem } from '../../../views/lib/checks';
import {
  CatalogId,
  DocId,
  REQUEST_TERMINAL_STATES,
  DataRequestMachine,
  type DataRequestDoc,
  type DataRequestKind,
  type SiteDoc,
} from '../../../views/schema';
import { fetchDocs } from '../../../agents/platform/bulk';
import { describeError, sleep, type Db } from '../../../agents/platform/couch';
import { get, put } from '../../../agents/platform/docs';
import { filesOf } from '../../../agents/lib/catalog-access';
import { flag, UsageError, type Args } from '../../client/args';
import { whoami, type Context } from '../../client/context';
import { copyUpload, uploadPlan, uploadTargets } from './upload-files';

/** `rq-<sha224 of the request's content and time>`: one id per submission, stable in a retried PUT. */
export function requestId(doc: Omit<DataRequestDoc, '_id' | 'state'>): string {
  const h = createHash('sha224').update(
    JSON.stringify([doc.user, doc.kind, doc.sites, doc.dataset, doc.lfns, doc.source, doc.files, doc.created_at]),
  );
  return DocId.dataRequest(h.digest('hex'));
}

const list = (v: string | undefined) =>
  v
    ? v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : [];

export async function sitesExist(ctx: Context, names: readonly string[]): Promise<Map<string, SiteDoc>> {
  const docs = await fetchDocs<SiteDoc>(
    ctx.server.use<Record<string, unknown>>(ctx.cfg.dbs.config),
    names.map((n) => DocId.site(n)),
  );
  const out = new Map<string, SiteDoc>();
  for (const n of names) {
    const d = docs.get(DocId.site(n));
    if (!d) throw new UsageError(`site ${n} is not configured (no site:${n} in the config database)`);
    out.set(n, d);
  }
  return out;
}

function baseRequest(
  kind: DataRequestKind,
  user: string,
  sites: string[],
  args: Args,
  extra: Partial<DataRequestDoc> = {},
): DataRequestDoc {
  const dataset = flag(args, 'dataset');
  const lfns = args.positional.length ? [...args.positional] : undefined;
  const fields: Omit<DataRequestDoc, '_id' | 'state'> = {
    type: 'request',
    kind,
    user,
    sites,
    ...(dataset !== undefined ? { dataset } : {}),
    ...(lfns ? { lfns } : {}),
    ...extra,
    created_at: new Date().toISOString(),
  };
  const doc = { _id: requestId(fields), ...fields, state: DataRequestMachine.initial } as DataRequestDoc;
  const p = dataRequestUserProblem(jsonOf(doc));
  if (p) throw new UsageError(p + '\nnothing was submitted');
  return doc;
}

/** Replicate / delete must name something the catalogue holds. */
async function catalogued(ctx: Context, req: DataRequestDoc): Promise<void> {
  const catalog = ctx.server.use<Record<string, unknown>>(ctx.cfg.dbs.catalog);
  if (req.dataset) {
    const ds = await fetchDocs(catalog, [CatalogId.dataset(req.dataset)]);
    if (!ds.size) throw new UsageError(`dataset: ${req.dataset} is not in the catalogue\nnothing was submitted`);
    return;
  }
  const found = await filesOf(catalog, req);
  const missing = (req.lfns || []).filter((l) => !found.has(l));
  if (missing.length)
    throw new UsageError(
      `lfns: not in the catalogue: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}\nnothing was submitted`,
    );
}

async function write(ctx: Context, doc: DataRequestDoc): Promise<void> {
  try {
    await put(ctx.server.use(ctx.cfg.dbs.transfers), doc);
  } catch (err) {
    throw new Error(`request refused: ${describeError(err)}`, { cause: err });
  }
}

async function finish(
  ctx: Context,
  args: Args,
  doc: DataRequestDoc,
  extra: Record<string, unknown> = {},
): Promise<number> {
  let cur: DataRequestDoc = doc;
  if (args.flags.wait === true) {
    const timeout = Number(flag(args, 'timeout') || 600) * 1000;
    const deadline = Date.now() + timeout;
    const db: Db = ctx.server.use(ctx.cfg.dbs.transfers);
    for (;;) {
      const fresh = await get<DataRequestDoc>(db, doc._id);
      if (!fresh) throw new Error(`request ${doc._id}: deleted while waiting for it`);
      cur = fresh;
      if (REQUEST_TERMINAL_STATES.includes(cur.state)) break;
      if (Date.now() > deadline) throw new Error(`request ${doc._id} still ${cur.state} after ${timeout / 1000} s`);
      await sleep(500);
    }
  }
  if (ctx.json) ctx.out(JSON.stringify({ ...extra, request: cur }, null, 2));
  else {
    ctx.out(
      `request ${cur._id}: ${cur.kind} ${cur.state}${cur.progress ? ` (${cur.progress.done}/${cur.progress.total} done, ${cur.progress.failed} failed)` : ''}`,
    );
    for (const e of (cur.errors || []).slice(0, 20))
      ctx.out(`  ${e.lfn || ''}${e.site ? ' @' + e.site : ''}: ${e.error}`);
  }
  return DataRequestMachine.inGroup('failure', cur.state) ? 1 : 0;
}

export async function runReplicate(ctx: Context, args: Args): Promise<number> {
  const me = await whoami(ctx);
  if (!me.name) throw new UsageError('sign in first (COUCHSTAGE_USER / --as)');
  const to = list(flag(args, 'to'));
  const from = flag(args, 'from');
  const doc = baseRequest('replicate', me.name, to, args, from ? { source: from } : {});
  await sitesExist(ctx, [...to, ...(from ? [from] : [])]);
  await catalogued(ctx, doc);
  await write(ctx, doc);
  return finish(ctx, args, doc);
}

export async function runDelete(ctx: Context, args: Args): Promise<number> {
  const me = await whoami(ctx);
  if (!me.name) throw new UsageError('sign in first (COUCHSTAGE_USER / --as)');
  const sites = list(flag(args, 'site'));
  const doc = baseRequest('delete', me.name, sites, args);
  await sitesExist(ctx, sites);
  await catalogued(ctx, doc);
  await write(ctx, doc);
  return finish(ctx, args, doc);
}

export async function runUpload(ctx: Context, args: Args): Promise<number> {
  const me = await whoami(ctx);
  if (!me.name) throw new UsageError('sign in first (COUCHSTAGE_USER / --as)');
  const { dataset, siteName, locals, lfns, files } = uploadPlan(args, me.name);
  const site = (await sitesExist(ctx, [siteName])).get(siteName)!;
  const { chosen, pfns } = uploadTargets(args, site, siteName, lfns);
  const { copied, failures } = await copyUpload(chosen, locals, pfns, files, lfns);
  for (const f of failures) ctx.out(`copy failed: ${f.lfn}: ${f.error}`);
  if (!copied.length) throw new Error('no file could be copied; nothing was registered');
  const fields: Omit<DataRequestDoc, '_id' | 'state'> = {
    type: 'request',
    kind: 'upload',
    user: me.name,
    sites: [siteName],
    dataset,
    files: copied,
    created_at: new Date().toISOString(),
  };
  const doc = { _id: requestId(fields), ...fields, state: DataRequestMachine.initial } as DataRequestDoc;
  await write(ctx, doc);
  const code = await finish(ctx, args, doc, { copied: copied.length, copy_failures: failures });
  return failures.length ? 1 : code;
}

export async function runRequestShow(ctx: Context, args: Args): Promise<number> {
  const id = args.positional[0];
  if (!id) throw new UsageError('request needs a request id (rq-...)');
  let doc: DataRequestDoc | null;
  try {
    doc = await get<DataRequestDoc>(ctx.server.use(ctx.cfg.dbs.transfers), id);
  } catch (err) {
    throw new Error(`request ${id}: ${describeError(err)}`, { cause: err });
  }
  if (!doc) throw new Error(`request ${id}: 404 not_found: missing`);
  return finish(ctx, args, doc);
}
