/**
 * The test suite's token issuer: two RSA keys and one P-256 key, made with Node's crypto once per
 * run (global-setup.ts) and deployed to the server under test the way an operator deploys a real
 * issuer (`deploy --jwt-jwks`, scripts/ops/jwt-config.ts). One issuer for the whole run because
 * the token settings are the server's, shared by the test files running side by side.
 * Tokens are signed with jose, the library the embedded server verifies with.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { SignJWT, type JWTPayload } from 'jose';
import { configureTokens } from '../../scripts/ops/jwt-config';

export const TEST_ISSUER = 'https://issuer.couchstage.test';
export const KIDS = { rsa1: 'test-rs-1', rsa2: 'test-rs-2', ec: 'test-ec-1' } as const;

interface Stored {
  jwksFile: string;
  keys: Record<string, string>;
}

function storedPath(): string {
  const f = process.env.COUCHSTAGE_TEST_ISSUER;
  if (!f)
    throw new Error('COUCHSTAGE_TEST_ISSUER is not set: run the tests through jest (test/support/global-setup.ts)');
  return f;
}

/** Global setup: keys, the JWKS file and the server's token settings. */
export async function setUpTestIssuer(adminUrl: string, dir: string): Promise<void> {
  const pairs = {
    [KIDS.rsa1]: generateKeyPairSync('rsa', { modulusLength: 2048 }),
    [KIDS.rsa2]: generateKeyPairSync('rsa', { modulusLength: 2048 }),
    [KIDS.ec]: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  };
  const jwks = {
    keys: Object.entries(pairs).map(([kid, p]) => ({ ...p.publicKey.export({ format: 'jwk' }), kid, use: 'sig' })),
  };
  fs.mkdirSync(dir, { recursive: true });
  const jwksFile = path.join(dir, 'jwks.json');
  fs.writeFileSync(jwksFile, JSON.stringify(jwks));
  const keys = Object.fromEntries(
    Object.entries(pairs).map(([kid, p]) => [kid, p.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()]),
  );
  const file = path.join(dir, 'issuer.json');
  fs.writeFileSync(file, JSON.stringify({ jwksFile, keys } satisfies Stored), { mode: 0o600 });
  process.env.COUCHSTAGE_TEST_ISSUER = file;
  await configureTokens(adminUrl, { jwksFile, issuer: TEST_ISSUER }, () => undefined);
}

let stored: Stored | null = null;
function load(): Stored {
  return (stored ??= JSON.parse(fs.readFileSync(storedPath(), 'utf8')) as Stored);
}

export function jwksFile(): string {
  return load().jwksFile;
}

export function privateKey(kid: string): KeyObject {
  return createPrivateKey(load().keys[kid]);
}

export function publicKeyPem(kid: string): string {
  return createPublicKey(privateKey(kid)).export({ type: 'spki', format: 'pem' }).toString();
}

const nowS = () => Math.floor(Date.now() / 1000);

/** Claims of a valid token for `sub` with `groups` (wlcg.groups), valid from 30 s ago for 10 min. */
export function claimsFor(sub: string, groups: string[]): JWTPayload {
  return { iss: TEST_ISSUER, sub, nbf: nowS() - 30, iat: nowS() - 30, exp: nowS() + 600, 'wlcg.groups': groups };
}

/** A token signed with the test issuer's key `kid` (RS256, or ES256 for the EC key). */
export function sign(
  claims: JWTPayload,
  opts: { kid?: string | null; alg?: string; key?: KeyObject | Uint8Array } = {},
): Promise<string> {
  const kid = opts.kid === undefined ? KIDS.rsa1 : opts.kid;
  const alg = opts.alg || (kid === KIDS.ec ? 'ES256' : 'RS256');
  const header = kid === null ? { alg } : { alg, kid };
  return new SignJWT(claims).setProtectedHeader(header).sign(opts.key || privateKey(kid ?? KIDS.rsa1));
}

export function tokenFor(sub: string, groups: string[]): Promise<string> {
  return sign(claimsFor(sub, groups));
}
