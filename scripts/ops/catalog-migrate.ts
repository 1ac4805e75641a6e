/**
 * Local -> global catalogue migration (seed 004: CSA06 moved 1000 files/min and called it too
 * slow). Moves closed blocks with their files, replicas and datasets to another catalogue
 * database, on this server or another. Order per batch of blocks: datasets, then files and
 * replicas, then the block documents last; every query joins through the block document
 * (scripts/client/catalog.ts), so a block is visible in the global catalogue whole or not at all.
 * Ids are deterministic: a re-run skips blocks already there, and a 409 on a file means it is there.
 *
 * Why `_bulk_docs` and not `_replicate` (BENCHMARKS.md has the figures): a replication does not
 * order its writes, so a block document could arrive before its files (two replications with
 * `doc_ids`, contents then blocks, would fix that on CouchDB), and the embedded server's
 * `_replicate` ignores `doc_ids` altogether: it would copy open blocks too. `_bulk_docs` in the
 * order above is safe on both servers, and it is not slower (one read and one write per document).
 */
import { CatalogId, Views, type BlockDoc } from '../../views/schema';
import { statusOf, type Db, type Server } from '../../agents/platform/couch';
import { fetchDocs } from '../../agents/platform/bulk';
import { docsOf, type AnyDoc, type RawDoc } from '../../agents/platform/docs';
import { buildDesignDocs } from '../../design';
import { deployVersion } from '../../design/version';
import { projectRoot } from '../../agents/platform/config';
import { pushDesign, securityObject } from '../deploy';

export interface Endpoint {
  readonly server: Server;
  /** Server URL with credentials. */
  readonly url: string;
  readonly db: string;
}

export interface MigrateOptions {
  readonly source: Endpoint;
  readonly target: Endpoint;
  /** Blocks per round: ~100 files each, so 20 blocks are ~4000 documents per round. */
  readonly batchBlocks?: number;
  readonly log?: (line: string) => void;
}

export interface MigrateReport {
  readonly method: 'bulk';
  readonly closed_blocks: number;
  readonly already_there: number;
  readonly blocks: number;
  readonly files: number;
  readonly replicas: number;
  readonly datasets: number;
  readonly failed_blocks: { block: string; error: string }[];
  readonly ms: number;
}

type BulkResult = { id?: string; error?: string; reason?: string };

/** Creates the target database (secured, with the catalogue's design documents) when missing. */
export async function ensureCatalogDb(t: Endpoint, log: (line: string) => void): Promise<void> {
  let created = false;
  try {
    await t.server.db.get(t.db);
  } catch (err) {
    if (statusOf(err) !== 404) throw err;
    await t.server.db.create(t.db);
    await t.server.request({ db: t.db, path: '_security', method: 'PUT', body: securityObject() });
    created = true;
    log(`${t.db}: created`);
  }
  const root = projectRoot();
  const built = (await buildDesignDocs(root, deployVersion(root))).filter((b) => b.db === 'catalog');
  for (const b of built) {
    try {
      const action = await pushDesign(t.server, t.db, b);
      if (action !== 'unchanged' || created) log(`${t.db}/${b.id}: ${action}`);
    } catch (err) {
      // Not a database admin: the global catalogue is deployed by its operators; go on.
      if (statusOf(err) !== 401 && statusOf(err) !== 403) throw err;
    }
  }
}

async function closedBlocks(db: Db): Promise<BlockDoc[]> {
  const out: BlockDoc[] = [];
  let startkey = 'block:';
  for (;;) {
    const res = await db.list({ startkey, endkey: 'block:\ufff0', include_docs: true, limit: 1001 });
    for (const b of docsOf<BlockDoc>(res.rows.slice(0, 1000))) if (b.open === false) out.push(b);
    if (res.rows.length <= 1000) return out;
    startkey = res.rows[1000].id;
  }
}

async function present(db: Db, ids: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < ids.length; i += 1000) {
    const res = await db.fetchRevs({ keys: ids.slice(i, i + 1000) as string[] });
    for (const r of res.rows) if ('value' in r && r.value && !(r.value as { deleted?: boolean }).deleted) out.add(r.id);
  }
  return out;
}

