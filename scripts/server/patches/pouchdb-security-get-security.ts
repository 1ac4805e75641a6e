/**
 * Security objects for the embedded server without a document read per request.
 *
 * pouchdb-security checks every request of a non-admin user against the database's security
 * object, read each time as the document `_local/_security` through PouchDB's whole `get` path
 * (~3% of the server's CPU in a profile of the control plane). This keeps the last object read
 * per database, valid while the security generation (generations.ts, kept by leveldown-cache.ts) is
 * unchanged: any write of any `_local/_security` (whatever route wrote it) and any close of a
 * database end every memo, so a change of members or admins applies from the next request on, as
 * before.
 *
 * Patch record.
 * Package: pouchdb-security 4.2.0 (the copy express-pouchdb 4.2.0 loads).
 * Function: `getSecurity` (its per-request read of `_local/_security`).
 * Justified by: ~3% of the embedded server's CPU in a control-plane profile (BENCHMARKS.md, control
 * plane); CouchDB keeps the security object in its database handle.
 * Goes when: pouchdb-security caches the object until it is written.
 */
import { securityGeneration } from '../generations';
import { upstream } from '../patched-versions';

type Security = Record<string, unknown>;
interface Base {
  name: string;
  type(): string;
}

export function memoizeSecurity(): void {
  const security = upstream('pouchdb-security').load();
  const original = security.getSecurity as (this: Base, cb?: unknown) => Promise<Security>;
  const memo = new Map<string, { gen: number; json: string }>();
  security.getSecurity = function (this: Base, callback?: (err: unknown, res?: Security) => void): Promise<Security> {
    let promise: Promise<Security>;
    const gen = securityGeneration();
    const hit = memo.get(this.name);
    if (hit && hit.gen === gen && typeof this.type === 'function' && this.type() === 'leveldb') {
      // A fresh copy each time: the caller fills in missing sections in place.
      promise = Promise.resolve(JSON.parse(hit.json) as Security);
    } else {
      promise = original.call(this).then((sec) => {
        if (securityGeneration() === gen && this.type() === 'leveldb')
          memo.set(this.name, { gen, json: JSON.stringify(sec) });
        return sec;
      });
    }
    if (typeof callback === 'function')
      promise.then(
        (res) => callback(null, res),
        (err) => callback(err),
      );
    return promise;
  };
}
