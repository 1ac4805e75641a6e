/**
 * Bearer tokens (JWT) on the embedded server, checked as CouchDB 3.4.3's
 * `jwt_authentication_handler` checks them, from the same settings in the same format
 * (`[jwt_keys] rsa:<kid>` / `ec:<kid>` PEM with `\n` escaped, `[jwt_auth] required_claims`,
 * `roles_claim_path`): `couchstage deploy` writes one set of settings to either engine.
 *
 * Measured on CouchDB 3.4.3 (status, reason), in the order it checks:
 * - `Authorization: Bearer <t>` only (case-sensitive; `Bearer ` with nothing after is anonymous);
 * - not three base64url JSON parts: 400 `Malformed token`;
 * - `alg` not RS/ES/HS 256/384/512 (`none`, PS256): 400 `Invalid alg header parameter`;
 * - the claims of `required_claims`, before the key and the signature, iss, iat, nbf, exp in
 *   turn: absent 400 `Missing <c> claim`; `{iss, "x"}` not x 400 `Invalid iss claim`;
 *   nbf not before now 401 `nbf not in past`; exp not after now 401 `exp not in future`
 *   (no leeway: CouchDB has none, and both engines must refuse the same tokens);
 * - no key `<kty>:<kid>` (`_default` without kid; kty from alg, so an HS256 token never meets
 *   an RSA key): 400 `Unknown kid`; a signature that does not verify: 400 `Bad signature`;
 * - `roles_claim_path` set and absent in the token: 404 `missing json key: <path>`;
 * - no `sub`: 401 `Token missing sub claim.`
 * userCtx.name is then `sub`, roles the claim's strings. CouchDB has no `aud` check (an `aud`
 * in required_claims answers 500 unknown_checks) and neither has this server (SECURITY.md).
 * Where CouchDB answers 500 (a `typ` other than JWT, a null roles claim) or takes a claim of
 * the wrong type (a string `exp` compares as "in the future"), this server refuses with 400.
 * Signatures are verified by jose; nothing here is cryptography of its own.
 */
import { createPublicKey, createSecretKey, type KeyObject } from 'crypto';
import { compactVerify } from 'jose';
import type { UserCtx } from './identity';

/** A refused token: the status, error and reason CouchDB 3.4 answers. */
export class TokenRefused extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    reason: string,
  ) {
    super(reason);
  }
}

type Check = { claim: 'iss' | 'iat' | 'nbf' | 'exp'; value?: string };
export interface JwtSettings {
  keys: Map<string, KeyObject>;
  checks: Check[];
  rolesPath: string[] | null;
  rolesName: string;
}

const ALGS: Record<string, string> = {
  RS256: 'rsa',
  RS384: 'rsa',
  RS512: 'rsa',
  ES256: 'ec',
  ES384: 'ec',
  ES512: 'ec',
  HS256: 'hmac',
  HS384: 'hmac',
  HS512: 'hmac',
};

const bad = (reason: string) => new TokenRefused(400, 'bad_request', reason);
const unauthorized = (reason: string) => new TokenRefused(401, 'unauthorized', reason);

/** `exp, nbf, {iss, "https://..."}` as CouchDB reads `[jwt_auth] required_claims`. */
export function parseRequiredClaims(text: string): Check[] {
  const out: Check[] = [];
  const re = /\{\s*(\w+)\s*,\s*"([^"]*)"\s*\}|([^,\s{}]+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const claim = m[1] || m[3];
    if (claim !== 'iss' && claim !== 'iat' && claim !== 'nbf' && claim !== 'exp')
      throw new TokenRefused(500, 'unknown_checks', `[${claim}]`);
    out.push(m[1] ? { claim, value: m[2] } : { claim });
  }
  // CouchDB checks them in this order whatever the order written.
  const order = ['iss', 'iat', 'nbf', 'exp'];
  return out.sort((a, b) => order.indexOf(a.claim) - order.indexOf(b.claim));
}

/** `my.nested._couchdb\.roles` -> ['my', 'nested', '_couchdb.roles'], as CouchDB splits roles_claim_path. */
export function parseClaimPath(path: string): string[] {
  return path.split(/(?<!\\)\./).map((p) => p.replace(/\\\./g, '.'));
}

