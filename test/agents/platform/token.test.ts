/**
 * The CLI's and the agents' Bearer token (agents/platform/token.ts) and the JWKS that deploy
 * turns into CouchDB's `[jwt_keys]` (scripts/ops/jwt-config.ts): no server needed.
 */
import { generateKeyPairSync } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tokenSource } from '../../../agents/platform/config';
import { bearerToken as fromToken, TokenFileError } from '../../../agents/platform/token';
import { jwtKeysOf, jwtSettingsFor, requiredClaims } from '../../../scripts/ops/jwt-config';

const bearerToken = (env: NodeJS.ProcessEnv, now?: number) => fromToken(tokenSource(env), now);
let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-token-test-'))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('COUCHSTAGE_TOKEN and COUCHSTAGE_TOKEN_FILE', () => {
  test('the token itself, trimmed; none without either variable', () => {
    expect(bearerToken({ COUCHSTAGE_TOKEN: ' abc \n' })).toBe('abc');
    expect(bearerToken({})).toBeNull();
  });

  test('a refreshed file is read again once its stat changes (checked at most once a second)', () => {
    const file = path.join(dir, 'tok');
    fs.writeFileSync(file, 'first\n');
    const env = { COUCHSTAGE_TOKEN_FILE: file };
    expect(bearerToken(env, 1_000_000)).toBe('first');
    fs.writeFileSync(file, 'second-token\n');
    // Within the second: the remembered token, no stat.
    expect(bearerToken(env, 1_000_500)).toBe('first');
    expect(bearerToken(env, 1_002_000)).toBe('second-token');
  });

  test('a missing or empty file is an error, never an anonymous request', () => {
    expect(() => bearerToken({ COUCHSTAGE_TOKEN_FILE: path.join(dir, 'none') }, 2_000_000)).toThrow(TokenFileError);
    const empty = path.join(dir, 'empty');
    fs.writeFileSync(empty, '\n');
    expect(() => bearerToken({ COUCHSTAGE_TOKEN_FILE: empty }, 3_000_000)).toThrow(/empty/);
  });
});

describe('deploy --jwt-jwks', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pub = (k: typeof rsa.publicKey, kid?: string) => ({ ...k.export({ format: 'jwk' }), ...(kid ? { kid } : {}) });

  test('RSA and EC keys by kid, PEM with newlines escaped as CouchDB reads them; no kid is _default', () => {
    const keys = jwtKeysOf({ keys: [pub(rsa.publicKey, 'r1'), pub(ec.publicKey, 'e1'), pub(rsa.publicKey)] });
    expect([...keys.keys()]).toEqual(['rsa:r1', 'ec:e1', 'rsa:_default']);
    expect(keys.get('rsa:r1')).toMatch(/^-----BEGIN PUBLIC KEY-----\\n[^\n]+-----END PUBLIC KEY-----\\n$/);
  });

  test.each([
    ['a private key', () => ({ keys: [{ ...rsa.privateKey.export({ format: 'jwk' }), kid: 'p' }] }), /private key/],
    ['a symmetric key', () => ({ keys: [{ kty: 'oct', k: 'aGVsbG8', kid: 'h' }] }), /only RSA and EC/],
    ['two keys of one kid', () => ({ keys: [pub(rsa.publicKey, 'x'), pub(rsa.publicKey, 'x')] }), /two keys/],
    ['a kid that cannot be a setting name', () => ({ keys: [pub(rsa.publicKey, 'a = b')] }), /setting name/],
    ['no keys', () => ({ keys: [] }), /no "keys"/],
  ])('refuses %s', (_n, jwks, msg) => {
    expect(() => jwtKeysOf(jwks())).toThrow(msg);
  });

  test('keys gone from the JWKS are removed; one issuer, with nbf and exp required', () => {
    const file = path.join(dir, 'jwks.json');
    fs.writeFileSync(file, JSON.stringify({ keys: [pub(rsa.publicKey, 'new')] }));
    const puts = jwtSettingsFor({ jwksFile: file, issuer: 'https://iam.example/' }, { 'rsa:old': 'x', 'rsa:new': 'y' });
    expect(puts.map((p) => [p.section, p.key, p.value === null ? null : 'set'])).toEqual([
      ['jwt_keys', 'rsa:new', 'set'],
      ['jwt_keys', 'rsa:old', null],
      ['jwt_auth', 'required_claims', 'set'],
      ['jwt_auth', 'roles_claim_path', 'set'],
    ]);
    expect(requiredClaims('https://iam.example/')).toBe('exp, nbf, {iss, "https://iam.example/"}');
    expect(() => requiredClaims('a", b')).toThrow(/one issuer/);
  });
});
