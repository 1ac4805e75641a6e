/**
 * Passwords of the embedded server stored and verified as Apache CouchDB 3.4 stores and verifies
 * them, in place of pouchdb-auth's (pbkdf2-sha1 with 10 iterations, computed in JavaScript on the
 * event loop). Read from CouchDB 3.4.3: a user document gets `password_scheme: "pbkdf2"`,
 * `pbkdf2_prf: "sha256"`, `iterations: 600000`, a 16-byte hex `salt` and a 32-byte hex
 * `derived_key`; an `[admins]` entry is `-pbkdf2:sha256-<derived_key>,<salt>,600000`. Older
 * hashes (`-pbkdf2-...` and documents without `pbkdf2_prf`: sha1, as CouchDB reads them) still
 * verify.
 *
 * 600,000 iterations cost ~0.5-2 s of one core here, by design. CouchDB 3.4 remembers a
 * verified password; so does this module: per stored credential (name, salt, derived key,
 * iterations, prf) an HMAC of the password under a key that lives only in this process, so a
 * later request with the same password costs one HMAC, and a changed password (a new salt and
 * key) is a miss. Concurrent first requests of one credential share one derivation.
 *
 * Patch record. Replaces: pouchdb-auth 4.2.0's hashing (pbkdf2-sha1, 10 iterations). Justified
 * by correctness, not speed: users and admins must be stored as CouchDB 3.4 stores them. Goes when:
 * pouchdb-auth hashes as CouchDB 3.4 does; never removed in favour of weaker hashing.
 */
import { createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'crypto';

/** `[chttpd_auth] pbkdf2_prf` and `iterations`, CouchDB 3.4's defaults. */
export const PBKDF2_PRF = 'sha256';
export const ITERATIONS = 600_000;

export interface Credential {
  readonly name: string;
  readonly salt: string;
  readonly derived_key: string;
  readonly iterations: number;
  /** Node's digest name: `sha1` for CouchDB's `sha`. */
  readonly prf: string;
}

const KEY_BYTES: Record<string, number> = { sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };
const digestOf = (prf: unknown) => (prf === undefined || prf === 'sha' ? 'sha1' : String(prf));

/**
 * At most this many derivations at once: they run in libuv's thread pool (4 threads), which
 * LevelDB's reads and writes share, so a burst of first sign-ins or of wrong passwords could
 * otherwise hold every thread for a second and stall every database.
 */
const MAX_CONCURRENT = 2;
let running = 0;
const waiting: (() => void)[] = [];

async function derive(password: string, salt: string, iterations: number, prf: string): Promise<string> {
  if (running >= MAX_CONCURRENT) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await new Promise<string>((resolve, reject) => {
      pbkdf2(password, salt, iterations, KEY_BYTES[prf] ?? 32, prf, (err, key) =>
        err ? reject(err) : resolve(key.toString('hex')),
      );
    });
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** A user document's password fields, as CouchDB 3.4 writes them. */
export async function hashUserPassword(password: string): Promise<Record<string, unknown>> {
  const salt = randomBytes(16).toString('hex');
  return {
    password_scheme: 'pbkdf2',
    pbkdf2_prf: PBKDF2_PRF,
    salt,
    iterations: ITERATIONS,
    derived_key: await derive(password, salt, ITERATIONS, PBKDF2_PRF),
  };
}

/** An `[admins]` value, as CouchDB 3.4 writes it. */
export async function hashAdminPassword(password: string): Promise<string> {
  const salt = randomBytes(16).toString('hex');
  return `-pbkdf2:${PBKDF2_PRF}-${await derive(password, salt, ITERATIONS, PBKDF2_PRF)},${salt},${ITERATIONS}`;
}

const ADMIN_RE = /^-pbkdf2(?::(sha|sha224|sha256|sha384|sha512))?-([0-9a-f]+),([0-9a-zA-Z]+),([0-9]+)$/;
export const isAdminHash = (v: unknown) => typeof v === 'string' && (ADMIN_RE.test(v) || /^-hashed-/.test(v));

/** An `[admins]` value as a credential, or null if it is not a hash this server can verify. */
export function parseAdminHash(name: string, value: unknown): Credential | null {
  const m = typeof value === 'string' ? ADMIN_RE.exec(value) : null;
  return m ? { name, prf: digestOf(m[1]), derived_key: m[2], salt: m[3], iterations: Number(m[4]) } : null;
}

/** A `_users` document's credential, or null if it has none this server can verify. */
export function userCredential(doc: Record<string, unknown>): Credential | null {
  if (doc.password_scheme !== 'pbkdf2' || typeof doc.salt !== 'string' || typeof doc.derived_key !== 'string')
    return null;
  const iterations = Number(doc.iterations);
  const prf = digestOf(doc.pbkdf2_prf);
  if (!Number.isInteger(iterations) || iterations < 1 || !(prf in KEY_BYTES)) return null;
  return { name: String(doc.name), salt: doc.salt, derived_key: doc.derived_key, iterations, prf };
}

/** Remembered verifications: bounded, oldest first out (CouchDB's auth cache is bounded too). */
const CACHE_MAX = 10_000;
const pepper = randomBytes(32);
const verified = new Map<string, Buffer>();
const inFlight = new Map<string, Promise<boolean>>();
export const verifyStats = { hits: 0, derivations: 0 };

const credKey = (c: Credential) => [c.name, c.salt, c.derived_key, c.iterations, c.prf].join('\u0000');

function equalHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

export async function verifyPassword(password: string, c: Credential): Promise<boolean> {
  const key = credKey(c);
  const mac = createHmac('sha256', pepper).update(key).update('\u0000').update(password).digest();
  const seen = verified.get(key);
  if (seen && timingSafeEqual(seen, mac)) {
    verifyStats.hits++;
    verified.delete(key);
    verified.set(key, seen);
    return true;
  }
  const flightKey = key + '\u0000' + mac.toString('hex');
  let p = inFlight.get(flightKey);
  if (!p) {
    verifyStats.derivations++;
    p = derive(password, c.salt, c.iterations, c.prf).then((dk) => equalHex(dk, c.derived_key));
    inFlight.set(flightKey, p);
    p.then(
      (ok) => {
        inFlight.delete(flightKey);
        if (!ok) return;
        verified.set(key, mac);
        if (verified.size > CACHE_MAX) verified.delete(verified.keys().next().value as string);
      },
      () => inFlight.delete(flightKey),
    );
  }
  return p;
}
