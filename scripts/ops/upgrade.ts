/**
 * `couchstage upgrade`: the staged view upgrade (seed 002: ASO was off for a day at every
 * monthly upgrade while CouchDB rebuilt its indexes). Per design document:
 *   unchanged hash                  -> nothing (a leftover staged copy is removed)
 *   views unchanged (signature)     -> replaced directly: the index is reused as it is
 *   views changed, or a new ddoc    -> upload `_design/<name>-staged`, build its indexes while the
 *                                      live doc keeps answering, COPY it over the live doc (the
 *                                      server reuses the staged index: same signature), delete
 *                                      the staged doc, `_view_cleanup`
 * Interruptible and re-runnable: the staged doc carries the target hash, so a second run (or a
 * run after a crash) finds it, re-queries its already built index (cheap) and goes on; once the
 * live doc has the target hash, only the clean-up is left. Nothing is built twice.
 */
import { buildDesign, DESIGNS } from '../../design';
import type { BuiltDesign, DesignSpec } from '../../design/types';
import { deployVersion } from '../../design/version';
import { projectRoot } from '../../agents/platform/config';
import type { DbRole } from '../../views/schema';
import { pushDesign } from '../deploy';
import { designIsCurrent } from '../../design/content-hash';
import { connect } from '../../agents/platform/couch';
import { capabilities } from '../../agents/platform/capabilities';
import { buildIndexes, viewCleanup, viewSignature, type BuildReport, type DesignLike } from './index-build';
import { ddocPath, dbPath, expectStatus, http } from './http';

export const STAGED_SUFFIX = '-staged';

export type UpgradeAction = 'unchanged' | 'replaced' | 'created' | 'staged';

export interface UpgradeStep {
  readonly db: string;
  readonly id: string;
  readonly action: UpgradeAction;
  /** Set when an index was built (or found built) through the staged copy. */
  readonly build?: BuildReport;
  /** The staged copy already existed with the target hash: this run resumed it. */
  readonly resumed?: boolean;
}

export interface UpgradeOptions {
  readonly url: string;
  readonly dbs: Record<DbRole, string>;
  /** Design specs to install; default DESIGNS (whatever design/index.ts registers). */
  readonly designs?: readonly DesignSpec[];
  readonly root?: string;
  readonly version?: string;
  readonly log?: (line: string) => void;
  readonly pollMs?: number;
  readonly signal?: AbortSignal;
  /** Test hook: called after the staged index is built, before the COPY. */
  readonly beforeSwap?: (step: { db: string; id: string }) => Promise<void> | void;
}

type Existing = DesignLike & { _id: string; _rev: string; couchstage?: { hash?: string } };

async function getDoc(url: string, db: string, id: string, attachments = false): Promise<Existing | null> {
  const a = await http<Existing>(url, 'GET', ddocPath(db, id) + (attachments ? '?attachments=true' : ''));
  if (a.status === 404) return null;
  return expectStatus(a, `reading ${db}/${id}`).body;
}

async function deleteDoc(url: string, db: string, id: string, rev: string): Promise<void> {
  expectStatus(
    await http(url, 'DELETE', `${ddocPath(db, id)}?rev=${encodeURIComponent(rev)}`),
    `deleting ${db}/${id}`,
    [200, 202, 404],
  );
}

/**
 * COPY the staged doc over the live one, in the path form the server routes (capabilities:
 * CouchDB takes `/db/_design/x`, the embedded server only `/db/_design%2Fx`; both are valid HTTP
 * for an id holding a slash).
 */
export async function copyDesign(
  url: string,
  db: string,
  from: string,
  to: string,
  toRev: string | undefined,
): Promise<void> {
  const dest = to + (toRev ? `?rev=${encodeURIComponent(toRev)}` : '');
  const path =
    (await capabilities(url)).copyForm === 'encoded' ? dbPath(db) + '/' + encodeURIComponent(from) : ddocPath(db, from);
  const a = await http(url, 'COPY', path, { headers: { Destination: dest } });
  if (a.status === 409)
    throw Object.assign(
      new Error(`COPY ${db}/${from} -> ${to}: 409 conflict (the live design doc changed meanwhile: run upgrade again)`),
      { statusCode: 409 },
    );
  expectStatus(a, `COPY ${db}/${from} -> ${to}`, [201, 202]);
}

/**
 * PouchDB-based servers (the embedded one) record which design doc uses which index in
 * `_local/mrviews` and `_view_cleanup` drops every index no recorded design doc still has. They
 * record a design doc only when it builds an index itself: the live doc, answering from the index
 * the staged doc built (same signature, cached), is never recorded, so the clean-up after the
 * staged doc's deletion dropped the index and the next query rebuilt it (measured: 69 s for 10k
 * documents). Where that record exists, the staged doc's entries are carried over to the live
 * doc; CouchDB keeps no such record (capabilities.indexRecord) and needs nothing.
 */
