/**
 * `couchstage migrate-db --to-prefix P [--target-url URL]`: seed 002's second fix, also the way
 * to new hardware or a cluster. Steps:
 *   1. deploy the target databases (security, design docs) on the target server;
 *   2. replicate every database continuously, design docs excepted (ops/replication.ts: the
 *      target server's replicator, watched in `_scheduler/jobs`, where it has one; else PouchDB
 *      driven from this process);
 *   3. build the target's view indexes while the old databases keep serving; on another server,
 *      copy the couchstage accounts (migrate-accounts.ts), again while writes are paused;
 *   4. wait until the copy has caught up (every live id and winning revision of the source is in
 *      the target, checked with `_revs_diff`);
 *   5. pause writes on the old databases (`_design/readonly`, reason "migrating": every write but
 *      an admin's is refused; agents see it in their feed and wait);
 *   6. final catch-up, then verify: same number of documents, every revision present, and the
 *      source's update sequence unchanged since the pause (nothing slipped in);
 *   7. switch: the marker becomes "moved" with the new prefix; agents follow it
 *      (agents/lib/moved.ts), jobs and the page use the new names.
 * Re-runnable: a run that finds the source already moved reports it and does nothing; a run that
 * stopped while writes were paused resumes from step 1 (deploy and replication are idempotent).
 */
import { dbNames, DbRole } from '../../views/schema';
import { buildDesign, DESIGNS } from '../../design';
import { deploy } from '../deploy';
import { seqNumber } from '../../agents/lib/checkpoint';
import { withoutCredentials } from '../../agents/platform/config';
import { projectRoot } from '../../agents/platform/config';
import { deployVersion } from '../../design/version';
import { dbPath, expectStatus, http } from './http';
import { buildIndexes, type BuildReport } from './index-build';
import { getReadonly, setReadonly } from './readonly';
import { startReplication, type Replication } from './replication';
import { CATCH_UP_LAG, waitCaughtUp } from './migrate-catch-up';
import { copyAccounts } from './migrate-accounts';

export { missingRevisions } from './migrate-catch-up';

export interface MigrateOptions {
  readonly sourceUrl: string;
  readonly fromPrefix: string;
  readonly toPrefix: string;
  /** Target server with admin credentials; default: the source server. */
  readonly targetUrl?: string;
  readonly log?: (line: string) => void;
  readonly signal?: AbortSignal;
  readonly pollMs?: number;
  /** Test hook: runs while writes are paused, before the final catch-up. */
  readonly whilePaused?: () => Promise<void> | void;
}

export interface DbReport {
  readonly source: string;
  readonly target: string;
  readonly sourceDocs: number;
  readonly targetDocs: number;
  readonly sourceSeqAtPause: string | number;
  readonly sourceSeqAtSwitch: string | number;
  readonly targetSeq: string | number;
}

export interface MigrateReport {
  readonly alreadyMoved?: boolean;
  /** Who copied: the target server's replicator, or this process. */
  readonly replication?: 'server' | 'client';
  readonly dbs: DbReport[];
  readonly builds: BuildReport[];
  readonly pausedSeconds: number;
}

/**
 * The marker is in force once writes stop landing. A write validated just before the new
 * validate_doc_update reached the server's design-doc cache, or a `_bulk_docs` already under way,
 * still lands right after it (measured on CouchDB 3.4: 1 to 9 agents' writes in about a third of
 * the runs of test/scripts/ops/migrate.test.ts once replication was fast), so the pause counts from the
 * first QUIET_MS in which no database's sequence moves; after MAX_SETTLE_MS the verification
 * decides. Late writes are copied by the final catch-up like any other.
 */
const QUIET_MS = 1000;
const MAX_SETTLE_MS = 30_000;

async function quiet(url: string, dbs: string[], log: (l: string) => void): Promise<DbInfo[]> {
  const t0 = Date.now();
  let prev = await Promise.all(dbs.map((db) => info(url, db)));
  for (;;) {
    await new Promise((r) => setTimeout(r, QUIET_MS));
    const cur = await Promise.all(dbs.map((db) => info(url, db)));
    const moved = cur.filter((c, i) => seqNumber(c.update_seq) !== seqNumber(prev[i].update_seq)).length;
    if (!moved) return cur;
    if (Date.now() - t0 > MAX_SETTLE_MS) return cur;
    log(`writes still landing on ${moved} database(s) after the pause marker; waiting for them to stop`);
    prev = cur;
  }
}

interface DbInfo {
  doc_count: number;
  update_seq: string | number;
}

