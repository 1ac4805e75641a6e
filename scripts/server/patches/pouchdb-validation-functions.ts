/**
 * The compiled validate_doc_update functions of each database, for the patch recorded in
 * pouchdb-validation.ts: compiled once and kept until a design document of the database is
 * written (or, as a safety net, found changed), instead of read and compiled again for every
 * document written. Separate because it is a cache with its own rules of coherence; the wrappers
 * that use it stay in pouchdb-validation.ts.
 */
import { ddocRequire } from '../ddoc-require';
import { upstream } from '../patched-versions';

const coucheval = upstream('couchdb-eval').load();

/** A database, as far as validation uses it. */
export type Db = {
  allDocs(
    o: object,
  ): Promise<{ rows: { key?: unknown; error?: string; value?: unknown; doc: Record<string, unknown> }[] }>;
  get(id: string, o: object): Promise<Record<string, unknown>>;
  info(): Promise<unknown>;
  type(): string;
};
/** One compiled validation function and the design document it runs as (`this`). */
export type Fn = { func: (...a: unknown[]) => void; designDoc: Record<string, unknown> };

/**
 * A safety net for any write path that bypasses the wrappers: at least this often the design
 * documents' revisions are listed again (ids and revisions only, in the background: the write
 * that notices the age is validated with the functions at hand), and the functions are compiled
 * again only if one changed. Recompiling and re-reading the design documents on the write path
 * every 5 s showed as latency spikes of 50-100 ms under many single writes (a recompiled function
 * is also cold code that V8 runs slowly until it optimises it again).
 */
const MAX_AGE_MS = 5000;
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

export function validationFunctions(db: Db): Promise<Fn[]> {
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

function touchesDesign(docs: { _id?: unknown }[]): boolean {
  return docs.some((d) => typeof d?._id === 'string' && d._id.indexOf('_design/') === 0);
}

/** After a write that touched a design document, forget the cached functions. */
export function invalidating(orig: () => Promise<unknown>, base: Db, docs: { _id?: unknown }[]): Promise<unknown> {
  const touches = touchesDesign(docs);
  return orig().then((res) => {
    if (touches) cache.delete(base);
    return res;
  });
}
