/**
 * `_all_docs` with `keys` for the embedded server: one point read per key instead of one range
 * scan per key.
 *
 * PouchDB answers `allDocs({keys})` by running a whole `_allDocs({key})` range query for each
 * key: a LevelDB iterator (with its snapshot) created, advanced and closed per document. The
 * agents read documents by id all the time (a worker reads its job's files, the scheduler
 * re-reads files that changed), and in a profile of the control plane those iterators were the
 * largest cost left after leveldown-cache.ts. Here each key is a point read (`_get`: the document's
 * metadata, then its winning revision), which leveldown-cache.ts answers from memory when it can.
 *
 * Only the plain form is served this way (keys, optionally include_docs); anything else
 * (conflicts, attachments, update_seq, ...) and every key whose point read fails otherwise than
 * as missing (deleted, `_local`, not a string) goes to PouchDB's own code, so results are
 * PouchDB's to the byte: same rows, same order, same `not_found` and `deleted` rows. A key with no
 * revision at all is answered `{key, error: 'not_found'}` here, PouchDB's own row for it (it used
 * to cost a range scan, and agents look up deterministic ids that do not exist yet all the time).
 *
 * Patch record.
 * Package: pouchdb 9.0.0 (its leveldb adapter, pouchdb-adapter-leveldb-core 9.0.0).
 * Function: the adapter's `_allDocs`, for `allDocs({keys})` (one range query per key).
 * Justified by: control plane 477 -> 630 files/s at 20k on the embedded server (BENCHMARKS.md,
 * control plane); CouchDB answers keyed `_all_docs` natively.
 * Goes when: PouchDB reads each key with a point read.
 */
type Cb<T> = (err: Error | null, res?: T) => void;
interface Row {
  id?: string;
  key: string;
  value?: { rev: string; deleted?: boolean };
  doc?: Record<string, unknown> | null;
  error?: string;
}
interface AllDocsResult {
  total_rows?: number;
  offset?: number;
  rows: Row[];
  update_seq?: unknown;
}
interface Adapter {
  _allDocs(opts: Record<string, unknown>, cb: Cb<AllDocsResult>): unknown;
  _get(
    id: string,
    opts: Record<string, unknown>,
    cb: Cb<{ doc: Record<string, unknown> & { _rev: string; _attachments?: Record<string, { stub?: boolean }> } }>,
  ): void;
  _info(cb: Cb<{ doc_count: number }>): void;
}

// Options the plain form may carry (set to false or undefined, any other option may too).
// userCtx: added by pouchdb-security's wrappers once a request is authorised; reads ignore it.
// descending: allDocs() has already reversed `keys` and set it to false (allDocsKeysParse).
const SIMPLE = new Set(['keys', 'include_docs', 'skip', 'deleted', 'userCtx']);

function pointRead(api: Adapter, key: unknown, includeDocs: boolean): Promise<Row | null> {
  if (typeof key !== 'string' || key.startsWith('_local/')) return Promise.resolve(null);
  return new Promise((resolve) => {
    api._get(key, {}, (err, res) => {
      // 'missing': no revision of it at all (a deleted document answers 'deleted', which PouchDB's
      // own path turns into a row with its revision): PouchDB's row for it is exactly this one.
      if (err && (err as { reason?: string }).reason === 'missing') return resolve({ key, error: 'not_found' });
      if (err || !res) return resolve(null);
      const row: Row = { id: key, key, value: { rev: res.doc._rev } };
      if (includeDocs) {
        for (const att of Object.values(res.doc._attachments || {})) att.stub = true;
        row.doc = res.doc;
      }
      resolve(row);
    });
  });
}

export function patchKeyedReads(api: Adapter): void {
  const inner = api._allDocs;
  api._allDocs = function (this: Adapter, opts: Record<string, unknown>, callback: Cb<AllDocsResult>) {
    const keys = opts.keys as unknown[] | undefined;
    if (
      !Array.isArray(keys) ||
      Object.keys(opts).some((k) => !SIMPLE.has(k) && opts[k] !== undefined && opts[k] !== false)
    ) {
      return inner.call(this, opts, callback);
    }
    const includeDocs = opts.include_docs === true;
    return (async () => {
      const rows = await Promise.all(keys.map((k) => pointRead(this, k, includeDocs)));
      const missing = keys.filter((_, i) => rows[i] === null);
      let total: number;
      if (missing.length) {
        const res = await (inner.call(this, { ...opts, keys: missing }, () => undefined) as Promise<AllDocsResult>);
        let j = 0;
        for (let i = 0; i < rows.length; i++) if (rows[i] === null) rows[i] = res.rows[j++];
        total = res.total_rows ?? 0;
      } else {
        total = await new Promise<number>((resolve, reject) =>
          this._info((err, info) => (err ? reject(err) : resolve(info!.doc_count))),
        );
      }
      return { offset: opts.skip as number | undefined, total_rows: total, rows: rows as Row[] };
    })();
  };
}

/** PouchDB plugin: wraps the leveldb adapter so every database it opens gets patchKeyedReads. */
export function keyedReads(PouchDB: {
  adapters: Record<string, unknown>;
  adapter(name: string, fn: unknown, preferred?: boolean): void;
}): void {
  const original = PouchDB.adapters.leveldb as ((this: Adapter, opts: unknown, cb: Cb<unknown>) => void) & {
    valid?: unknown;
    use_prefix?: unknown;
  };
  if (!original) throw new Error('keyedReads: no leveldb adapter');
  function LevelDownPouchKeyed(this: Adapter, opts: unknown, callback: Cb<unknown>) {
    original.call(this, opts, (err, api) => {
      if (!err) patchKeyedReads(this);
      callback(err, api);
    });
  }
  LevelDownPouchKeyed.valid = original.valid;
  LevelDownPouchKeyed.use_prefix = original.use_prefix;
  PouchDB.adapter('leveldb', LevelDownPouchKeyed, true);
}
