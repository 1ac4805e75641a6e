/**
 * `couchstage archive`: moves terminal transfers whose `finished_at` is older than the setting
 * `expiration_days` (ASO: 30) from the hot `transfers` database to `<transfers>_archive`, so the
 * working set (and every index) stays small.
 *
 * Crash-safe and re-runnable, per page of 500 documents: (1) copy with `_bulk_docs`
 * `new_edits: false`, which stores the very same revision (a replay is a no-op); (2) read the
 * copies back and keep only the documents whose archived winning revision is the one we copied;
 * (3) delete exactly those revisions from the hot database. A document that changed between the
 * read and the delete (a user's retry request) answers 409 and stays hot; a crash between any two
 * steps leaves either a copy (verified and deleted by the next run) or nothing.
 * (4) Where the server has `_purge` (CouchDB), the tombstones of the deleted revisions are purged:
 * without it every archived transfer stays in the hot database as a deleted document, in the
 * by-id b-tree, in `_changes` from 0 (every new agent or index reads them) and in the file after
 * compaction. A crash between (3) and (4) leaves tombstones, as a server without `_purge` does.
 */
import { DEFAULT_SETTINGS, isTerminal, type DbRole, type TransferState } from '../../views/schema';
import { securityObject } from '../deploy';
import { dbPath, expectStatus, http } from './http';
import { getReadonly, setReadonly } from './readonly';
import { capabilities } from '../../agents/platform/capabilities';

/** 500 full documents per page: a few MB per request, bounded memory. */
const PAGE = 500;
/** CouchDB refuses a purge request of more ids than `[purge] max_document_id_number` (100). */
const PURGE_BATCH = 100;

export function archiveDbName(dbs: Record<DbRole, string>): string {
  return dbs.transfers + '_archive';
}

export interface ArchiveReport {
  readonly archiveDb: string;
  readonly cutoff: string;
  readonly scanned: number;
  readonly copied: number;
  readonly deleted: number;
  /** Changed after being read (409) or not verified in the archive: left in the hot db. */
  readonly skipped: number;
  /** Tombstones of the deleted transfers purged from the hot db (0 where there is no `_purge`). */
  readonly purged: number;
}

/** Purges exactly these revisions (the tombstones archive wrote); returns how many went. */
async function purge(url: string, db: string, revs: { id: string; rev: string }[]): Promise<number> {
  let n = 0;
  for (let i = 0; i < revs.length; i += PURGE_BATCH) {
    const batch = revs.slice(i, i + PURGE_BATCH);
    const a = expectStatus(
      await http<{ purged: Record<string, string[]> }>(url, 'POST', dbPath(db) + '/_purge', {
        body: Object.fromEntries(batch.map((r) => [r.id, [r.rev]])),
      }),
      `purging archived transfers from ${db}`,
      [201, 202],
    ).body;
    n += Object.values(a.purged || {}).filter((v) => v.length).length;
  }
  return n;
}

export async function expirationDays(url: string, dbs: Record<DbRole, string>): Promise<number> {
  const a = await http<{ expiration_days?: number }>(url, 'GET', `${dbPath(dbs.config)}/settings`);
  if (a.status === 404) return DEFAULT_SETTINGS.expiration_days;
  const v = expectStatus(a, 'settings').body.expiration_days;
  return typeof v === 'number' ? v : DEFAULT_SETTINGS.expiration_days;
}

async function ensureArchive(url: string, name: string): Promise<void> {
  // Every step every time: a run that died half-way through creating it is completed.
  expectStatus(await http(url, 'PUT', dbPath(name)), `creating ${name}`, [201, 202, 412]);
  expectStatus(await http(url, 'PUT', dbPath(name) + '/_security', { body: securityObject() }), `securing ${name}`);
  if ((await getReadonly(url, name))?.reason !== 'archive') await setReadonly(url, name, { reason: 'archive' });
}

type Doc = { _id: string; _rev: string; type?: string; state?: string; finished_at?: string | null };

