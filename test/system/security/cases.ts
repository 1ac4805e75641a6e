/**
 * Generated adversarial cases: what a plain user (or nobody) tries against a deployed couchstage.
 * Each case is one HTTP request and what must hold afterwards; the runner
 * (adversarial.test.ts) checks every case the same way: a clear JSON 4xx (or, for `_bulk_docs`,
 * a per-document refusal), no stack trace or internal path in the answer, nothing stored in any
 * database, and the server still answering.
 */
import { createHash } from 'crypto';
import type { Actor, TestEnv } from '../../support/env';
import { AGENT_NAMES } from '../../../agents/registry';

export interface AdvCase {
  readonly group: string;
  readonly name: string;
  readonly actor: Actor;
  readonly method: string;
  readonly path: string;
  /** A JSON value (sent as JSON), a raw string or Buffer (sent as given), or nothing. */
  readonly body?: unknown;
  readonly raw?: string | Buffer;
  readonly headers?: Record<string, string>;
  /** `bulk`: a 201 is allowed when every item is refused (CouchDB answers _bulk_docs per document). */
  readonly bulk?: boolean;
  /** Substrings that must not appear in the answer (another user's secrets). */
  readonly mustNotLeak?: readonly string[];
}

const sha224 = (s: string) => createHash('sha224').update(s).digest('hex');

/** Path pieces that are not a clean LFN segment: encodings, URL syntax, traversal, normalisation. */
export const HOSTILE_SEGMENTS: readonly string[] = [
  '..',
  '.',
  '%2e%2e',
  '%2E%2E',
  '..%2F..',
  '%2e%2e%2f',
  '..%252f',
  '%2f',
  '%5c',
  '%00',
  '%',
  '%zz',
  'a?b',
  'a#b',
  '?',
  '#frag',
  'a;b',
  'a\\b',
  '..\\..',
  'a\u0000b',
  'a\nb',
  'a\rb',
  'a\tb',
  'a b',
  'a\u007fb',
  '\u2024\u2024',
  '\uff0e\uff0e',
  'a\uff0fb',
  'e\u0301',
  'a\u200bb',
  '\u202e',
  'a//b',
  '',
  'a/../b',
  'a/./b',
  'a%20b',
  'a+%2e',
  '%c0%ae%c0%ae',
];

function transferDoc(user: string, over: Record<string, unknown>): Record<string, unknown> {
  const source_lfn =
    (over.source_lfn as string | undefined) ??
    `/store/temp/user/${user}/adv/${Math.random().toString(36).slice(2)}.root`;
  return {
    _id: sha224(source_lfn),
    type: 'transfer',
    user,
    workflow: 'adv',
    jobid: '1',
    job_retry_count: 0,
    file_type: 'output',
    source: 'T2_CH_CERN',
    destination: 'T2_IT_Pisa',
    source_lfn,
    destination_lfn: `/store/user/${user}/adv/${sha224(source_lfn).slice(0, 12)}.root`,
    size: 1234,
    checksums: { adler32: '0badcafe' },
    publish: false,
    priority: 3,
    state: 'new',
    created_at: new Date().toISOString(),
    ...over,
  };
}

function put(group: string, name: string, actor: Actor, db: string, doc: Record<string, unknown>): AdvCase {
  return { group, name, actor, method: 'PUT', path: `/${db}/${encodeURIComponent(String(doc._id))}`, body: doc };
}

/** The same document submitted as `couchstage submit` does: `_bulk_docs`, a fresh id per attempt. */
function bulk(c: AdvCase): AdvCase {
  return {
    ...c,
    name: c.name + ' (_bulk_docs)',
    method: 'POST',
    path: c.path.replace(/\/[^/]*$/, '/_bulk_docs'),
    body: { docs: [c.body] },
    bulk: true,
  };
}

