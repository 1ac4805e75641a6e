/**
 * Patch record.
 * Package: pouchdb-abstract-mapreduce 9.0.0 (the engine of patches/pouchdb-mapreduce-query.ts).
 * Function: `viewCleanup` (its `localViewCleanup`).
 *
 * pouchdb-abstract-mapreduce 9.0.0's `localViewCleanup` destroys every database named in the
 * `_local/mrviews` document whose design doc is gone, with `new db.constructor(name).destroy()`.
 * A `_local` document is writable by any member, so a listed `_users` or `catalog` would be
 * destroyed by the next `_view_cleanup` an admin runs (reproduced). Only this database's own view
 * indexes, `<db>-mrview-<md5>`, may be destroyed; any other name is refused and left alone.
 *
 * Justified by correctness and safety (the reproduction above; test/scripts/server/view-cleanup.test.ts);
 * CouchDB keeps view indexes outside the database, so `_local/mrviews` is inert there.
 * Goes when: pouchdb-abstract-mapreduce destroys only the database's own index databases.
 */
import { engine } from './pouchdb-mapreduce-query';

interface PouchLike {
  name: string;
  constructor: new (name: string, opts: unknown) => { destroy(): Promise<unknown> };
}

/** The database as the cleanup sees it, whose constructor may destroy only its own index databases. */
function guardedDestroy(db: PouchLike): PouchLike {
  const Real = db.constructor;
  const own = new RegExp('^' + db.name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&') + '-mrview-(temp|[0-9a-f]{32})$');
  function Guarded(name: string, opts: unknown) {
    if (!own.test(name)) return { destroy: () => Promise.resolve({ ok: false, refused: name }) };
    return new Real(name, opts);
  }
  return new Proxy(db, { get: (t, k, r) => (k === 'constructor' ? Guarded : Reflect.get(t, k, r)) });
}

/** `viewCleanup` of the plugin, on the engine of patches/pouchdb-mapreduce-query.ts. */
export function viewCleanup(this: unknown, callback: unknown): unknown {
  return engine.viewCleanup.call(guardedDestroy(this as PouchLike), callback);
}
