/**
 * Patch record.
 * Package: express-pouchdb 4.2.0 (its `dbWrapper._wrappers` list), with pouchdb-wrappers 4.2.0.
 * Function: the database wrappers of every database express-pouchdb opens: a wrapper first in the
 * list wraps `put`, `post`, `bulkDocs` and `bulkGet`.
 * Justified by correctness (measured on CouchDB 3.4.3): writes whose ids are in the body
 * (`POST /db`, `_bulk_docs`) must meet the design-document and `_local/_security` rule (db admins
 * only; a batch answers 201 with a `forbidden` entry per refused document), `_bulk_get` never
 * returns local documents, and a member's design document is 403 `forbidden`, where
 * pouchdb-security answered 401.
 * Goes when: express-pouchdb and pouchdb-security apply CouchDB's rules to these writes.
 */
import { isProtectedId } from '../authz/rules';
import { isDbAdmin, rulesOf, type App, type Sec } from '../authz/sections';
import type { UserCtx } from '../authz/identity';
import { upstream } from '../patched-versions';

export function installDocumentRules(app: App): void {
  const wrappers = upstream('pouchdb-wrappers').load();
  type Opts = { userCtx?: UserCtx; secObj?: Sec };
  const allowed = (o: Opts | undefined) => !o?.userCtx || isDbAdmin(o.userCtx, rulesOf(o.secObj || {}));
  const anon = (o: Opts | undefined) => o?.userCtx?.name === null;
  const refusal = (o: Opts | undefined) =>
    anon(o) ? { status: 401, name: 'unauthorized' } : { status: 403, name: 'forbidden' };
  const forbidden = (o: Opts | undefined) =>
    Object.assign(
      new Error('You are not a db or server admin.'),
      { error: true, message: 'You are not a db or server admin.' },
      refusal(o),
    );
  const single = (original: () => Promise<unknown>, args: { doc?: { _id?: unknown }; options?: Opts }) =>
    isProtectedId(args.doc?._id) && !allowed(args.options) ? Promise.reject(forbidden(args.options)) : original();
  const handlers = {
    put: single,
    post: single,
    bulkDocs(original: () => Promise<unknown[]>, args: { docs: { _id?: unknown }[]; options?: Opts }) {
      if (!Array.isArray(args.docs) || allowed(args.options) || !args.docs.some((d) => d && isProtectedId(d._id)))
        return original();
      // CouchDB answers such a batch 201 with a `forbidden` entry per refused document, in order.
      const all = args.docs;
      args.docs = all.filter((d) => !(d && isProtectedId(d._id)));
      return original().then((written) => {
        let i = 0;
        return all.map((d) =>
          d && isProtectedId(d._id)
            ? { id: d._id, error: true, message: 'You are not a db or server admin.', ...refusal(args.options) }
            : written[i++],
        );
      });
    },
    bulkGet(original: () => Promise<{ results: { id: string; docs: unknown[] }[] }>) {
      // CouchDB's `_bulk_get` never returns local documents; here one of them is the security object.
      return original().then((r) => ({
        ...r,
        results: r.results.map((x) =>
          typeof x.id === 'string' && x.id.startsWith('_local/')
            ? { id: x.id, docs: [{ error: { id: x.id, rev: 'undefined', error: 'not_found', reason: 'missing' } }] }
            : x,
        ),
      }));
    },
  };
  // First of the database wrappers, so these handlers run before pouchdb-security's (which
  // answers a member's design document 401 `unauthorized` where CouchDB answers 403 `forbidden`).
  const list = (app.dbWrapper as unknown as { _wrappers: unknown[] })._wrappers;
  list.unshift((_name: string, db: unknown, next: () => unknown) => {
    wrappers.installWrapperMethods(db, handlers);
    return next();
  });
}
