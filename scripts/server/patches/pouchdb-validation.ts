/**
 * validate_doc_update for the embedded server: pouchdb-validation's behaviour (same wrappers,
 * same userCtx/secObj, same 401/403 answers) with one change: the compiled validation functions
 * of a database are cached until a design document of that database is written, instead of being
 * read (an `_all_docs` range with docs) and compiled again for every single document written.
 * Measured: that read was the largest part of every validated write. Loaded in place of
 * pouchdb-validation (replacePouchdbValidation, called by embedded.ts).
 *
 * Second change: the revisions this server just wrote are remembered (a bounded map keyed by
 * id and revision), so validating the next edit of a document does not read the old revision
 * back from LevelDB. A revision's body never changes, so the remembered copy is exactly what a
 * read would return; a miss falls back to the read.
 *
 * Third: `require` in a validation function keeps a module's exports for the life of the compiled
 * design document, as CouchDB 3 does (ddoc-require.ts); couchdb-eval 4.2.0 evaluated the
 * module again on every call, which for a 38 KB validation module is most of a write.
 *
 * Patch record.
 * Package: pouchdb-validation 4.2.0 (the copy express-pouchdb 4.2.0 loads), with couchdb-eval and
 * couchdb-objects 4.2.0, pouchdb-wrappers and pouchdb-plugin-error 4.2.0 as it uses them.
 * Function: the whole plugin (`installValidationMethods`, `uninstallValidationMethods` and the
 * wrappers of put, post, remove, bulkDocs, putAttachment, removeAttachment), put in its place in
 * the module cache by replacePouchdbValidation before express-pouchdb loads it.
 * Justified by: the per-document re-read and recompile was the largest part of every validated
 * write; control plane 293 -> 342 files/s at 20k with the remembered revisions, and slow single
 * inserts every 5-10 s before the compile cache (BENCHMARKS.md, control plane and catalogue).
 * `require` is a correctness change: CouchDB 3 keeps a module's exports per design document.
 * Goes when: pouchdb-validation caches compiled
 * functions per design-document revision and supports `require`.
 */
import { randomUUID } from 'crypto';
import { ddocRequire } from '../ddoc-require';
import { upstream } from '../patched-versions';

const coucheval = upstream('couchdb-eval').load();
const couchdbObjects = upstream('couchdb-objects').load();
const wrappers = upstream('pouchdb-wrappers').load();
const PouchPluginError = upstream('pouchdb-plugin-error').load();

type Db = {
  allDocs(
    o: object,
  ): Promise<{ rows: { key?: unknown; error?: string; value?: unknown; doc: Record<string, unknown> }[] }>;
  get(id: string, o: object): Promise<Record<string, unknown>>;
  info(): Promise<unknown>;
  type(): string;
};
type Fn = { func: (...a: unknown[]) => void; designDoc: Record<string, unknown> };
type Options = { userCtx?: unknown; secObj?: unknown; checkHttp?: boolean };

/**
 * A safety net for any write path that bypasses the wrappers: at least this often the design
 * documents' revisions are listed again (ids and revisions only, in the background: the write
 * that notices the age is validated with the functions at hand), and the functions are compiled
 * again only if one changed. Recompiling and re-reading the design documents on the write path
 * every 5 s showed as latency spikes of 50-100 ms under many single writes (a recompiled function
 * is also cold code that V8 runs slowly until it optimises it again).
 */
const MAX_AGE_MS = 5000;
/**
 * Documents validated and written per step of a `_bulk_docs`. One 50,000-document request took
 * 60 s here and left every other client unanswered for 57 s of it: validation and PouchDB's
 * revision handling ran as one stretch of promise callbacks. Written in steps, other requests
 * are answered between them. Each document of a `_bulk_docs` succeeds or fails on its own in
 * CouchDB too, so the steps change no answer.
 */
const BULK_STEP = 1000;
const cache = new WeakMap<object, { at: number; revs: string | null; funcs: Promise<Fn[]> }>();