export async function carryIndexRecord(url: string, db: string, stagedId: string, liveId: string): Promise<boolean> {
  if (!(await capabilities(url)).indexRecord) return false;
  const staged = stagedId.replace(/^_design\//, '') + '/';
  const live = liveId.replace(/^_design\//, '') + '/';
  for (let attempt = 0; attempt < 5; attempt++) {
    const a = await http<{ _rev?: string; views?: Record<string, Record<string, boolean>> }>(
      url,
      'GET',
      dbPath(db) + '/_local/mrviews',
    );
    if (a.status !== 200 || !a.body.views) return false;
    const views = { ...a.body.views };
    let changed = false;
    for (const [name, deps] of Object.entries(a.body.views)) {
      if (!name.startsWith(staged)) continue;
      const target = live + name.slice(staged.length);
      const merged = { ...(views[target] || {}), ...deps };
      if (Object.keys(merged).length !== Object.keys(views[target] || {}).length) {
        views[target] = merged;
        changed = true;
      }
    }
    if (!changed) return false;
    const put = await http(url, 'PUT', dbPath(db) + '/_local/mrviews', { body: { ...a.body, views } });
    if (put.status === 201 || put.status === 200) return true;
    if (put.status !== 409) expectStatus(put, `recording the index of ${db}/${liveId}`);
  }
  throw new Error(`recording the index of ${db}/${liveId}: too many conflicts`);
}

async function upgradeOne(opts: UpgradeOptions, built: BuiltDesign, log: (l: string) => void): Promise<UpgradeStep> {
  const db = opts.dbs[built.db];
  const stagedId = built.id + STAGED_SUFFIX;
  // With the attachments' bytes: a document changed on the server may keep its stamp (design/content-hash.ts).
  const live = await getDoc(opts.url, db, built.id, true);
  const staged = await getDoc(opts.url, db, stagedId);
  if (live && designIsCurrent(live, built)) {
    if (staged) {
      // A run stopped between the COPY and the clean-up: finish it.
      await deleteDoc(opts.url, db, stagedId, staged._rev);
      await viewCleanup(opts.url, db);
      log(`${db}/${built.id}: already current; removed the leftover ${stagedId}`);
    } else log(`${db}/${built.id}: unchanged`);
    return { db, id: built.id, action: 'unchanged' };
  }
  const newSig = viewSignature(built.doc as DesignLike);
  if (newSig === null || (live && viewSignature(live) === newSig)) {
    const action = await pushDesign(connect(opts.url), db, built);
    if (staged) await deleteDoc(opts.url, db, stagedId, staged._rev);
    log(
      `${db}/${built.id}: ${action === 'created' ? 'created' : 'replaced directly'} (${newSig === null ? 'no views' : 'views unchanged, index kept'})`,
    );
    return { db, id: built.id, action: action === 'created' ? 'created' : 'replaced' };
  }
  const resumed = !!staged && staged.couchstage?.hash === built.hash;
  if (!resumed) {
    expectStatus(
      await http<{ rev: string }>(opts.url, 'PUT', ddocPath(db, stagedId), {
        body: { ...built.doc, _id: stagedId, ...(staged ? { _rev: staged._rev } : {}) },
      }),
      `uploading ${db}/${stagedId}`,
    );
    log(`${db}/${built.id}: views changed; uploaded ${stagedId}, building its indexes (the live views keep answering)`);
  } else log(`${db}/${built.id}: resuming ${stagedId} (already uploaded with this version)`);
  const build = await buildIndexes(opts.url, db, stagedId, (built.doc as DesignLike).views || {}, {
    log,
    pollMs: opts.pollMs,
    signal: opts.signal,
  });
  if (opts.signal?.aborted) throw new Error('interrupted');
  await opts.beforeSwap?.({ db, id: built.id });
  // Re-read the live revision just before the swap: deploys may have run meanwhile.
  const liveNow = await getDoc(opts.url, db, built.id);
  await copyDesign(opts.url, db, stagedId, built.id, liveNow?._rev);
  log(`${db}/${built.id}: ${stagedId} copied over the live design doc`);
  // The live doc's views answer from the staged index at once; query them once so the server
  // knows the live doc uses that index before the staged doc goes.
  await buildIndexes(opts.url, db, built.id, (built.doc as DesignLike).views || {}, {
    pollMs: 60_000,
    signal: opts.signal,
  });
  await carryIndexRecord(opts.url, db, stagedId, built.id);
  const stagedNow = await getDoc(opts.url, db, stagedId);
  if (stagedNow) await deleteDoc(opts.url, db, stagedId, stagedNow._rev);
  await viewCleanup(opts.url, db);
  log(`${db}/${built.id}: removed ${stagedId}; old indexes cleaned up`);
  return { db, id: built.id, action: 'staged', build, resumed };
}

export async function upgrade(opts: UpgradeOptions): Promise<UpgradeStep[]> {
  const log = opts.log || (() => undefined);
  const root = opts.root || projectRoot();
  const version = opts.version || deployVersion(root);
  const specs = opts.designs || DESIGNS;
  for (const db of new Set(specs.map((s) => opts.dbs[s.db]))) {
    const a = await http(opts.url, 'GET', dbPath(db));
    if (a.status === 404) throw new Error(`database ${db} does not exist: run "couchstage deploy" for a fresh install`);
    expectStatus(a, `database ${db}`);
  }
  const steps: UpgradeStep[] = [];
  for (const spec of specs) {
    if (opts.signal?.aborted) break;
    const built = await buildDesign(spec, root, version);
    steps.push(await upgradeOne(opts, built, log));
  }
  return steps;
}
