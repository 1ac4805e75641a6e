/**
 * Patch record.
 * Package: pouchdb-auth 4.2.0 (the copy express-pouchdb 4.2.0 loads).
 * Function: `lib/sessionapi` `multiUserSession`.
 * Justified by correctness and safety: without any admin, pouchdb-auth made every anonymous
 * request an admin's ("admin party"). CouchDB 3 has none (it refuses to start without an admin,
 * and serves none as admin without credentials); this server refuses to start without one too
 * (server-config.ts), and if every admin is deleted at run time nobody is an admin until one is
 * configured again.
 * Goes when: pouchdb-auth has no admin party.
 */
import { upstream } from '../patched-versions';

type Info = { admins: Record<string, unknown> };

export function noAdminParty(): void {
  const pkg = upstream('pouchdb-auth');
  const utils = pkg.load('lib/utils');
  const sessionApi = pkg.load('lib/sessionapi');
  const session = sessionApi.multiUserSession;
  sessionApi.multiUserSession = function (
    this: unknown,
    sessionID: unknown,
    callback?: (e: unknown, r?: unknown) => void,
  ) {
    const info = utils.dbDataFor(this) as Info;
    const p = session.call(this, sessionID).then((resp: { userCtx: { name: unknown; roles: string[] } }) => {
      if (resp.userCtx.name === null && !Object.keys(info.admins).length) resp.userCtx.roles = [];
      return resp;
    });
    if (typeof callback === 'function')
      p.then(
        (r: unknown) => callback(null, r),
        (e: unknown) => callback(e),
      );
    return p;
  };
}
