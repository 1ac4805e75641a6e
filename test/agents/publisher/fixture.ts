/**
 * A small catalogue with known content, written through validate_doc_update as an agent: three
 * datasets, three closed blocks, four files, replicas at three sites, a quota, and a "ghost" file
 * whose block document is missing (a block in the middle of a migration), which no query may show.
 */
import { CatalogId, uuidFromHex } from '../../../views/schema';
import { fileIdOf, guidOf, replicaIdOf } from '../../../views/lib/catalog-ids';
import type { TestEnv } from '../../support/env';

export const RAW = '/Prim/raw-v1/RAW';
export const A = '/Prim/alice-a-v1/USER';
export const B = '/Other/bob-b-v1/AOD';
export const A1 = A + '#' + uuidFromHex('a1'.repeat(16));
export const A2 = A + '#' + uuidFromHex('a2'.repeat(16));
export const B1 = B + '#' + uuidFromHex('b1'.repeat(16));
export const GHOST_BLOCK = A + '#' + uuidFromHex('99'.repeat(16));
export const F1 = '/store/user/alice/a/1/f1.root';
export const F2 = '/store/user/alice/a/1/f2.root';
export const F3 = '/store/user/alice/a/2/f3.root';
export const G1 = '/store/user/bob/b/g1.root';
export const GHOST = '/store/user/alice/a/ghost.root';
export const R1 = '/store/data/raw/r1.root';
export const AT = '2026-11-26T06:00:00Z';

export const SITES = [
  {
    name: 'T2_CH_CERN',
    tfc: [
      { protocol: 'root', path_match: '/+store/(.*)', result: 'root://cern.example:1094//eos/cms/store/$1' },
      { protocol: 'file', path_match: '/+(.*)', result: 'file:///data/cern/$1' },
    ],
  },
  { name: 'T2_IT_Pisa', tfc: [{ protocol: 'root', path_match: '/+(.*)', result: 'root://pisa.example:1094//$1' }] },
  { name: 'T1_US_FNAL', tfc: [{ protocol: 'file', path_match: '/+(.*)', result: 'file:///fnal/$1' }] },
];

function dataset(name: string, owner: string, parents?: string[]) {
  return {
    _id: CatalogId.dataset(name),
    type: 'dataset',
    name,
    data_tier: name.split('/')[3],
    access_type: 'VALID',
    owner,
    created_at: AT,
    ...(parents ? { parents } : {}),
  };
}
function block(name: string, owner: string, files: [string, number][], site: string, open = false) {
  return {
    _id: CatalogId.block(name),
    type: 'block',
    name,
    dataset: name.split('#')[0],
    owner,
    open,
    origin_site: site,
    file_count: files.length,
    total_size: files.reduce((a, f) => a + f[1], 0),
    created_at: AT,
    closed_at: open ? null : AT,
  };
}
function file(lfn: string, size: number, blockName: string, owner: string, parents?: string[]) {
  return {
    _id: fileIdOf(lfn),
    type: 'file',
    lfn,
    guid: guidOf(lfn),
    size,
    adler32: '0badcafe',
    valid: true,
    block: blockName,
    dataset: blockName.split('#')[0],
    owner,
    created_at: AT,
    ...(parents ? { parents } : {}),
  };
}
function replica(lfn: string, size: number, site: string, blockName: string, owner: string) {
  return {
    _id: replicaIdOf(lfn, site),
    type: 'replica',
    lfn,
    site,
    block: blockName,
    dataset: blockName.split('#')[0],
    size,
    created_at: AT,
    owner,
  };
}

export function fixtureDocs(): Record<string, unknown>[] {
  return [
    dataset(RAW, 'ops'),
    dataset(A, 'alice', [RAW]),
    dataset(B, 'bob'),
    file(F1, 100, A1, 'alice', [R1]),
    file(F2, 200, A1, 'alice'),
    file(F3, 300, A2, 'alice', [F1]),
    file(G1, 50, B1, 'bob'),
    file(GHOST, 999, GHOST_BLOCK, 'alice', [R1]),
    replica(F1, 100, 'T2_CH_CERN', A1, 'alice'),
    replica(F2, 200, 'T2_CH_CERN', A1, 'alice'),
    replica(F1, 100, 'T2_IT_Pisa', A1, 'alice'),
    replica(F3, 300, 'T2_IT_Pisa', A2, 'alice'),
    replica(G1, 50, 'T1_US_FNAL', B1, 'bob'),
    replica(GHOST, 999, 'T2_CH_CERN', GHOST_BLOCK, 'alice'),
    block(
      A1,
      'alice',
      [
        [F1, 100],
        [F2, 200],
      ],
      'T2_CH_CERN',
    ),
    block(A2, 'alice', [[F3, 300]], 'T2_IT_Pisa'),
    block(B1, 'bob', [[G1, 50]], 'T1_US_FNAL'),
    { _id: CatalogId.quota('alice'), type: 'quota', user: 'alice', max_bytes: 10000, max_files: 10 },
  ];
}

export async function writeFixture(env: TestEnv, dbName = env.dbs.catalog): Promise<void> {
  const res = await env
    .as('agent')
    .use(dbName)
    .bulk({ docs: fixtureDocs() as never[] });
  const bad = res.find((r) => r.error);
  if (bad) throw new Error(`fixture: ${bad.id}: ${bad.error} ${bad.reason}`);
  const sites = SITES.map((s) => ({
    _id: 'site:' + s.name,
    type: 'site',
    name: s.name,
    endpoints: { root: 'root://x.example:1094' },
    tfc: s.tfc,
  }));
  const r2 = await env
    .as('ops')
    .use(env.dbs.config)
    .bulk({ docs: sites as never[] });
  const bad2 = r2.find((r) => r.error && r.error !== 'conflict');
  if (bad2) throw new Error(`fixture sites: ${bad2.id}: ${bad2.error} ${bad2.reason}`);
}
