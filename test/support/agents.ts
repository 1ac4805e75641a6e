/**
 * Running real agent processes against a test environment, and the storage and configuration
 * they need: sites whose file:// endpoints are temporary directories, source files with their
 * adler32, transfer documents submitted as the owner, and waiting for every file to settle.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { adler32Hex } from './adler32';
import { transferFixture, type TestEnv } from './env';
import { DocId, DocType, TERMINAL_STATES, type TransferDoc } from '../../views/schema';

export const ROOT = path.resolve(__dirname, '..', '..');

export interface AgentProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly output: string[];
  readonly exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startAgent(
  env: TestEnv,
  name: string,
  args: string[] = [],
  extraEnv: Record<string, string> = {},
): AgentProcess {
  const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), 'agent', name, ...args], {
    env: {
      ...process.env,
      COUCHDB_URL: env.urlAs('agent'),
      COUCHSTAGE_DB_PREFIX: env.prefix,
      COUCHSTAGE_LOG_LEVEL: 'info',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout!.on('data', (b) => output.push(String(b)));
  child.stderr!.on('data', (b) => output.push(String(b)));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : null))),
  );
  return {
    name,
    child,
    output,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export interface Storage {
  readonly dir: string;
  /** Site name -> root directory of its file:// storage. */
  readonly sites: Record<string, string>;
  cleanup(): void;
}

export function makeStorage(siteNames: readonly string[]): Storage {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-se-'));
  const sites: Record<string, string> = {};
  for (const s of siteNames) {
    sites[s] = path.join(dir, s);
    fs.mkdirSync(sites[s], { recursive: true });
  }
  return { dir, sites, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Sites with a file:// endpoint and a direct TFC rule, links, and fast test settings. */
/**
 * A site whose storage is one endpoint, `file://<dir>` or an XRootD `root://host:port`, with one
 * TFC rule that maps every LFN under it (XRootD paths are absolute: `//` after the host).
 */
export function siteDoc(name: string, endpoint: string): Record<string, unknown> {
  const protocol = endpoint.startsWith('root://') ? 'root' : 'file';
  return {
    _id: DocId.site(name),
    type: DocType.site,
    name,
    endpoints: { [protocol]: endpoint },
    tfc: [{ protocol, path_match: '/+(.*)', result: `${endpoint}${protocol === 'root' ? '//' : '/'}$1` }],
  };
}

export async function configure(
  env: TestEnv,
  storage: Storage,
  settings: Record<string, number> = {},
  links: { source: string; destination: string; max_active: number }[] = [],
): Promise<void> {
  const docs = Object.entries(storage.sites).map(([name, root]) => siteDoc(name, 'file://' + root));
  for (const l of links) docs.push({ _id: `link:${l.source}:${l.destination}`, type: 'link', ...l });
  // Short leases and cooloffs so that takeovers and retries happen within a test.
  docs.push({ _id: 'settings', type: 'settings', lease_seconds: 4, cooloff: 1, max_cooloff: 2, ...settings });
  const res = await env
    .as('ops')
    .use(env.dbs.config)
    .bulk({ docs: docs as never[] });
  const bad = res.find((r) => r.error);
  if (bad) throw new Error(`configure: ${bad.id}: ${bad.error} ${bad.reason}`);
}

/** Writes a source file of random bytes at the site's PFN of `lfn`; returns size and adler32. */
export function writeSourceFile(
  storage: Storage,
  site: string,
  lfn: string,
  size: number,
): { size: number; adler32: string } {
  const file = path.join(storage.sites[site], lfn);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const data = randomBytes(size);
  fs.writeFileSync(file, data);
  return { size, adler32: adler32Hex(data) };
}

export function destinationPath(storage: Storage, site: string, lfn: string): string {
  return path.join(storage.sites[site], lfn);
}

/** Creates source files and submits their transfer documents as the owner, in one _bulk_docs. */
export async function submitFiles(
  env: TestEnv,
  storage: Storage,
  n: number,
  opts: {
    user?: 'owner' | 'other';
    source?: string;
    destination?: string;
    workflow?: string;
    size?: number;
    over?: (i: number) => Record<string, unknown>;
  } = {},
): Promise<TransferDoc[]> {
  const actor = opts.user || 'owner';
  const user = env.names[actor];
  const source = opts.source || Object.keys(storage.sites)[0];
  const destination = opts.destination || Object.keys(storage.sites)[1];
  const workflow = opts.workflow || 'wf_' + randomBytes(3).toString('hex');
  const docs = [];
  for (let i = 0; i < n; i++) {
    const lfn = `/store/temp/user/${user}/${workflow}/out_${i}.root`;
    const f = writeSourceFile(storage, source, lfn, opts.size ?? 1024 + i);
    docs.push(
      transferFixture(user, {
        workflow,
        source,
        destination,
        source_lfn: lfn,
        destination_lfn: `/store/user/${user}/${workflow}/out_${i}.root`,
        size: f.size,
        checksums: { adler32: f.adler32 },
        created_at: new Date().toISOString(),
        ...(opts.over ? opts.over(i) : {}),
      }),
    );
  }
  for (let i = 0; i < docs.length; i += 500) {
    const res = await env
      .as(actor)
      .use(env.dbs.transfers)
      .bulk({ docs: docs.slice(i, i + 500) as never[] });
    const bad = res.find((r) => r.error);
    if (bad) throw new Error(`submit: ${bad.error} ${bad.reason}`);
  }
  return docs as unknown as TransferDoc[];
}

export async function readTransfers(env: TestEnv, ids: readonly string[]): Promise<TransferDoc[]> {
  const out: TransferDoc[] = [];
  for (let i = 0; i < ids.length; i += 1000) {
    const res = await env.admin.use(env.dbs.transfers).fetch({ keys: ids.slice(i, i + 1000) as string[] });
    for (const r of res.rows) if ('doc' in r && r.doc) out.push(r.doc as unknown as TransferDoc);
  }
  return out;
}

/** Polls until every listed transfer is terminal (or `until` holds), or fails after `ms`. */
export async function waitFor(
  env: TestEnv,
  ids: readonly string[],
  opts: { ms?: number; until?: (docs: TransferDoc[]) => boolean } = {},
): Promise<TransferDoc[]> {
  const until =
    opts.until || ((docs) => docs.length === ids.length && docs.every((d) => TERMINAL_STATES.includes(d.state)));
  const deadline = Date.now() + (opts.ms ?? 60_000);
  for (;;) {
    const docs = await readTransfers(env, ids);
    if (until(docs)) return docs;
    if (Date.now() > deadline) {
      const counts: Record<string, number> = {};
      for (const d of docs) counts[d.state] = (counts[d.state] || 0) + 1;
      throw new Error(`timed out waiting for transfers: ${JSON.stringify(counts)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
