/**
 * Helpers of the data-handling tests: run the CLI in process as a test user, seed the catalogue
 * with a dataset whose files really exist at a site, and read back requests and catalogue docs.
 */
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { main } from '../../../scripts/cli/main';
import { CatalogId, REQUEST_TERMINAL_STATES, uuidFromHex, type DataRequestDoc } from '../../../views/schema';
import { guidOf } from '../../../views/lib/catalog-ids';
import { adler32Hex } from '../../support/adler32';
import type { Actor, TestEnv } from '../../support/env';

export interface Run {
  code: number;
  out: string;
  err: string;
}

const ENV_KEYS = ['COUCHDB_URL', 'COUCHSTAGE_DB_PREFIX', 'COUCHSTAGE_USER', 'COUCHSTAGE_PASSWORD'] as const;

/** Runs `couchstage ...` in process as `actor`, restoring process.env afterwards. */
export async function cli(env: TestEnv, actor: Actor, ...argv: string[]): Promise<Run> {
  const saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  const out: string[] = [];
  const err: string[] = [];
  try {
    for (const k of ENV_KEYS) delete process.env[k];
    Object.assign(process.env, { COUCHDB_URL: env.urlAs(actor), COUCHSTAGE_DB_PREFIX: env.prefix });
    const code = await main(
      argv,
      (l) => out.push(l),
      (l) => err.push(l),
    );
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    for (const k of ENV_KEYS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}

export const sha224 = (s: string) => createHash('sha224').update(s, 'utf8').digest('hex');
export const fileId = (lfn: string) => CatalogId.file(sha224(lfn));
export const replicaId = (lfn: string, site: string) => CatalogId.replica(sha224(lfn), site);

export interface Seeded {
  readonly dataset: string;
  readonly lfns: string[];
  readonly sums: Map<string, string>;
}

/**
 * A closed block of `n` files of `owner` in a new dataset, each written under `siteDir` (the
 * site's storage root: PFN = root + LFN) and located there by a replica. `write` lets a test
 * place the bytes itself (e.g. as an XRootD server's user).
 */
export async function seedDataset(
  env: TestEnv,
  owner: string,
  site: string,
  siteDir: string,
  n: number,
  write: (file: string, data: Buffer) => void = (file, data) => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, data);
  },
): Promise<Seeded> {
  const tag = randomBytes(3).toString('hex');
  const dataset = `/Seed${tag}/${owner}-v1/USER`;
  const block = `${dataset}#${uuidFromHex(sha224(dataset))}`;
  const now = new Date().toISOString();
  const docs: Record<string, unknown>[] = [];
  const lfns: string[] = [];
  const sums = new Map<string, string>();
  let total = 0;
  for (let i = 0; i < n; i++) {
    const lfn = `/store/user/${owner}/Seed${tag}/f_${String(i).padStart(5, '0')}.root`;
    const data = randomBytes(512 + (i % 7) * 100);
    write(path.join(siteDir, lfn), data);
    const sum = adler32Hex(data);
    lfns.push(lfn);
    sums.set(lfn, sum);
    total += data.length;
    docs.push({
      _id: fileId(lfn),
      type: 'file',
      lfn,
      guid: guidOf(lfn),
      size: data.length,
      adler32: sum,
      valid: true,
      block,
      dataset,
      owner,
      created_at: now,
    });
    docs.push({
      _id: replicaId(lfn, site),
      type: 'replica',
      lfn,
      site,
      block,
      dataset,
      size: data.length,
      created_at: now,
      owner,
    });
  }
  docs.push({
    _id: CatalogId.dataset(dataset),
    type: 'dataset',
    name: dataset,
    data_tier: 'USER',
    access_type: 'VALID',
    owner,
    created_at: now,
  });
  docs.push({
    _id: CatalogId.block(block),
    type: 'block',
    name: block,
    dataset,
    owner,
    open: false,
    origin_site: site,
    file_count: n,
    total_size: total,
    created_at: now,
    closed_at: now,
  });
  const catalog = env.as('agent').use(env.dbs.catalog);
  for (let i = 0; i < docs.length; i += 1000) {
    const res = await catalog.bulk({ docs: docs.slice(i, i + 1000) as never[] });
    const bad = res.find((r) => r.error);
    if (bad) throw new Error(`seed: ${bad.id}: ${bad.error} ${bad.reason}`);
  }
  return { dataset, lfns, sums };
}

/** The request id a CLI run printed (`--json`). */
export function requestOf(run: Run): DataRequestDoc {
  if (run.code !== 0 && !run.out.trim().startsWith('{'))
    throw new Error(`CLI failed (${run.code}): ${run.err || run.out}`);
  return JSON.parse(run.out.slice(run.out.indexOf('{'))).request as DataRequestDoc;
}

export async function waitRequest(
  env: TestEnv,
  id: string,
  ms = 180_000,
  until?: (r: DataRequestDoc) => boolean,
): Promise<DataRequestDoc> {
  const db = env.admin.use(env.dbs.transfers);
  const deadline = Date.now() + ms;
  for (;;) {
    const r = (await db.get(id)) as unknown as DataRequestDoc;
    if (until ? until(r) : REQUEST_TERMINAL_STATES.includes(r.state)) return r;
    if (Date.now() > deadline) throw new Error(`request ${id} still ${r.state} ${JSON.stringify(r.progress)}`);
    await new Promise((res) => setTimeout(res, 300));
  }
}

/** Catalogue documents by id (missing ones absent from the map). */
export async function catalogDocs(env: TestEnv, ids: readonly string[]): Promise<Map<string, Record<string, unknown>>> {
  const out = new Map<string, Record<string, unknown>>();
  for (let i = 0; i < ids.length; i += 1000) {
    const res = await env.admin.use(env.dbs.catalog).fetch({ keys: ids.slice(i, i + 1000) as string[] });
    for (const r of res.rows) if ('doc' in r && r.doc) out.set(r.id, r.doc as unknown as Record<string, unknown>);
  }
  return out;
}

export function fileChecksum(file: string): string | null {
  return fs.existsSync(file) ? adler32Hex(fs.readFileSync(file)) : null;
}