/** LFNs a job could write that must never become a path: each hostile piece in three places of both LFNs. */
function pathCases(env: TestEnv): AdvCase[] {
  const me = env.names.owner;
  const out: AdvCase[] = [];
  HOSTILE_SEGMENTS.forEach((seg, i) => {
    const shapes = [(base: string) => `${base}/${seg}/f${i}.root`, (base: string) => `${base}/${seg}`];
    // Inside a file name, dots and an empty piece are ordinary ("f1..root" is a clean name).
    if (!/^\.*$/.test(seg)) shapes.push((base: string) => `${base}/f${i}${seg}.root`);
    shapes.forEach((shape, j) => {
      const src = shape(`/store/temp/user/${me}/adv`);
      out.push(
        put(
          'path',
          `source_lfn ${JSON.stringify(src)}`,
          'owner',
          env.dbs.transfers,
          transferDoc(me, { source_lfn: src }),
        ),
      );
      const dst = shape(`/store/user/${me}/adv`);
      out.push(
        put(
          'path',
          `destination_lfn ${JSON.stringify(dst)} (${j})`,
          'owner',
          env.dbs.transfers,
          transferDoc(me, { destination_lfn: dst }),
        ),
      );
    });
  });
  return out;
}

/** LFNs in someone else's area, or in nobody's. */
function namespaceCases(env: TestEnv): AdvCase[] {
  const me = env.names.owner;
  const other = env.names.other;
  const out: AdvCase[] = [];
  const sources = [
    `/store/temp/user/${other}/wf/a.root`,
    `/store/user/${other}/wf/a.root`,
    `/store/user/${me}/wf/a.root`,
    `/store/temp/user/${me}x/wf/a.root`,
    `/store/temp/user/${me.slice(0, -1)}/wf/a.root`,
    `/store/temp/user/a.root`,
    `/store/temp/${me}/a.root`,
    `/store/group/cms/a.root`,
    `/store/data/Run1/a.root`,
    `/store/mc/a.root`,
    `/etc/passwd`,
    `/tmp/a.root`,
    `/store/temp/user/${other.toUpperCase()}/a.root`,
    `/store/temp/user//${me}/a.root`,
  ];
  const dests = [
    `/store/user/${other}/wf/a.root`,
    `/store/temp/user/${other}/a.root`,
    `/store/temp/user/${me}/a.root`,
    `/store/user/${me}x/a.root`,
    `/store/user/a.root`,
    `/store/group/cms/a.root`,
    `/store/group/${me}/a.root`,
    `/store/data/a.root`,
    `/store/a.root`,
    `/etc/cron.d/x`,
    `/root/.ssh/authorized_keys`,
    `/store/user/${other.toUpperCase()}/a.root`,
  ];
  sources.forEach((s) =>
    out.push(put('namespace', `source in ${s}`, 'owner', env.dbs.transfers, transferDoc(me, { source_lfn: s }))),
  );
  dests.forEach((d) =>
    out.push(
      put('namespace', `destination in ${d}`, 'owner', env.dbs.transfers, transferDoc(me, { destination_lfn: d })),
    ),
  );
  const datasets = [`/Prim/${other}-v1/USER`, `/Prim/${other}-anything/USER`, `/${other}/${other}-v1/USER`];
  datasets.forEach((ds) =>
    out.push(
      put(
        'namespace',
        `publishes into ${ds}`,
        'owner',
        env.dbs.transfers,
        transferDoc(me, { publish: true, dataset: ds }),
      ),
    ),
  );
  // Writing as someone else, or as the service.
  out.push(put('namespace', 'transfer for another user', 'owner', env.dbs.transfers, transferDoc(other, {})));
  for (const state of ['acquired', 'done', 'failed', 'submitted', 'killed']) {
    out.push(
      put('namespace', `new transfer in state ${state}`, 'owner', env.dbs.transfers, transferDoc(me, { state })),
    );
  }
  return out;
}