/** The settings from the server's `[jwt_keys]` and `[jwt_auth]` sections (unparsable keys are left out, as CouchDB rejects them). */
export function jwtSettings(keys: Record<string, unknown>, auth: Record<string, unknown>): JwtSettings {
  const map = new Map<string, KeyObject>();
  for (const [name, raw] of Object.entries(keys)) {
    const value = String(raw).replace(/\\n/g, '\n');
    try {
      if (name.startsWith('hmac:')) map.set(name, createSecretKey(Buffer.from(value, 'base64')));
      else if (name.startsWith('rsa:') || name.startsWith('ec:')) {
        const k = createPublicKey(value);
        if (k.asymmetricKeyType === (name.startsWith('rsa:') ? 'rsa' : 'ec')) map.set(name, k);
      }
    } catch {
      // A key CouchDB would not load either.
    }
  }
  const path = auth.roles_claim_path === undefined ? '' : String(auth.roles_claim_path);
  return {
    keys: map,
    checks: parseRequiredClaims(auth.required_claims === undefined ? 'exp' : String(auth.required_claims)),
    rolesPath: path ? parseClaimPath(path) : null,
    rolesName: auth.roles_claim_name === undefined ? '_couchdb.roles' : String(auth.roles_claim_name),
  };
}

function part(text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw bad('Malformed token');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad('Malformed token');
  return v as Record<string, unknown>;
}

function checkClaims(claims: Record<string, unknown>, checks: Check[], nowS: number): void {
  for (const c of checks) {
    const v = claims[c.claim];
    if (v === undefined) throw bad(`Missing ${c.claim} claim`);
    if (c.claim === 'iss') {
      if (c.value !== undefined && v !== c.value) throw bad('Invalid iss claim');
      continue;
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`Invalid ${c.claim} claim`);
    if (c.claim === 'nbf' && !(v < nowS)) throw unauthorized('nbf not in past');
    if (c.claim === 'exp' && !(v > nowS)) throw unauthorized('exp not in future');
  }
}

function rolesOf(claims: Record<string, unknown>, s: JwtSettings): string[] {
  let v: unknown;
  if (s.rolesPath) {
    v = claims;
    for (const p of s.rolesPath) {
      if (!v || typeof v !== 'object' || !(p in v))
        throw new TokenRefused(404, 'not_found', `missing json key: ${s.rolesPath.join('.')}`);
      v = (v as Record<string, unknown>)[p];
    }
  } else {
    v = claims[s.rolesName];
    if (v === undefined) return [];
  }
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v) || !v.every((r) => typeof r === 'string')) throw bad('Malformed token');
  return v.slice();
}

/** The user a token names, or TokenRefused with CouchDB's status and reason. */
export async function verifyToken(token: string, s: JwtSettings, nowMs = Date.now()): Promise<UserCtx> {
  const parts = token.split('.');
  if (parts.length !== 3) throw bad('Malformed token');
  const header = part(parts[0]);
  const claims = part(parts[1]);
  const kty = typeof header.alg === 'string' ? ALGS[header.alg] : undefined;
  if (!kty) throw bad('Invalid alg header parameter');
  if (header.typ !== undefined && header.typ !== 'JWT') throw bad('Invalid typ header parameter');
  checkClaims(claims, s.checks, Math.floor(nowMs / 1000));
  const key = s.keys.get(`${kty}:${typeof header.kid === 'string' ? header.kid : '_default'}`);
  if (!key) throw bad('Unknown kid');
  try {
    await compactVerify(token, key, { algorithms: [header.alg as string] });
  } catch {
    throw bad('Bad signature');
  }
  const roles = rolesOf(claims, s);
  if (typeof claims.sub !== 'string') throw unauthorized('Token missing sub claim.');
  return { name: claims.sub, roles };
}

/** The token of an `Authorization: Bearer` header; undefined without one, null for an empty one (anonymous, as CouchDB). */
export function bearerToken(h: string | undefined): string | null | undefined {
  if (!h || !h.startsWith('Bearer ')) return undefined;
  const t = h.slice(7).trim();
  return t ? t : null;
}
