/**
 * The typed document layer between agents/tools and nano: read one document (`get`), write one
 * (`put`) or compare-and-set it (`update`), load a key range of `_all_docs` page by page
 * (`loadPrefix`), and typed rows of views (`queryView`), Mango queries (`find`) and `include_docs`
 * answers (`docsOf`). nano's `DocumentScope<D>` knows one document type per database, while each
 * database here holds several kinds (and `DocumentScope` is invariant in `D`, so a `Db` per kind
 * does not fit the nano calls); the casts from its untyped rows to the kinds the schema describes
 * are made here, once, instead of at every call site.
 *
 * A 409 on a write means the revision sent is not the stored one any more. What a caller does
 * then is its own decision, expressed in `update`'s options: re-read and decide again from the
 * stored document (the default), or stop and leave the stored document as it is.
 */
import type nano from 'nano';
import type { CouchMeta } from '../../views/schema';
import { statusOf, type Db } from './couch';
import { isDesignDocUpdated } from '../../views/lib/ddoc-updated';

/**
 * The one claim this layer makes: what nano hands back (typed `Record<string, unknown>` for every
 * kind) is the kind the caller's id, key range, view or selector holds, as validate_doc_update
 * checked it on the write. Every read below goes through here.
 */
function fromDb<T>(value: unknown): T {
  return value as T;
}

/** And the other way: a document of any kind is a JSON object nano writes as it is. */
function toDb(doc: object): Record<string, unknown> {
  return doc as Record<string, unknown>;
}

/** A document as the database returns it: with its revision. */
export type Stored<T> = T & { readonly _rev: string };

/** Any document: `type` says its kind (views/schema.ts), `_deleted` a tombstone of a change. */
export type AnyDoc = { readonly _id: string; readonly _deleted?: boolean; readonly type?: unknown };

/** A document of a kind not known yet (a row of a scan, a change): narrow it by its `type`. */
export type RawDoc = { readonly _id: string; readonly _deleted?: boolean } & Record<string, unknown>;

/** One document, or null when there is none (404: missing or deleted). */
export async function get<T extends CouchMeta>(
  db: Db,
  id: string,
  params?: { attachments?: boolean; rev?: string },
): Promise<Stored<T> | null> {
  try {
    return fromDb<Stored<T>>(await db.get(id, params));
  } catch (err) {
    if (statusOf(err) === 404) return null;
    throw err;
  }
}

/** Writes one document (its `_rev` is the revision it replaces) and returns it with the new one. */
export async function put<T extends { readonly _id?: string }>(db: Db, doc: T): Promise<Stored<T>> {
  const res = await db.insert(toDb(doc));
  return { ...doc, _rev: res.rev };
}

/**
 * The documents of rows that carry one (`include_docs`; `_all_docs` with `keys` answers a missing
 * id with a row without `doc`), as the kind the caller's key range or view holds.
 */
export function docsOf<T>(rows: readonly object[]): T[] {
  const out: T[] = [];
  for (const r of rows) {
    const doc = docOf<T>(r);
    if (doc) out.push(doc);
  }
  return out;
}

/** The document of one such row, or null when it carries none. */
export function docOf<T>(row: object): T | null {
  return 'doc' in row && row.doc ? fromDb<T>(row.doc) : null;
}

export interface UpdateOptions<T> {
  /**
   * The document as the caller last read or wrote it (null: it believes there is none): the first
   * write goes out without a read. Absent: the first attempt reads the stored document.
   */
  readonly from?: Stored<T> | T | null;
  /** On a 409: re-read and decide again (`retry`, the default), or leave the stored document (`stop`). */
  readonly onConflict?: 'retry' | 'stop';
  /** Writes tried before the update fails (default 5; 1: a 409 is an error). */
  readonly attempts?: number;
  /** Read with the attachments' bytes inline (design documents: their stubs' digests differ between engines). */
  readonly attachments?: boolean;
}

/** Thrown when every attempt of an update met a 409: other writers keep changing the document. */
export class ConflictsExhausted extends Error {
  /** A 409 still: errorKind and describeError treat it as the conflict it is. */
  readonly statusCode = 409;
  readonly error = 'conflict';
  constructor(
    readonly db: string,
    readonly id: string,
    readonly attempts: number,
  ) {
    super(`${db}/${id}: still in conflict after ${attempts} write${attempts === 1 ? '' : 's'}`);
  }
  get reason(): string {
    return this.message;
  }
}

