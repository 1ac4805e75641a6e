/**
 * Patch record.
 * Package: pouchdb-auth 4.2.0 (the copy express-pouchdb 4.2.0 loads).
 * Function: `lib/admins` `hashPasswords` and `parse`, and the plugin's `hashAdminPasswords` (the
 * same function, bound by express-pouchdb's config): `[admins]` written (config.json,
 * `PUT /_config/admins/<name>`) and read in CouchDB 3.4's format.
 * Justified by correctness, not speed: an `[admins]` entry is `-pbkdf2:sha256-<key>,<salt>,600000`
 * in CouchDB 3.4.3, where pouchdb-auth wrote pbkdf2-sha1 with 10 iterations.
 * Goes when: pouchdb-auth hashes and parses admins as CouchDB 3.4 does.
 */
import { hashAdminPassword, isAdminHash, parseAdminHash } from '../passwords';
import { upstream } from '../patched-versions';

type Doc = Record<string, unknown>;

export function hashAdmins(): void {
  const pkg = upstream('pouchdb-auth');
  const auth = pkg.load();
  const admins = pkg.load('lib/admins');
  const hashAll = (all: Record<string, unknown>, _opts?: unknown, callback?: (e: unknown, r?: unknown) => void) => {
    const out: Record<string, string> = {};
    const p = Promise.all(
      Object.keys(all).map(async (name) => {
        const v = all[name];
        out[name] = isAdminHash(v) ? String(v) : await hashAdminPassword(String(v));
      }),
    ).then(() => out);
    if (typeof callback === 'function')
      p.then(
        (r) => callback(null, r),
        (e) => callback(e),
      );
    return p;
  };
  admins.hashPasswords = hashAll;
  auth.hashAdminPasswords = hashAll;
  admins.parse = (all: Record<string, unknown>) => {
    const out: Record<string, Doc> = {};
    for (const name of Object.keys(all || {})) {
      const c = parseAdminHash(name, all[name]);
      if (c)
        out[name] = {
          name,
          password_scheme: 'pbkdf2',
          pbkdf2_prf: c.prf,
          salt: c.salt,
          derived_key: c.derived_key,
          iterations: c.iterations,
          roles: ['_admin'],
        };
    }
    return out;
  };
}