/** The service's own documents and every database's security and design documents. */
function serviceStateCases(env: TestEnv): AdvCase[] {
  const out: AdvCase[] = [];
  // Every agent's checkpoint (`_local/<agent>`), plus the roll-up's and PouchDB's own.
  const agents = [...AGENT_NAMES, 'monitor-stats', 'mrviews'];
  const sec = { admins: { names: [env.names.owner], roles: [] }, members: { names: [], roles: [] } };
  for (const actor of ['owner', 'anonymous'] as const) {
    for (const db of Object.values(env.dbs)) {
      out.push({
        group: 'security',
        name: `${db}/_security replaced`,
        actor,
        method: 'PUT',
        path: `/${db}/_security`,
        body: sec,
      });
      out.push({
        group: 'security',
        name: `${db}/_security as text`,
        actor,
        method: 'PUT',
        path: `/${db}/_security`,
        raw: JSON.stringify(sec),
        headers: { 'Content-Type': 'text/plain' },
      });
      for (const id of ['validate', 'monitor', 'query', 'evil']) {
        out.push({
          group: 'design',
          name: `${db}/_design/${id} written`,
          actor,
          method: 'PUT',
          path: `/${db}/_design/${id}`,
          body: { validate_doc_update: 'function(){}' },
        });
        out.push({
          group: 'design',
          name: `${db}/_design/${id} deleted`,
          actor,
          method: 'DELETE',
          path: `/${db}/_design/${id}?rev=CURRENT`,
        });
      }
      out.push({
        group: 'design',
        name: `${db} design doc by _bulk_docs`,
        actor,
        method: 'POST',
        path: `/${db}/_bulk_docs`,
        body: { docs: [{ _id: '_design/validate', validate_doc_update: 'function(){}' }] },
        bulk: true,
      });
      out.push({
        group: 'design',
        name: `${db} index created`,
        actor,
        method: 'POST',
        path: `/${db}/_index`,
        body: { index: { fields: ['x'] }, ddoc: 'validate' },
      });
      out.push({
        group: 'design',
        name: `${db} index into _design/monitor`,
        actor,
        method: 'POST',
        path: `/${db}/_index`,
        body: { index: { fields: ['y'] }, ddoc: '_design/monitor', name: 'evil' },
      });
      for (const ep of ['_compact', '_view_cleanup', '_purge']) {
        out.push({
          group: 'admin-endpoint',
          name: `${db}/${ep}`,
          actor,
          method: 'POST',
          path: `/${db}/${ep}`,
          body: ep === '_purge' ? { x: ['1-a'] } : {},
        });
      }
    }
  }
  // The service database (when the deployment has one) is closed to users, _local documents included.
  const service = (env.dbs as Record<string, string>).service;
  if (service) {
    for (const actor of ['owner', 'anonymous'] as const) {
      for (const a of agents) {
        out.push({
          group: 'service-state',
          name: `${service}/_local/${a} forged`,
          actor,
          method: 'PUT',
          path: `/${service}/_local/${a}`,
          body: { seq: '999999999-x', updated_at: '2099-01-01T00:00:00Z' },
        });
        out.push({
          group: 'service-state',
          name: `${service}/_local/${a} read`,
          actor,
          method: 'GET',
          path: `/${service}/_local/${a}`,
        });
      }
      out.push({
        group: 'service-state',
        name: `${service} doc written`,
        actor,
        method: 'PUT',
        path: `/${service}/lock:scheduler`,
        body: { type: 'lock', owner: 'me' },
      });
    }
  }
  // Heartbeats and locks in the transfers db are the agents' alone.
  for (const [id, doc] of [
    ['heartbeat:scheduler:x', { type: 'heartbeat', agent: 'scheduler', instance: 'x', at: '2099-01-01T00:00:00Z' }],
    ['lock:scheduler', { type: 'lock', owner: 'me', expires_at: '2099-01-01T00:00:00Z' }],
    [
      'tj-forged',
      {
        type: 'transfer_job',
        user: env.names.owner,
        source: 'T2_CH_CERN',
        destination: 'T2_IT_Pisa',
        state: 'submitted',
        files: [],
        created_at: '2026-11-26T06:00:00Z',
      },
    ],
  ] as const) {
    out.push(put('service-state', `transfers ${id} forged`, 'owner', env.dbs.transfers, { _id: id, ...doc }));
  }
  return out;
}