async function info(url: string, db: string): Promise<DbInfo> {
  return expectStatus(await http<DbInfo>(url, 'GET', dbPath(db)), `database ${db}`).body;
}

async function designCount(url: string, db: string): Promise<number> {
  const a = expectStatus(
    await http<{ rows: unknown[] }>(
      url,
      'GET',
      `${dbPath(db)}/_all_docs?startkey=${encodeURIComponent('"_design/"')}&endkey=${encodeURIComponent('"_design0"')}`,
    ),
    `design docs of ${db}`,
  );
  return a.body.rows.length;
}

export async function migrateDb(opts: MigrateOptions): Promise<MigrateReport> {
  const log = opts.log || (() => undefined);
  const tgtUrl = opts.targetUrl || opts.sourceUrl;
  const pollMs = opts.pollMs ?? 1000;
  const from = dbNames(opts.fromPrefix);
  const to = dbNames(opts.toPrefix);
  const roles = Object.keys(from) as DbRole[];
  if (await alreadyMoved(opts, tgtUrl, from, log)) return { alreadyMoved: true, dbs: [], builds: [], pausedSeconds: 0 };

  // 1. target databases and design docs
  const root = projectRoot();
  const version = deployVersion(root);
  await deploy({ url: tgtUrl, dbs: to, root, version, log: (l) => log(`target: ${l}`) });
  // 2. continuous replication
  const withDb = (url: string, db: string) => url.replace(/\/+$/, '') + '/' + encodeURIComponent(db);
  const reps: Replication[] = [];
  const pairs = roles.map((r) => ({ src: from[r], tgt: to[r] }));
  try {
    for (const r of roles)
      reps.push(await startReplication(withDb(opts.sourceUrl, from[r]), withDb(tgtUrl, to[r]), tgtUrl, log));
    log(
      `replicating ${roles.map((r) => `${from[r]} -> ${to[r]}`).join(', ')} (continuous, ${reps[0].by === 'server' ? "the target server's replicator" : 'from this process'})`,
    );
    // 3. build the target's indexes while the source serves
    await waitCaughtUp(pairs, opts.sourceUrl, tgtUrl, reps, 'initial copy', log, pollMs, opts.signal, CATCH_UP_LAG);
    const builds = await buildTargetIndexes(tgtUrl, to, root, version, log, opts.signal);
    // 4. caught up again after the (possibly long) index build
    await waitCaughtUp(pairs, opts.sourceUrl, tgtUrl, reps, 'catching up', log, pollMs, opts.signal, CATCH_UP_LAG);
    const otherServer = withoutCredentials(tgtUrl) !== withoutCredentials(opts.sourceUrl);
    if (otherServer) await copyAccounts(opts.sourceUrl, tgtUrl, log);
    // 5. pause writes
    const t0 = Date.now();
    const atPause = await pauseWrites(opts.sourceUrl, from, log);
    await opts.whilePaused?.();
    // 6. final catch-up and verification
    await waitCaughtUp(pairs, opts.sourceUrl, tgtUrl, reps, 'final catch-up', log, Math.min(pollMs, 250), opts.signal);
    // Accounts created since the first copy; nobody can use the target before the switch.
    if (otherServer) await copyAccounts(opts.sourceUrl, tgtUrl, log);
    const dbs: DbReport[] = [];
    for (const [i, r] of roles.entries())
      dbs.push(await verifyCopy(opts.sourceUrl, from[r], tgtUrl, to[r], atPause[i], log));
    // 7. switch
    const pausedSeconds = await switchOver(
      opts,
      tgtUrl,
      roles.map((r) => from[r]),
      to.transfers,
      t0,
      log,
    );
    return { dbs, builds, pausedSeconds, replication: reps[0].by };
  } finally {
    await Promise.all(
      reps.map((rep) => rep.cancel().catch((err: Error) => log(`cancelling a replication: ${err.message}`))),
    );
  }
}

/**
 * Checks before anything is written: the target is not the source, every source database exists;
 * true when the source was already moved (nothing to do).
 */
async function alreadyMoved(
  opts: MigrateOptions,
  tgtUrl: string,
  from: Record<DbRole, string>,
  log: (l: string) => void,
): Promise<boolean> {
  if (withoutCredentials(tgtUrl) === withoutCredentials(opts.sourceUrl) && opts.fromPrefix === opts.toPrefix) {
    throw new Error('migrate-db: the target is the source (give another --to-prefix or --target-url)');
  }
  for (const r of Object.keys(from) as DbRole[]) await info(opts.sourceUrl, from[r]);
  const ro = await getReadonly(opts.sourceUrl, from.transfers);
  if (ro && ro.reason === 'moved') {
    log(`${from.transfers} was already moved to prefix "${ro.moved_to_prefix}": nothing to do`);
    return true;
  }
  return false;
}

