/**
 * Patch record.
 * Package: pouchdb-auth 4.2.0 (the copy express-pouchdb 4.2.0 loads), with its
 * pouchdb-plugin-error 4.2.0 and couchdb-calculate-session-id 1.1.3.
 * Function: `lib/sessionapi` `multiUserLogIn`, which express-pouchdb's authentication calls for
 * Basic credentials and `_session` logins: the user document or `[admins]` entry checked with
 * passwords.ts (CouchDB 3.4's pbkdf2-sha256, older sha1 hashes still verify) and a verified
 * password remembered.
 * Justified by correctness (the hashes CouchDB 3.4 stores, patches/pouchdb-auth-write-wrappers.ts
 * and pouchdb-auth-admins.ts) and a remembered check: 65 us cached against 0.4-0.7 s per hash
 * (BENCHMARKS.md, passwords).
 * Goes when: pouchdb-auth verifies as CouchDB 3.4 does and remembers a verified password.
 */
import { userCredential, verifyPassword, type Credential } from '../passwords';
import { upstream } from '../patched-versions';

type Doc = Record<string, unknown>;
type UsersDb = { get(id: string, o: object): Promise<Doc> };
type Info = { admins: Record<string, Doc>; secret: string };

export function verifyAsCouchDB(): void {
  const pkg = upstream('pouchdb-auth');
  const utils = pkg.load('lib/utils');
  const sessionApi = pkg.load('lib/sessionapi');
  const PouchPluginError = upstream('pouchdb-plugin-error').load();
  const calculateSessionId = upstream('couchdb-calculate-session-id').load();

  const unauthorized = (message = 'Name or password is incorrect.') =>
    new PouchPluginError({ status: 401, name: 'unauthorized', message });

  /** The admin entry and/or user document of `name` (pouchdb-auth's getUserDoc, same rules). */
  async function userDoc(db: UsersDb, info: Info, name: string): Promise<Doc> {
    const admin = info.admins[name];
    const doc = await db.get('org.couchdb.user:' + name, { conflicts: true }).catch((err: { name?: string }) => {
      if (err.name !== 'not_found' || admin === undefined) throw err;
      return undefined;
    });
    if (!doc) return admin;
    if (((doc._conflicts as unknown[]) || []).length)
      throw unauthorized(
        'User document conflicts must be resolved before the document is used for authentication purposes.',
      );
    if (admin === undefined) return doc;
    return { ...admin, roles: ['_admin'].concat((doc.roles as string[]) || []) };
  }

  sessionApi.multiUserLogIn = function (
    this: UsersDb,
    username: string,
    password: string,
    callback?: (e: unknown, r?: unknown) => void,
  ) {
    const info = utils.dbDataFor(this) as Info;
    const p = (async () => {
      const doc = await userDoc(this, info, username);
      const cred: Credential | null = !doc ? null : info.admins[username] ? parseCred(doc) : userCredential(doc);
      if (!cred || typeof password !== 'string' || !(await verifyPassword(password, cred))) throw unauthorized();
      return {
        ok: true,
        name: doc.name,
        roles: doc.roles,
        sessionID: calculateSessionId(doc.name, doc.salt, info.secret, Math.round(Date.now() / 1000)),
      };
    })().catch((err) => {
      throw err instanceof PouchPluginError ? err : unauthorized();
    });
    if (typeof callback === 'function')
      p.then(
        (r) => callback(null, r),
        (e) => callback(e),
      );
    return p;
  };
}

function parseCred(doc: Doc): Credential | null {
  return typeof doc.salt === 'string' && typeof doc.derived_key === 'string'
    ? {
        name: String(doc.name),
        salt: doc.salt,
        derived_key: doc.derived_key,
        iterations: Number(doc.iterations),
        prf: String(doc.pbkdf2_prf || 'sha1'),
      }
    : null;
}