/** Every endpoint, anonymously and as a plain user where only admins may go. */
function endpointCases(env: TestEnv): AdvCase[] {
  const out: AdvCase[] = [];
  const dbReads: [string, string, unknown?][] = [
    ['GET', ''],
    ['GET', '/_all_docs'],
    ['GET', '/_all_docs?include_docs=true'],
    ['POST', '/_all_docs', { keys: ['x'] }],
    ['GET', '/_changes'],
    ['GET', '/_changes?include_docs=true&since=0'],
    ['POST', '/_changes', { doc_ids: ['x'] }],
    ['POST', '/_find', { selector: {} }],
    ['POST', '/_explain', { selector: {} }],
    ['GET', '/_index'],
    ['POST', '/_bulk_get', { docs: [{ id: 'x' }] }],
    ['GET', '/_design_docs'],
    ['POST', '/_revs_diff', { x: ['1-a'] }],
    ['POST', '/_missing_revs', { x: ['1-a'] }],
    ['GET', '/_security'],
    ['GET', '/_local/x'],
    ['GET', '/_design/validate'],
    ['GET', '/_design/monitor/_view/by_state'],
    ['GET', '/x'],
    ['GET', '/_local_docs'],
    ['POST', '/', { _id: 'anon-post' }],
    ['PUT', '/anon-put', { type: 'transfer' }],
    ['PUT', '/_local/x', { a: 1 }],
    ['POST', '/_bulk_docs', { docs: [{ _id: 'anon-bulk' }] }],
    ['POST', '/_ensure_full_commit', {}],
    ['GET', '/_revs_limit'],
    ['PUT', '/_revs_limit', 1],
  ];
  for (const db of Object.values(env.dbs)) {
    for (const [method, p, body] of dbReads) {
      out.push({
        group: 'anonymous',
        name: `${method} /${db}${p}`,
        actor: 'anonymous',
        method,
        path: `/${db}${p}`,
        body,
      });
    }
  }
  const server: [string, string, unknown?][] = [
    ['GET', '/_all_dbs'],
    ['GET', '/_dbs_info'],
    ['GET', '/_active_tasks'],
    ['GET', '/_node/_local/_config'],
    ['GET', '/_node/_local/_config/admins'],
    ['PUT', '/_node/_local/_config/admins/evil', 'pw'],
    ['GET', '/_config'],
    ['PUT', '/_config/admins/evil', 'pw'],
    ['PUT', '/_node/_local/_config/csp/attachments_enable', 'false'],
    ['PUT', '/_node/_local/_config/chttpd/bind_address', '0.0.0.0'],
    ['DELETE', '/_node/_local/_config/admins/admin'],
    ['GET', '/_scheduler/jobs'],
    ['GET', '/_membership'],
    ['PUT', '/evil_db'],
    ['POST', '/_replicate', { source: '_users', target: 'evil_users', create_target: true }],
    ['POST', '/_replicate', { source: env.dbs.transfers, target: 'evil_copy', create_target: true }],
    [
      'PUT',
      '/_users/org.couchdb.user:evil',
      { _id: 'org.couchdb.user:evil', name: 'evil', type: 'user', roles: ['_admin'], password: 'pw' },
    ],
    [
      'PUT',
      '/_users/org.couchdb.user:evil2',
      { _id: 'org.couchdb.user:evil2', name: 'evil2', type: 'user', roles: ['couchstage-ops'], password: 'pw' },
    ],
    ['DELETE', `/${env.dbs.transfers}`],
    ['GET', '/_users/_all_docs'],
    ['POST', '/_users/_find', { selector: {} }],
    ['GET', '/_users/_changes?include_docs=true'],
    ['POST', '/_users/_bulk_get', { docs: [{ id: `org.couchdb.user:${env.names.other}` }] }],
    ['GET', `/_users/org.couchdb.user:${env.names.other}`],
    ['GET', '/_replicator/_all_docs'],
    ['POST', '/_replicator', { source: 'a', target: 'b' }],
  ];
  for (const actor of ['anonymous', 'owner'] as const) {
    for (const [method, p, body] of server) {
      out.push({
        group: actor === 'anonymous' ? 'anonymous' : 'server-admin-only',
        name: `${method} ${p}`,
        actor,
        method,
        path: p,
        body,
        mustNotLeak: p.startsWith('/_users') ? ['derived_key', 'salt'] : undefined,
      });
    }
  }
  return out;
}

