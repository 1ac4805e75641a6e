/**
 * Patch record.
 * Package: express-pouchdb 4.2.0.
 * Function: `lib/routes/authentication` (the route module that installs its authentication
 * middleware), replaced in the module cache.
 * Justified by: that middleware computed the user again for every request (a `_users` read and a
 * password check), after authz/ had established it (authz/identity.ts remembers it per credential).
 * Goes when: the embedded server stops running its own authorisation layer in front of
 * express-pouchdb (when express-pouchdb answers `_find`, `_bulk_get`, `_index` and `_explain` with
 * `_security` applied).
 */
import * as path from 'path';
import { upstream } from '../patched-versions';

/**
 * express-pouchdb's authentication middleware computes the user again (a `_users` read and a
 * password check per request); it is skipped for requests this layer has already identified.
 */
export function skipExpressAuthentication(): void {
  const file = require.resolve(path.join(upstream('express-pouchdb').dir, 'lib', 'routes', 'authentication'));
  // The route module, resolved inside express-pouchdb's own copy.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
  const original = require(file) as (app: unknown) => void;
  type Mw = (req: { couchSession?: unknown }, res: unknown, next: () => void) => void;
  const replaced = (app: { use: (...a: unknown[]) => unknown }) =>
    original(
      new Proxy(app, {
        get(target, prop, receiver) {
          if (prop !== 'use') return Reflect.get(target, prop, receiver);
          return (...args: unknown[]) =>
            target.use(
              ...args.map((a) =>
                typeof a === 'function' && (a as Mw).length === 3
                  ? (((req, res, next) => (req.couchSession ? next() : (a as Mw)(req, res, next))) as Mw)
                  : a,
              ),
            );
        },
      }),
    );
  require.cache[file]!.exports = replaced;
}
