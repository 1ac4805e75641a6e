/**
 * `npm run bench:submit -- N --auth`: a job's submission signed in each way the server accepts,
 * in one run on one server: the `_bulk_docs` rate into the deployed `transfers` database and the
 * p50/p99 of single-document PUTs, per authentication mode. A mode is an entry of AUTH_MODES
 * (a name and the URL and headers its requests carry); adding one (the TLS gateway) adds a row.
 * The token mode makes an issuer of its own (an RSA key, Node's crypto), deploys it with
 * `deploy --jwt-jwks` and signs with jose, as a job holding a token from its issuer would.
 */
import { generateKeyPairSync, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { SignJWT } from 'jose';
import { withoutCredentials } from '../../agents/platform/config';
import type { DbRole } from '../../views/schema';
import { Role } from '../../views/schema';
import { deploy } from '../deploy';
import { makeDocs as docs, send, type SignInMode } from './submit-docs';

const BATCH = 500;
const ISSUER = 'https://bench-issuer.couchstage.invalid';

/** What a mode's requests carry. */
export type AuthMode = SignInMode;

interface Ctx {
  readonly adminUrl: string;
  readonly user: string;
  readonly password: string;
  readonly token: string;
}

/** The modes compared, in the order printed. */
export const AUTH_MODES: ReadonlyArray<(c: Ctx) => AuthMode> = [
  (c) => ({
    name: 'password (Basic)',
    base: withoutCredentials(c.adminUrl),
    headers: { Authorization: 'Basic ' + Buffer.from(`${c.user}:${c.password}`).toString('base64') },
  }),
  (c) => ({
    name: 'token (Bearer, RS256)',
    base: withoutCredentials(c.adminUrl),
    headers: { Authorization: `Bearer ${c.token}` },
  }),
];

const pct = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

/** Prints one row per mode: bulk submission rate, single-write p50 and p99. */
export async function benchAuth(adminUrl: string, dbs: Record<DbRole, string>, n: number): Promise<void> {
  const tag = randomBytes(4).toString('hex');
  const user = `benchauth_${tag}`;
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-bench-jwks-'));
  try {
    const jwksFile = path.join(dir, 'jwks.json');
    fs.writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'bench' }] }));
    await deploy({
      url: adminUrl,
      dbs,
      users: [{ name: user, password: tag, roles: [Role.user] }],
      version: 'bench',
      jwt: { jwksFile, issuer: ISSUER },
    });
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({
      iss: ISSUER,
      sub: user,
      nbf: now - 30,
      exp: now + 3600,
      'wlcg.groups': [Role.user],
    })
      .setProtectedHeader({ alg: 'RS256', kid: 'bench' })
      .sign(privateKey);
    const singles = Math.max(200, Math.min(2000, Math.floor(n / 10)));
    console.log(`auth modes: ${n} documents by _bulk_docs (batches of ${BATCH}), ${singles} single PUTs each`);
    // Warm-up, not measured: the first mode measured would otherwise pay the connection's and
    // the validation function's first use.
    const first = AUTH_MODES[0]({ adminUrl, user, password: tag, token });
    for (const d of docs(100, user, `${tag}_warm`)) await send(first, 'PUT', `/${dbs.transfers}/${d._id}`, d);
    for (const make of AUTH_MODES) {
      const m = make({ adminUrl, user, password: tag, token });
      const bulk = docs(n, user, `${tag}_${AUTH_MODES.indexOf(make)}b`);
      const t0 = performance.now();
      for (let i = 0; i < bulk.length; i += BATCH)
        await send(m, 'POST', `/${dbs.transfers}/_bulk_docs`, { docs: bulk.slice(i, i + BATCH) });
      const rate = n / ((performance.now() - t0) / 1000);
      const times: number[] = [];
      for (const d of docs(singles, user, `${tag}_${AUTH_MODES.indexOf(make)}s`)) {
        const s = performance.now();
        await send(m, 'PUT', `/${dbs.transfers}/${d._id}`, d);
        times.push(performance.now() - s);
      }
      times.sort((a, b) => a - b);
      console.log(
        `${m.name.padEnd(24)} ${rate.toFixed(0).padStart(6)} docs/s   single PUT p50 ${pct(times, 0.5).toFixed(1)} ms, p99 ${pct(times, 0.99).toFixed(1)} ms`,
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
