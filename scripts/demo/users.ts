/**
 * The demo accounts have passwords printed in the README: an account still holding one is open to
 * anyone who reaches the server. `couchstage start` without the demo users finds such accounts and,
 * when asked (--no-demo-users), removes them; otherwise it says they are there. The check is made
 * on the stored hash, not by signing in: failed sign-ins count towards CouchDB 3.4's lockout of a
 * user, and a real account that happens to be called alice is left alone.
 */
import { createHash, pbkdf2Sync, timingSafeEqual } from 'crypto';
import { connect, type Db } from '../../agents/platform/couch';
import { get } from '../../agents/platform/docs';
import type { UserSpec } from '../deploy';

interface StoredUser {
  _id: string;
  _rev: string;
  password?: string;
  password_scheme?: string;
  pbkdf2_prf?: string;
  iterations?: number;
  salt?: string;
  derived_key?: string;
  password_sha?: string;
}

const same = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** Whether `doc` (a _users document as an admin reads it) has `password`, in CouchDB's schemes. */
export function hasPassword(doc: StoredUser, password: string): boolean {
  if (typeof doc.password === 'string') return same(doc.password, password); // not hashed (yet)
  if (doc.password_scheme === 'pbkdf2' && doc.salt && doc.derived_key && doc.iterations) {
    const prf = doc.pbkdf2_prf || 'sha1'; // CouchDB < 3.4 and the embedded server: sha1
    if (!['sha1', 'sha224', 'sha256', 'sha384', 'sha512'].includes(prf) || doc.iterations > 10_000_000) return false;
    const key = pbkdf2Sync(password, doc.salt, doc.iterations, doc.derived_key.length / 2, prf).toString('hex');
    return same(key, doc.derived_key.toLowerCase());
  }
  if (doc.password_scheme === 'simple' && doc.salt && doc.password_sha) {
    return same(
      createHash('sha1')
        .update(password + doc.salt)
        .digest('hex'),
      doc.password_sha.toLowerCase(),
    );
  }
  return false;
}

/** Finds the accounts of `users` that still have their demo password; removes them when `remove`. */
export async function retireDemoUsers(
  adminUrl: string,
  users: readonly UserSpec[],
  remove: boolean,
  log: (line: string) => void,
): Promise<string[]> {
  const db: Db = connect(adminUrl).use('_users');
  const found: string[] = [];
  for (const u of users) {
    const doc = await get<StoredUser>(db, 'org.couchdb.user:' + u.name);
    if (!doc) continue;
    if (!hasPassword(doc, u.password)) continue;
    found.push(u.name);
    if (remove) {
      await db.destroy(doc._id, doc._rev);
      log(`demo users: removed ${u.name}, which still had its demo password`);
    } else {
      log(`demo users: warning: ${u.name} still has its demo password ${u.password}; --no-demo-users removes it`);
    }
  }
  return found;
}