/** Step 5: the "migrating" marker on every source database; their figures once writes stopped landing. */
async function pauseWrites(srcUrl: string, from: Record<DbRole, string>, log: (l: string) => void): Promise<DbInfo[]> {
  const roles = Object.keys(from) as DbRole[];
  for (const r of roles) await setReadonly(srcUrl, from[r], { reason: 'migrating' });
  log(`writes paused on ${Object.values(from).join(', ')}`);
  return quiet(
    srcUrl,
    roles.map((r) => from[r]),
    log,
  );
}

/** Every view index of the target's design docs, built (or found built) one design doc after the other. */
async function buildTargetIndexes(
  tgtUrl: string,
  to: Record<DbRole, string>,
  root: string,
  version: string,
  log: (l: string) => void,
  signal?: AbortSignal,
): Promise<BuildReport[]> {
  const builds: BuildReport[] = [];
  for (const spec of DESIGNS) {
    if (!spec.views) continue;
    const built = await buildDesign(spec, root, version);
    builds.push(await buildIndexes(tgtUrl, to[spec.db], built.id, spec.views, { log, signal }));
  }
  return builds;
}

/**
 * After the final catch-up: the source unchanged since the pause and the same number of documents
 * (design docs excepted) on both sides, or an error that leaves writes paused.
 */
async function verifyCopy(
  srcUrl: string,
  src: string,
  tgtUrl: string,
  tgt: string,
  atPause: DbInfo,
  log: (l: string) => void,
): Promise<DbReport> {
  const s = await info(srcUrl, src);
  const t = await info(tgtUrl, tgt);
  const sDocs = s.doc_count - (await designCount(srcUrl, src));
  const tDocs = t.doc_count - (await designCount(tgtUrl, tgt));
  if (seqNumber(s.update_seq) !== seqNumber(atPause.update_seq)) {
    const ch = await http<{ results?: { id: string; changes: { rev: string }[] }[] }>(
      srcUrl,
      'GET',
      `${dbPath(src)}/_changes?limit=20&since=${encodeURIComponent(String(atPause.update_seq))}`,
    );
    const which = (ch.body.results || []).map((c) => `${c.id} ${c.changes[0]?.rev}`).join(', ');
    throw new Error(
      `${src} changed while writes were paused (update_seq ${atPause.update_seq} -> ${s.update_seq}: ${which}): run migrate-db again`,
    );
  }
  if (sDocs !== tDocs)
    throw new Error(
      `${tgt} has ${tDocs} documents, ${src} ${sDocs}: not switching (writes stay paused; run migrate-db again)`,
    );
  log(
    `${src} -> ${tgt}: ${sDocs} = ${tDocs} documents, every revision present; source seq ${seqNumber(s.update_seq)} unchanged since the pause`,
  );
  return {
    source: src,
    target: tgt,
    sourceDocs: sDocs,
    targetDocs: tDocs,
    sourceSeqAtPause: atPause.update_seq,
    sourceSeqAtSwitch: s.update_seq,
    targetSeq: t.update_seq,
  };
}

/** Step 7: the source's markers say "moved" (with the new prefix, and the new server if it is another); returns the seconds writes were paused. */
async function switchOver(
  opts: MigrateOptions,
  tgtUrl: string,
  sources: string[],
  targetTransfers: string,
  pausedAt: number,
  log: (l: string) => void,
): Promise<number> {
  const movedUrl =
    withoutCredentials(tgtUrl) === withoutCredentials(opts.sourceUrl) ? undefined : withoutCredentials(tgtUrl);
  for (const db of sources)
    await setReadonly(opts.sourceUrl, db, {
      reason: 'moved',
      moved_to_prefix: opts.toPrefix,
      ...(movedUrl ? { moved_to_url: movedUrl } : {}),
    });
  const pausedSeconds = (Date.now() - pausedAt) / 1000;
  log(
    `switched to prefix "${opts.toPrefix}"${movedUrl ? ` on ${movedUrl}` : ''}; writes were paused for ${pausedSeconds.toFixed(1)} s. ` +
      `Agents follow by themselves; set COUCHSTAGE_DB_PREFIX=${opts.toPrefix}${movedUrl ? ` and COUCHDB_URL` : ''} for new processes; page: ${withoutCredentials(tgtUrl)}/${targetTransfers}/_design/monitor/index.html`,
  );
  return pausedSeconds;
}