type DesignRow = { id?: string; value?: { rev?: string }; doc?: Record<string, unknown> };
const listDesign = (db: Db, docs: boolean) =>
  db.allDocs({ startkey: '_design/', endkey: '_design0', include_docs: docs }) as unknown as Promise<{
    rows: DesignRow[];
  }>;
const designRevs = (rows: DesignRow[]) => rows.map((r) => `${r.id}@${r.value?.rev}`).join('\n');

function moduleRequire(ddoc: Record<string, unknown>): (name: string) => unknown {
  return ddocRequire(ddoc, (source) => new Function('module', 'exports', 'require', source) as never);
}

function compile(db: Db): void {
  const entry = { at: Date.now(), revs: null as string | null, funcs: null as unknown as Promise<Fn[]> };
  entry.funcs = listDesign(db, true).then((res) => {
    entry.revs = designRevs(res.rows);
    return res.rows
      .filter((r) => typeof r.doc!.validate_doc_update !== 'undefined')
      .map((r) => ({
        designDoc: r.doc!,
        func: coucheval.evaluate(r.doc, { require: moduleRequire(r.doc!) }, r.doc!.validate_doc_update),
      }));
  });
  entry.funcs.catch(() => {
    if (cache.get(db) === entry) cache.delete(db);
  });
  cache.set(db, entry);
}

function validationFunctions(db: Db): Promise<Fn[]> {
  let hit = cache.get(db);
  if (!hit) {
    compile(db);
    hit = cache.get(db)!;
  } else if (Date.now() - hit.at >= MAX_AGE_MS) {
    const seen = hit;
    seen.at = Date.now(); // one check at a time
    listDesign(db, false).then(
      (res) => {
        if (cache.get(db) === seen && seen.revs !== designRevs(res.rows)) compile(db);
      },
      () => {
        if (cache.get(db) === seen) cache.delete(db);
      },
    );
  }
  return hit.funcs;
}

/** Recently written revisions per database: `id \u0000 rev` -> the document as a read returns it. */
const RECENT_MAX = 50_000;
const recent = new WeakMap<object, Map<string, Record<string, unknown>>>();

function recentOf(db: Db): Map<string, Record<string, unknown>> {
  let m = recent.get(db);
  if (!m) recent.set(db, (m = new Map()));
  return m;
}

/** Remembers a revision just written (not attachments: reads return stubs for those). */
function remember(db: Db, doc: Record<string, unknown>, rev: string): void {
  if (doc._attachments !== undefined || typeof doc._id !== 'string') return;
  const stored: Record<string, unknown> = { _id: doc._id, _rev: rev };
  if (doc._deleted === true) stored._deleted = true;
  for (const k of Object.keys(doc)) if (k.charAt(0) !== '_') stored[k] = doc[k];
  const m = recentOf(db);
  m.set(doc._id + '\u0000' + rev, stored);
  if (m.size > RECENT_MAX) m.delete(m.keys().next().value as string);
}

function touchesDesign(docs: { _id?: unknown }[]): boolean {
  return docs.some((d) => typeof d?._id === 'string' && d._id.indexOf('_design/') === 0);
}

function run(
  funcs: Fn[],
  newDoc: Record<string, unknown>,
  oldDoc: Record<string, unknown> | null,
  options: Options,
): void {
  // pouchdb-validation set `_revisions` on the document being written, which replaced the revision
  // path of a replicated (`new_edits: false`) write and made PouchDB drop it: give the functions a
  // copy instead, and keep a path the writer sent.
  const doc = newDoc._revisions === undefined ? { ...newDoc, _revisions: (oldDoc || {})._revisions } : newDoc;
  try {
    for (const f of funcs) f.func.call(f.designDoc, doc, oldDoc, options.userCtx, options.secObj);
  } catch (e) {
    const err = e as { unauthorized?: string; forbidden?: string };
    if (err && typeof err.unauthorized !== 'undefined')
      throw new PouchPluginError({ name: 'unauthorized', message: err.unauthorized, status: 401 });
    if (err && typeof err.forbidden !== 'undefined')
      throw new PouchPluginError({ name: 'forbidden', message: err.forbidden, status: 403 });
    throw coucheval.wrapExecutionError(e);
  }
}