/** Bodies no endpoint may answer with a 500: wrong shapes, bad JSON, deep nesting, huge. */
function malformedCases(env: TestEnv): AdvCase[] {
  const out: AdvCase[] = [];
  // Built as text: JSON.stringify itself overflows the stack at this depth.
  const deep = '{"selector":' + '{"$and":['.repeat(5000) + '{"a":1}' + ']}'.repeat(5000) + '}';
  const bodies: [string, unknown, string?][] = [
    ['docs is an object', { docs: { a: 1 } }],
    ['docs holds scalars', { docs: [1, 'x', null] }],
    ['docs is null', { docs: null }],
    ['no docs', {}],
    ['docs of arrays', { docs: [[1], [2]] }],
    ['array body', [1, 2]],
    ['string body', 'x'],
    ['number body', 7],
    ['keys not an array', { keys: 'x' }],
    ['keys of objects', { keys: [{}, []] }],
    ['selector a string', { selector: 'x' }],
    ['selector deeply nested', undefined, deep],
    ['limit negative', { selector: {}, limit: -1 }],
    ['fields bad', { selector: {}, fields: 'x' }],
    ['bad JSON', undefined, '{"docs": [}'],
    ['truncated JSON', undefined, '{"docs": [{"_id": "a"'],
    ['not JSON at all', undefined, '<xml/>'],
    ['JSON with NaN', undefined, '{"a": NaN}'],
    ['empty body', undefined, ''],
    ['BOM and garbage', undefined, '\ufeff\u0000\u0001'],
  ];
  const endpoints = [
    '/_bulk_docs',
    '/_find',
    '/_explain',
    '/_bulk_get',
    '/_all_docs',
    '/_revs_diff',
    '/_index',
    '/_purge',
  ];
  for (const ep of endpoints) {
    for (const [name, body, raw] of bodies) {
      out.push({
        group: 'malformed',
        name: `${ep}: ${name}`,
        actor: 'owner',
        method: 'POST',
        path: `/${env.dbs.transfers}${ep}`,
        ...(raw !== undefined ? { raw, headers: { 'Content-Type': 'application/json' } } : { body }),
        bulk: ep === '/_bulk_docs',
      });
    }
  }
  // Larger than any document or request CouchDB takes by default: refused, never buffered.
  const big = Buffer.alloc(70 * 1024 * 1024, 0x61);
  out.push({
    group: 'oversized',
    name: 'a 70 MB document',
    actor: 'owner',
    method: 'PUT',
    path: `/${env.dbs.transfers}/big`,
    raw: Buffer.concat([Buffer.from('{"type":"transfer","x":"'), big, Buffer.from('"}')]),
    headers: { 'Content-Type': 'application/json' },
  });
  out.push({
    group: 'oversized',
    name: 'a 70 MB _find',
    actor: 'anonymous',
    method: 'POST',
    path: `/${env.dbs.transfers}/_find`,
    raw: Buffer.concat([Buffer.from('{"selector":{"x":"'), big, Buffer.from('"}}')]),
    headers: { 'Content-Type': 'application/json' },
  });
  out.push({
    group: 'oversized',
    name: '20,000 documents in one _bulk_docs',
    actor: 'owner',
    method: 'POST',
    path: `/${env.dbs.transfers}/_bulk_docs`,
    body: { docs: Array.from({ length: 20_000 }, (_, i) => ({ _id: `bulk-${i}`, type: 'transfer' })) },
    bulk: true,
  });
  return out;
}