export async function archive(
  url: string,
  dbs: Record<DbRole, string>,
  opts: { days?: number; now?: Date; log?: (l: string) => void } = {},
): Promise<ArchiveReport> {
  const log = opts.log || (() => undefined);
  const days = opts.days ?? (await expirationDays(url, dbs));
  if (!(days >= 0)) throw new Error(`expiration_days must be a number of days >= 0, got ${days}`);
  const cutoff = new Date((opts.now || new Date()).getTime() - days * 86_400_000).toISOString();
  const target = archiveDbName(dbs);
  await ensureArchive(url, target);
  const canPurge = (await capabilities(url)).purge;
  let scanned = 0,
    copied = 0,
    deleted = 0,
    skipped = 0,
    purged = 0;
  let startkey: string | null = null;
  for (;;) {
    const qs: string = `include_docs=true&limit=${PAGE + 1}${startkey ? `&startkey=${encodeURIComponent(JSON.stringify(startkey))}` : ''}`;
    const rows: { id: string; doc: Doc }[] = expectStatus(
      await http<{ rows: { id: string; doc: Doc }[] }>(url, 'GET', `${dbPath(dbs.transfers)}/_all_docs?${qs}`),
      'reading transfers',
    ).body.rows;
    const page = rows.slice(0, PAGE);
    startkey = rows.length > PAGE ? rows[PAGE].id : null;
    scanned += page.length;
    const old = expired(
      page.map((r) => r.doc),
      cutoff,
    );
    if (old.length) {
      const moved = await archivePage(url, dbs.transfers, target, old, canPurge);
      copied += moved.copied;
      deleted += moved.deleted;
      skipped += moved.skipped;
      purged += moved.purged;
      log(`archived ${deleted} of ${scanned} scanned so far`);
    }
    if (!startkey) break;
  }
  log(
    `${deleted} transfers finished before ${cutoff} moved to ${target}${purged ? ` (${purged} purged from ${dbs.transfers})` : ''}${skipped ? `; ${skipped} changed meanwhile and stay (next run)` : ''}`,
  );
  return { archiveDb: target, cutoff, scanned, copied, deleted, skipped, purged };
}

/** Terminal transfers that finished before the cutoff. */
function expired(docs: Doc[], cutoff: string): Doc[] {
  return docs.filter(
    (d) =>
      d &&
      d.type === 'transfer' &&
      isTerminal(d.state as TransferState) &&
      typeof d.finished_at === 'string' &&
      d.finished_at < cutoff,
  );
}

/** Steps 1 to 4 for one page of expired transfers: copy, verify, delete, purge. */
async function archivePage(
  url: string,
  hot: string,
  target: string,
  old: Doc[],
  canPurge: boolean,
): Promise<{ copied: number; deleted: number; skipped: number; purged: number }> {
  let deleted = 0,
    skipped = 0,
    purged = 0;
  // 1. copy the same revisions
  const res = expectStatus(
    await http<{ error?: string }[]>(url, 'POST', dbPath(target) + '/_bulk_docs', {
      body: { docs: old, new_edits: false },
    }),
    'copying to the archive',
  ).body;
  if (Array.isArray(res) && res.some((r) => r.error))
    throw new Error(`copying to ${target}: ${JSON.stringify(res.find((r) => r.error))}`);
  const copied = old.length;
  // 2. verify: the archive's winning revision is the one copied
  const check = expectStatus(
    await http<{ rows: { key: string; value?: { rev: string } }[] }>(url, 'POST', `${dbPath(target)}/_all_docs`, {
      body: { keys: old.map((d) => d._id) },
    }),
    'verifying the archive',
  ).body.rows;
  const archived = new Map(check.filter((r) => r.value).map((r) => [r.key, r.value!.rev]));
  const verified = old.filter((d) => archived.get(d._id) === d._rev);
  skipped += old.length - verified.length;
  // 3. delete the verified revisions from the hot db
  if (verified.length) {
    const del = expectStatus(
      await http<{ id: string; rev?: string; error?: string }[]>(url, 'POST', dbPath(hot) + '/_bulk_docs', {
        body: { docs: verified.map((d) => ({ _id: d._id, _rev: d._rev, _deleted: true })) },
      }),
      'deleting archived transfers',
    ).body;
    const gone = del.filter((r) => !r.error && r.rev);
    deleted += gone.length;
    skipped += del.length - gone.length;
    // 4. purge the tombstones
    if (canPurge && gone.length)
      purged += await purge(
        url,
        hot,
        gone.map((r) => ({ id: r.id, rev: r.rev! })),
      );
  }
  return { copied, deleted, skipped, purged };
}