async function doValidation(
  db: Db,
  newDoc: Record<string, unknown>,
  options: Options,
  absent?: Set<string>,
): Promise<void> {
  if (['http', 'https'].indexOf(db.type()) !== -1 && !options.checkHttp) return;
  const id = String(newDoc._id);
  if (id.indexOf('_design/') === 0 || id.indexOf('_local') === 0) return;
  const funcs = await validationFunctions(db);
  if (!funcs.length) return;
  if (!options.secObj) options.secObj = {};
  if (!options.userCtx) options.userCtx = couchdbObjects.buildUserContextObject(await db.info());
  run(funcs, newDoc, await editedRevision(db, id, newDoc, absent), options);
}

/**
 * The ids of a batch's new documents (no `_rev`, no revision path) of which no revision exists at
 * all, found with one keyed `_all_docs` read for the whole batch (pouchdb-all-docs-keys.ts answers each key
 * with a point read). Their validation gets null for the old document without a `get` each, as a
 * `get` of them would answer: a migration or a bulk load of N new documents used to read N missing
 * documents one by one. Deleted documents are not in the set: their validation reads them.
 */
async function absentIds(db: Db, docs: Record<string, unknown>[]): Promise<Set<string>> {
  const ids = docs
    .filter(
      (d) => typeof d._id === 'string' && d._rev === undefined && d._revisions === undefined && d._id.charAt(0) !== '_',
    )
    .map((d) => d._id as string);
  if (ids.length < 2 || ['http', 'https'].indexOf(db.type()) !== -1 || !(await validationFunctions(db)).length)
    return new Set();
  const res = await db.allDocs({ keys: ids });
  return new Set(
    res.rows
      .filter((r) => r.error === 'not_found' && r.value === undefined && typeof r.key === 'string')
      .map((r) => r.key as string),
  );
}

/**
 * The stored document a write is validated against, as CouchDB chooses it: the revision being
 * edited (any leaf, also a losing one of a conflict, not just the winner), or for a replicated
 * write the nearest ancestor on its revision path that is stored. pouchdb-validation always used
 * the winner. A `_rev` that is not stored at all (a stale write, which then meets its 409) falls
 * back to the winner, as before.
 */
async function editedRevision(
  db: Db,
  id: string,
  newDoc: Record<string, unknown>,
  absent?: Set<string>,
): Promise<Record<string, unknown> | null> {
  const revs: string[] = typeof newDoc._rev === 'string' ? [newDoc._rev] : [];
  if (!revs.length && newDoc._revisions === undefined && absent?.has(id)) return null;
  const path = newDoc._revisions as { start?: unknown; ids?: unknown } | undefined;
  if (path && typeof path.start === 'number' && Array.isArray(path.ids)) {
    for (let i = 1; i < path.ids.length; i++) revs.push(`${path.start - i}-${path.ids[i]}`);
  }
  const m = recent.get(db);
  if (m && revs.length) {
    const hit = m.get(id + '\u0000' + revs[0]);
    if (hit) {
      m.delete(id + '\u0000' + revs[0]); // a revision is edited once, as a rule
      return { ...hit };
    }
  }
  for (const rev of revs) {
    const doc = await db.get(id, { rev, revs: true }).catch(() => null);
    if (doc) return doc;
  }
  return db.get(id, { revs: true }).catch(() => null);
}

type Args = {
  base: Db;
  doc: Record<string, unknown>;
  docs?: Record<string, unknown>[];
  options: Options;
  docId?: string;
  rev?: string;
  attachmentId?: string;
  type?: string;
};

/** After a write that touched a design document, forget the cached functions. */
function invalidating(orig: () => Promise<unknown>, base: Db, docs: { _id?: unknown }[]): Promise<unknown> {
  const touches = touchesDesign(docs);
  return orig().then((res) => {
    if (touches) cache.delete(base);
    return res;
  });
}