/** Catalogue and configuration documents: operators and agents only (a site's TFC rules decide every PFN). */
function catalogConfigCases(env: TestEnv): AdvCase[] {
  const out: AdvCase[] = [];
  const me = env.names.owner;
  const docs: [string, Record<string, unknown>][] = [
    [
      env.dbs.config,
      {
        _id: 'site:T2_CH_CERN',
        type: 'site',
        name: 'T2_CH_CERN',
        endpoint: 'file:///',
        tfc: [{ match: '^/(.*)', pfn: '/$1' }],
      },
    ],
    [env.dbs.config, { _id: 'site:T2_EVIL', type: 'site', name: 'T2_EVIL', endpoint: 'root://127.0.0.1:1//', tfc: [] }],
    [
      env.dbs.config,
      {
        _id: 'link:T2_CH_CERN:T2_IT_Pisa',
        type: 'link',
        source: 'T2_CH_CERN',
        destination: 'T2_IT_Pisa',
        max_active: 100000,
      },
    ],
    [env.dbs.config, { _id: 'settings', type: 'settings', max_retries: 1000000 }],
    [env.dbs.catalog, { _id: 'dataset:/Prim/evil-v1/USER', type: 'dataset', name: '/Prim/evil-v1/USER', user: me }],
    [env.dbs.catalog, { _id: 'block:/Prim/evil-v1/USER#1', type: 'block', dataset: '/Prim/evil-v1/USER' }],
    [env.dbs.catalog, { _id: 'file:/store/user/evil.root', type: 'file', lfn: '/store/user/evil.root', size: 1 }],
    [env.dbs.catalog, { _id: 'replica:x', type: 'replica', lfn: '/store/user/evil.root', site: 'T2_CH_CERN' }],
    [env.dbs.catalog, { _id: `quota:${me}`, type: 'quota', user: me, bytes: 1e18, files: 1e12 }],
  ];
  for (const actor of ['owner', 'anonymous'] as const) {
    for (const [db, doc] of docs) {
      out.push(put('catalog-config', `${doc._id} in ${db}`, actor, db, doc));
      out.push({
        group: 'catalog-config',
        name: `${doc._id} in ${db} by _bulk_docs`,
        actor,
        method: 'POST',
        path: `/${db}/_bulk_docs`,
        body: { docs: [doc] },
        bulk: true,
      });
      out.push({
        group: 'catalog-config',
        name: `${doc._id} in ${db} by POST`,
        actor,
        method: 'POST',
        path: `/${db}`,
        body: doc,
      });
      out.push({
        group: 'catalog-config',
        name: `${doc._id} in ${db} replicated`,
        actor,
        method: 'POST',
        path: `/${db}/_bulk_docs`,
        bulk: true,
        body: {
          new_edits: false,
          docs: [{ ...doc, _rev: '1-' + createHash('md5').update(String(doc._id)).digest('hex') }],
        },
      });
    }
  }
  return out;
}

/** Data-handling requests naming files outside the user's namespace or not clean LFNs. */
function requestCases(env: TestEnv): AdvCase[] {
  const me = env.names.owner;
  const out: AdvCase[] = [];
  const bad = [
    ...HOSTILE_SEGMENTS.filter((s) => !/^\.*$/.test(s) && s !== '').map((s) => `/store/user/${me}/rq/${s}/a.root`),
    `/store/user/${env.names.other}/a.root`,
    '/etc/passwd',
    `/store/user/${me}/../${env.names.other}/a.root`,
  ];
  bad.forEach((lfn, i) => {
    for (const kind of ['delete', 'replicate'] as const) {
      out.push(
        put('request', `${kind} request for ${JSON.stringify(lfn)}`, 'owner', env.dbs.transfers, {
          _id: `rq-adv-${kind}-${i}`,
          type: 'request',
          kind,
          user: me,
          lfns: [lfn],
          sites: ['T2_IT_Pisa'],
          state: 'new',
          created_at: '2026-11-26T06:00:00Z',
        }),
      );
    }
  });
  return out;
}