/** The documents of one block in the source: its files and replicas (with the local views). */
async function contentsOf(db: Db, b: BlockDoc): Promise<RawDoc[]> {
  const [f, r] = await Promise.all([
    db.view(Views.contents.ddoc, Views.contents.name, {
      startkey: [b.dataset, 1, b.name],
      endkey: [b.dataset, 1, b.name, {}],
      include_docs: true,
      reduce: false,
    }),
    db.view(Views.replicas.ddoc, Views.replicas.name, {
      startkey: ['block', b.name],
      endkey: ['block', b.name, {}],
      include_docs: true,
      reduce: false,
    }),
  ]);
  return docsOf<RawDoc>([...f.rows, ...r.rows]);
}

function strip(doc: AnyDoc & { readonly _rev?: string; readonly _revisions?: unknown }): AnyDoc {
  const { _rev, _revisions, ...rest } = doc;
  void _rev;
  void _revisions;
  return rest;
}

/** Writes documents; a 409 is "already there" (deterministic ids). Returns the failed ids. */
async function write(db: Db, docs: readonly AnyDoc[]): Promise<Map<string, string>> {
  const bad = new Map<string, string>();
  for (let i = 0; i < docs.length; i += 2000) {
    const res = (await db.bulk({ docs: docs.slice(i, i + 2000).map(strip) })) as BulkResult[];
    for (const r of res) if (r.error && r.error !== 'conflict') bad.set(r.id!, `${r.error}: ${r.reason}`);
  }
  return bad;
}

export async function migrate(opts: MigrateOptions): Promise<MigrateReport> {
  const started = Date.now();
  const log = opts.log || (() => undefined);
  const method = 'bulk' as const;
  const src = opts.source.server.use<Record<string, unknown>>(opts.source.db);
  const dst = opts.target.server.use<Record<string, unknown>>(opts.target.db);
  await ensureCatalogDb(opts.target, log);
  const closed = await closedBlocks(src);
  const there = await present(
    dst,
    closed.map((b) => b._id),
  );
  const todo = closed.filter((b) => !there.has(b._id));
  const report = {
    method,
    closed_blocks: closed.length,
    already_there: there.size,
    blocks: 0,
    files: 0,
    replicas: 0,
    datasets: 0,
    failed_blocks: [] as { block: string; error: string }[],
    ms: 0,
  };
  const per = opts.batchBlocks || 20;
  // Reads of the next batch of blocks overlap the writes of this one (the source and the target
  // wait on different things); the order of writes, and so crash safety, is unchanged.
  const read = async (batch: BlockDoc[]) => {
    const contents = await Promise.all(batch.map((b) => contentsOf(src, b)));
    const dsIds = [...new Set(batch.map((b) => CatalogId.dataset(b.dataset)))];
    const datasets = [...(await fetchDocs<Record<string, unknown> & { _id: string }>(src, dsIds)).values()];
    return { contents, datasets };
  };
  let ahead = todo.length ? read(todo.slice(0, per)) : null;
  for (let i = 0; i < todo.length; i += per) {
    const batch = todo.slice(i, i + per);
    const { contents, datasets } = await ahead!;
    ahead = i + per < todo.length ? read(todo.slice(i + per, i + 2 * per)) : null;
    // A failed read-ahead is reported by the iteration that awaits it (or dropped with the run).
    ahead?.catch(() => undefined);
    const docs = contents.flat();
    {
      const badDs = await write(dst, datasets);
      const bad = await write(dst, docs);
      // A block whose dataset, files or replicas did not all arrive is not published globally.
      const ok: BlockDoc[] = [];
      batch.forEach((b, k) => {
        const err =
          badDs.get(CatalogId.dataset(b.dataset)) || contents[k].map((d) => bad.get(d._id as string)).find(Boolean);
        if (err) report.failed_blocks.push({ block: b.name, error: err });
        else ok.push(b);
      });
      const badBlocks = await write(dst, ok);
      for (const [id, err] of badBlocks) report.failed_blocks.push({ block: id.slice('block:'.length), error: err });
    }
    report.blocks += batch.length;
    report.files += docs.filter((d) => d.type === 'file').length;
    report.replicas += docs.filter((d) => d.type === 'replica').length;
    report.datasets += datasets.length;
    log(`migrated ${Math.min(i + per, todo.length)}/${todo.length} blocks`);
  }
  report.blocks -= report.failed_blocks.length;
  report.ms = Date.now() - started;
  return report;
}