const wrapperApi: Record<string, (orig: () => Promise<unknown>, args: Args) => Promise<unknown>> = {
  put: (orig, args) =>
    doValidation(args.base, args.doc, args.options).then(() => invalidating(orig, args.base, [args.doc])),
  post: (orig, args) => {
    args.doc._id = args.doc._id || randomUUID();
    return doValidation(args.base, args.doc, args.options).then(() => invalidating(orig, args.base, [args.doc]));
  },
  remove: (orig, args) => {
    args.doc._deleted = true;
    return doValidation(args.base, args.doc, args.options).then(() => invalidating(orig, args.base, [args.doc]));
  },
  bulkDocs: (orig, args) => {
    const docs = (args.docs || []).slice();
    for (const doc of docs) doc._id = doc._id || randomUUID();
    // pouchdb-bulkdocs-wrapper's logic, keeping the accepted documents to remember their revisions,
    // in steps of BULK_STEP documents with the event loop free between them.
    const refused: unknown[] = [];
    const written: unknown[] = [];
    const step = async (part: Record<string, unknown>[]) => {
      const absent = await absentIds(args.base, part).catch(() => new Set<string>());
      const ok = await Promise.all(
        part.map((doc) =>
          doValidation(args.base, doc, args.options, absent).then(
            () => true,
            (err) => {
              (err as { id?: unknown }).id = doc._id;
              refused.push(err);
              return false;
            },
          ),
        ),
      );
      const accepted = part.filter((_d, i) => ok[i]);
      args.docs = accepted;
      const snapshot = accepted.map((d) => ({ ...d }));
      const res = await orig();
      const rows = Array.isArray(res) ? (res as { ok?: boolean; id?: string; rev?: string }[]) : [];
      if ((args.options as { new_edits?: boolean }).new_edits !== false && rows.length === snapshot.length) {
        rows.forEach((r, i) => {
          if (r && r.ok && r.rev && r.id === snapshot[i]._id) remember(args.base, snapshot[i], r.rev);
        });
      }
      written.push(...rows);
    };
    const write = async () => {
      for (let i = 0; i === 0 || i < docs.length; i += BULK_STEP) {
        if (i > 0) await new Promise((resolve) => setImmediate(resolve));
        await step(docs.slice(i, i + BULK_STEP));
      }
      return refused.concat(written);
    };
    return invalidating(write, args.base, docs);
  },
  putAttachment: (orig, args) =>
    args.base
      .get(args.docId!, { rev: args.rev, revs: true })
      .catch(() => ({ _id: args.docId }))
      .then((doc) => {
        const d = doc as Record<string, unknown> & { _attachments?: Record<string, unknown> };
        d._attachments = d._attachments || {};
        d._attachments[args.attachmentId!] = { content_type: args.type, data: args.doc };
        return doValidation(args.base, d, args.options);
      })
      .then(() => invalidating(orig, args.base, [{ _id: args.docId }])),
  removeAttachment: (orig, args) =>
    args.base
      .get(args.docId!, { rev: args.rev, revs: true })
      .then((doc) => {
        const d = doc as Record<string, unknown> & { _attachments: Record<string, unknown> };
        delete d._attachments[args.attachmentId!];
        return doValidation(args.base, d, args.options);
      })
      .then(() => invalidating(orig, args.base, [{ _id: args.docId }])),
};

export function installValidationMethods(this: Db): void {
  try {
    wrappers.installWrapperMethods(this, wrapperApi);
  } catch {
    throw new PouchPluginError({
      status: 500,
      name: 'already_installed',
      message: 'Validation methods are already installed on this database.',
    });
  }
}

export function uninstallValidationMethods(this: Db): void {
  try {
    wrappers.uninstallWrapperMethods(this, wrapperApi);
  } catch {
    throw new PouchPluginError({
      status: 500,
      name: 'already_not_installed',
      message: 'Validation methods are already not installed on this database.',
    });
  }
}

/**
 * Puts this module in the module cache where express-pouchdb 4.2.0 will `require` pouchdb-validation,
 * so the plugin it installs on every database is this one. Call before express-pouchdb is loaded.
 */
export function replacePouchdbValidation(): void {
  const file = require.resolve(upstream('pouchdb-validation').dir);
  const self = { installValidationMethods, uninstallValidationMethods };
  require.cache[file] = { id: file, filename: file, loaded: true, exports: self } as NodeJS.Module;
}
