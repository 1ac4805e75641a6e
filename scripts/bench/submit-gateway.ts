/**
 * `npm run bench:submit -- N --gateway`: a job's submission through the TLS gateway beside the
 * same submission with a password straight to the server, in one run on one server: the
 * `_bulk_docs` rate into the deployed `transfers` database and the p50/p99 of single-document
 * PUTs, per mode. A mode is an entry of GATEWAY_MODES (a name, the URL, the headers and the TLS
 * client its requests use), in the shape of the token benchmark's list of authentication modes.
 * The gateway runs as its own process (`couchstage gateway`, dist/cli.js), as deployed, with a
 * PKI made here with openssl (scripts/gateway/test-pki.ts); every request opens no new TLS
 * connection (the client keeps them), so the figures are the gateway's per-request cost.
 */
import { spawn, type ChildProcess } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { Agent, type Dispatcher } from 'undici';
import { projectRoot, withoutCredentials } from '../../agents/platform/config';
import type { DbRole } from '../../views/schema';
import { Role } from '../../views/schema';
import { deploy } from '../deploy';
import { makeDocs as docs, send, type SignInMode } from './submit-docs';
import { makeProxy, TestCa, type Issued } from '../gateway/test-pki';

const BATCH = 500;
const ROUNDS = 5;
const DN = '/DC=org/DC=bench/OU=Users/CN=Bench Job';

/** What a mode's requests carry. */
export type GatewayMode = SignInMode;

interface Ctx {
  readonly direct: string;
  readonly gateway: string;
  readonly basic: Record<string, string>;
  readonly tls: (cert: string, key: string) => Dispatcher;
  readonly cert: Issued;
  readonly proxy: string;
}

/** The modes compared, in the order printed. */
export const GATEWAY_MODES: ReadonlyArray<(c: Ctx) => GatewayMode> = [
  (c) => ({ name: 'password, direct', base: c.direct, headers: c.basic }),
  (c) => ({ name: 'password via gateway', base: c.gateway, headers: c.basic, dispatcher: c.tls('', '') }),
  (c) => ({
    name: 'certificate via gateway',
    base: c.gateway,
    headers: {},
    dispatcher: c.tls(c.cert.cert, c.cert.key),
  }),
  (c) => ({ name: 'RFC 3820 proxy via gw', base: c.gateway, headers: {}, dispatcher: c.tls(c.proxy, c.proxy) }),
];

const pct = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

/** `couchstage gateway` as a child process; resolves with it and its URL once it listens. */
function startGatewayProcess(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [path.join(projectRoot(), 'dist', 'cli.js'), 'gateway', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout!.on('data', (b: Buffer) => {
      text += b.toString();
      const m = /gateway: (https:\/\/\S+) ->/.exec(text);
      if (m) resolve({ child, url: m[1] });
    });
    child.once('exit', (code) => reject(new Error(`couchstage gateway exited (${code}) before listening: ${text}`)));
  });
}

/** A PKI, the server configured for proxy authentication, the gateway started; returns the context. */
async function setUp(dir: string, adminUrl: string, user: string, password: string) {
  const ca = new TestCa(dir, 'grid', '/DC=org/DC=bench/CN=Bench CA');
  const server = ca.issue('server', '/DC=org/DC=bench/CN=127.0.0.1', 'srv');
  const cert = ca.issue('job', DN, 'usr');
  const caDir = path.join(dir, 'certificates');
  ca.install(caDir);
  const proxy = makeProxy(ca.dir, 'proxy', cert, DN);
  const map = path.join(dir, 'map.json');
  fs.writeFileSync(map, JSON.stringify({ [DN]: { name: user, roles: [Role.user] } }));
  const secretFile = path.join(dir, 'proxy.secret');
  const direct = withoutCredentials(adminUrl);
  const gw = await startGatewayProcess([
    ...['--listen', '127.0.0.1:0', '--cert', server.cert, '--key', server.key, '--ca-dir', caDir, '--map', map],
    ...['--secret-file', secretFile, '--upstream', direct],
  ]);
  const caPem = fs.readFileSync(ca.cert);
  const tls = (c: string, k: string): Dispatcher =>
    new Agent({ connect: c ? { cert: fs.readFileSync(c), key: fs.readFileSync(k), ca: caPem } : { ca: caPem } });
  const basic = { Authorization: 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64') };
  return { gw, ctx: { direct, gateway: gw.url, basic, tls, cert, proxy } };
}

/** Prints one row per mode: bulk submission rate, single-write p50 and p99. */
export async function benchGateway(adminUrl: string, dbs: Record<DbRole, string>, n: number): Promise<void> {
  const tag = randomBytes(4).toString('hex');
  const user = `benchgw_${tag}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-bench-gw-'));
  let child: ChildProcess | null = null;
  try {
    // Proxy authentication configured as deploy does it with COUCHSTAGE_PROXY_SECRET_FILE.
    const proxySecretFile = path.join(dir, 'proxy.secret');
    const users = [{ name: user, password: tag, roles: [Role.user] }];
    await deploy({ url: adminUrl, dbs, users, version: 'bench', proxySecretFile });
    const { gw, ctx } = await setUp(dir, adminUrl, user, tag);
    child = gw.child;
    const singles = Math.max(200, Math.min(2000, Math.floor(n / 10)));
    console.log(
      `gateway modes: ${n} documents by _bulk_docs (batches of ${BATCH}), ${singles} single PUTs each, in ${ROUNDS} rounds`,
    );
    const modes = GATEWAY_MODES.map((make) => make(ctx));
    // Warm-up, not measured: each mode's connection and the validation function's first use.
    for (const m of modes)
      for (const d of docs(20, user, `${tag}_w${modes.indexOf(m)}`))
        await send(m, 'PUT', `/${dbs.transfers}/${d._id}`, d);
    // Rounds, each mode in turn in every round: the machine's load (shared, it varies by the
    // minute) then falls on every mode alike instead of on whichever ran last.
    const stats = modes.map(() => ({ seconds: 0, times: [] as number[] }));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, m] of modes.entries()) {
        const bulk = docs(Math.ceil(n / ROUNDS), user, `${tag}_${i}b${round}`);
        const t0 = performance.now();
        for (let j = 0; j < bulk.length; j += BATCH)
          await send(m, 'POST', `/${dbs.transfers}/_bulk_docs`, { docs: bulk.slice(j, j + BATCH) });
        stats[i].seconds += (performance.now() - t0) / 1000;
        for (const d of docs(Math.ceil(singles / ROUNDS), user, `${tag}_${i}s${round}`)) {
          const s0 = performance.now();
          await send(m, 'PUT', `/${dbs.transfers}/${d._id}`, d);
          stats[i].times.push(performance.now() - s0);
        }
      }
    }
    for (const [i, m] of modes.entries()) {
      const times = stats[i].times.sort((x, y) => x - y);
      const rate = (Math.ceil(n / ROUNDS) * ROUNDS) / stats[i].seconds;
      console.log(
        `${m.name.padEnd(24)} ${rate.toFixed(0).padStart(6)} docs/s   single PUT p50 ${pct(times, 0.5).toFixed(1)} ms, p99 ${pct(times, 0.99).toFixed(1)} ms`,
      );
    }
  } finally {
    child?.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