export function generateCases(env: TestEnv): AdvCase[] {
  const submissions = [...pathCases(env), ...namespaceCases(env)];
  return [
    ...submissions,
    ...submissions.map(bulk),
    ...requestCases(env),
    ...serviceStateCases(env),
    ...endpointCases(env),
    ...malformedCases(env),
    ...catalogConfigCases(env),
  ];
}

/**
 * Replicated edits (`new_edits: false`) whose `_revisions` extend a stored revision: CouchDB hands
 * validate_doc_update the extended revision as the old document, so each is a change to an
 * existing transfer and must be judged as one, never as a creation.
 */
export function replicatedCases(
  env: TestEnv,
  stored: { owner: Record<string, unknown>; other: Record<string, unknown> },
): AdvCase[] {
  const out: AdvCase[] = [];
  const edits: [string, Record<string, unknown>][] = [
    ['deleted', { _deleted: true }],
    ['checksum changed', { checksums: { adler32: 'deadbeef' } }],
    ['size changed', { size: 1 }],
    ['destination changed', { destination: 'T1_US_FNAL' }],
    ['destination_lfn changed', { destination_lfn: `/store/user/${env.names.owner}/x.root` }],
    ['source_lfn changed', { source_lfn: `/store/temp/user/${env.names.owner}/x.root` }],
    ['owner changed', { user: 'SWAP' }],
    ['state done', { state: 'done' }],
    ['state failed', { state: 'failed' }],
    ['state acquired', { state: 'acquired' }],
    ['publish turned on', { publish: true, dataset: `/Prim/${env.names.owner}-v1/USER` }],
    ['priority raised', { priority: 1 }],
    ['retry on a new transfer', { retry_requested: true }],
    ['workflow renamed', { workflow: 'other' }],
    ['type changed', { type: 'request' }],
  ];
  const depths = [1, 2, 5];
  for (const [whose, doc] of [
    ["another user's", stored.other],
    ['own', stored.owner],
  ] as const) {
    const [n, hash] = String(doc._rev).split('-');
    for (const [what, raw] of edits) {
      if (whose === 'own' && what === 'retry on a new transfer') continue;
      const change = raw.user === 'SWAP' ? { user: whose === 'own' ? env.names.other : env.names.owner } : raw;
      for (const depth of depths) {
        const ids: string[] = [];
        for (let d = depth; d >= 1; d--)
          ids.push(createHash('md5').update(`${what}${depth}${d}${doc._id}`).digest('hex'));
        ids.push(hash);
        const start = Number(n) + depth;
        out.push({
          group: 'replicated',
          name: `${whose} transfer ${what} (new_edits=false, ${depth} revision(s) on top)`,
          actor: 'owner',
          method: 'POST',
          path: `/${env.dbs.transfers}/_bulk_docs`,
          bulk: true,
          body: {
            new_edits: false,
            docs: [{ ...doc, ...change, _rev: `${start}-${ids[0]}`, _revisions: { start, ids } }],
          },
        });
      }
      // A revision tree of its own (no common ancestor) is validated as a creation, on CouchDB as
      // here: refused for another user's document; for one's own it is a conflict branch that
      // the conflict rule (agents/lib/conflicts.ts) decides, so it is not a case of this table.
      if (whose === 'own') continue;
      const lone = createHash('md5').update(`lone${what}${doc._id}`).digest('hex');
      out.push({
        group: 'replicated',
        name: `${whose} transfer ${what} (new_edits=false, unrelated branch)`,
        actor: 'owner',
        method: 'POST',
        path: `/${env.dbs.transfers}/_bulk_docs`,
        bulk: true,
        body: { new_edits: false, docs: [{ ...doc, ...change, _rev: `1-${lone}` }] },
      });
    }
  }
  return out;
}
