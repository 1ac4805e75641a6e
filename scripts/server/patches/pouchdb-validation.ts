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
 * The patch is this file (the wrappers, running the functions, replacing the plugin); two parts
 * of it live beside it: the compiled-functions cache (pouchdb-validation-functions.ts) and the
 * old document a write is validated against, with the remembered revisions
 * (pouchdb-validation-old-doc.ts).
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
import { upstream } from '../patched-versions';
import { invalidating, validationFunctions, type Db, type Fn } from './pouchdb-validation-functions';
import { absentIds, editedRevision, remember } from './pouchdb-validation-old-doc';

const coucheval = upstream('couchdb-eval').load();
const couchdbObjects = upstream('couchdb-objects').load();
const wrappers = upstream('pouchdb-wrappers').load();
const PouchPluginError = upstream('pouchdb-plugin-error').load();

type Options = { userCtx?: unknown; secObj?: unknown; checkHttp?: boolean };

/**
 * Documents validated and written per step of a `_bulk_docs`. One 50,000-document request took
 * 60 s here and left every other client unanswered for 57 s of it: validation and PouchDB's
 * revision handling ran as one stretch of promise callbacks. Written in steps, other requests
 * are answered between them. Each document of a `_bulk_docs` succeeds or fails on its own in
 * CouchDB too, so the steps change no answer.
 */
const BULK_STEP = 1000;

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
type Wrapper = (orig: () => Promise<unknown>, args: Args) => Promise<unknown>;

/** One step's documents validated: the accepted ones, in order; each refusal, with its id, goes to `refused`. */
async function validateStep(args: Args, part: Record<string, unknown>[], refused: unknown[]) {
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
  return part.filter((_d, i) => ok[i]);
}

/**
 * pouchdb-bulkdocs-wrapper's logic, keeping the accepted documents to remember their revisions,
 * in steps of BULK_STEP documents with the event loop free between them.
 */
const bulkDocs: Wrapper = (orig, args) => {
  const docs = (args.docs || []).slice();
  for (const doc of docs) doc._id = doc._id || randomUUID();
  const refused: unknown[] = [];
  const written: unknown[] = [];
  const step = async (part: Record<string, unknown>[]) => {
    const accepted = await validateStep(args, part, refused);
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
};

const wrapperApi: Record<string, Wrapper> = {
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
  bulkDocs,
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