/**
 * Compare-and-set: `mutate` gets the stored document (null when there is none) and returns the
 * document to write, or null to write nothing. The write carries the revision read, so it lands
 * only on the document `mutate` saw. Returns what was written, or null when nothing was (mutate
 * declined, or a 409 with `onConflict: 'stop'`).
 */
export async function update<T extends CouchMeta>(
  db: Db,
  id: string,
  mutate: (current: Stored<T> | null) => T | null,
  opts: UpdateOptions<T> = {},
): Promise<Stored<T> | null> {
  const attempts = opts.attempts ?? 5;
  let current: Stored<T> | null | undefined = opts.from === undefined ? undefined : (opts.from as Stored<T> | null);
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (current === undefined) current = await get<T>(db, id, opts.attachments ? { attachments: true } : undefined);
    const next = mutate(current);
    if (!next) return null;
    const { _rev: _drop, ...body } = next as T & { _rev?: string };
    try {
      return await put<T>(db, fromDb<T>({ ...body, _id: id, ...(current?._rev ? { _rev: current._rev } : {}) }));
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
      if (opts.onConflict === 'stop') return null;
      current = undefined;
    }
  }
  throw new ConflictsExhausted(db.config.db, id, attempts);
}

export interface LoadOptions {
  /** Rows per request. */
  readonly pageSize: number;
  /** Ids outside the range are never read: `endkey` is the prefix followed by U+FFF0. Absent: every id. */
  readonly prefix?: string;
  /** Leave out `_design/` documents (a full scan meets them). */
  readonly skipDesign?: boolean;
  readonly signal?: AbortSignal;
}

/**
 * Every document of an `_all_docs` key range, one page at a time: each page starts at the last id
 * of the one before with `skip: 1` (no offset scan), and a page shorter than `pageSize` is the
 * last. Calls `each` per document; stops early, without error, when the signal aborts.
 */
export async function loadPrefix<T extends { readonly _id: string } = RawDoc>(
  db: Db,
  opts: LoadOptions,
  each: (doc: T) => void,
): Promise<void> {
  const range = opts.prefix === undefined ? {} : { endkey: opts.prefix + '\ufff0' };
  let startkey: string | undefined = opts.prefix || undefined;
  let first = true;
  for (;;) {
    if (opts.signal?.aborted) return;
    const page = {
      include_docs: true,
      limit: opts.pageSize,
      ...range,
      ...(startkey !== undefined ? { startkey } : {}),
      ...(first ? {} : { skip: 1 }),
    };
    const res = await db.list(page);
    for (const row of res.rows) {
      if (row.doc && !(opts.skipDesign && row.id.startsWith('_design/'))) each(fromDb<T>(row.doc));
    }
    if (res.rows.length < opts.pageSize) return;
    startkey = res.rows[res.rows.length - 1].id;
    first = false;
  }
}

/** A view row; `doc` with `include_docs`. */
export interface ViewRow<K = unknown, V = unknown, D = unknown> {
  readonly id: string;
  readonly key: K;
  readonly value: V;
  readonly doc?: D;
}

/** The rows of a view query. nano types every key as a string; they are JSON values (arrays here). */
export async function queryView<K = unknown, V = unknown, D = unknown>(
  db: Db,
  ddoc: string,
  view: string,
  params: nano.DocumentViewParams = {},
): Promise<ViewRow<K, V, D>[]> {
  let res: nano.DocumentViewResponse<V, unknown>;
  try {
    res = await db.view<V>(ddoc, view, params);
  } catch (e) {
    // A query in flight while an upgrade swaps the design document: once more reads the new one.
    const err = e as { statusCode?: number; reason?: unknown };
    if (!isDesignDocUpdated(err.statusCode ?? 0, err.reason)) throw e;
    res = await db.view<V>(ddoc, view, params);
  }
  return fromDb<ViewRow<K, V, D>[]>(res.rows);
}

/** The documents a Mango query selects (or the `fields` of them), as the kind its selector names. */
export async function find<D>(db: Db, query: nano.MangoQuery): Promise<D[]> {
  const res = await db.find(query);
  return fromDb<D[]>(res.docs);
}
