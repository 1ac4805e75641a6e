/**
 * `couchstage doctor [--json]`: checks a deployment and says what is wrong in plain words.
 * Server reachable; databases present (and not moved away), the service database closed to
 * everyone but agents and operators; design documents current (the version stamp's hash, and the
 * content itself, which a stamp kept by hand would not vouch for; a leftover staged copy); view
 * indexes built, or how far behind (`update=false&update_seq=true` where the server honours it,
 * with `_active_tasks` showing a build under way; elsewhere a query with a time limit, which
 * builds the index); the monitoring page's Content-Security-Policy and the server's Basic
 * challenge (ops/server-config.ts); every registered agent with a fresh
 * heartbeat (`heartbeat:<agent>:<instance>`, written every 30 s: older than 3 beats is dead);
 * every site's storage endpoints reachable (root:// by `xrdfs stat`, file:// on the filesystem).
 * Exit code 1 when anything is a problem.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import { buildDesign, DESIGNS } from '../../design';
import type { DesignSpec } from '../../design/types';
import { projectRoot } from '../../agents/platform/config';
import { seqNumber } from '../../agents/lib/checkpoint';
import { IdPrefix, Role, idRange, type DbRole, type HeartbeatDoc } from '../../views/schema';
import { designIsCurrent } from '../../design/content-hash';
import { dbPath, ddocPath, http } from './http';
import { STAGED_SUFFIX } from './upgrade';
import { getReadonly } from './readonly';
import { capabilities } from '../../agents/platform/capabilities';
import { indexerProgress } from './index-build';
import { iniLines, policyBlocksPage } from './server-config';
import { authParts } from '../../agents/platform/couch';
import { agentStatus } from '../../views/lib/agent-health';
import { HEARTBEAT_MS, MISSED_BEATS } from '../../views/schema';

export type Level = 'ok' | 'warning' | 'problem';

export interface Finding {
  readonly check: 'server' | 'database' | 'design' | 'index' | 'page' | 'agent' | 'storage';
  readonly subject: string;
  readonly level: Level;
  readonly message: string;
}

export interface DoctorOptions {
  readonly url: string;
  readonly dbs: Record<DbRole, string>;
  /** Agents that must be alive (default: every registered agent). */
  readonly agents: readonly string[];
  readonly designs?: readonly DesignSpec[];
  readonly now?: Date;
  /** Heartbeat interval of the runner (30 s); dead after 3 missed beats. */
  readonly heartbeatMs?: number;
  /** How long an index query may take before the index counts as "not built". */
  readonly indexWaitMs?: number;
  /**
   * Changes an index may have left to process before that is a problem: the first query waits
   * for them. 10,000 changes are a few seconds of indexing on either server.
   */
  readonly indexLagLimit?: number;
  readonly storageTimeoutMs?: number;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as NodeJS.ErrnoException).code === 'number'
          ? Number((err as NodeJS.ErrnoException).code)
          : 1
        : 0;
      resolve({ code, out: (String(stdout) + String(stderr)).trim() || (err ? err.message : '') });
    });
  });
}

/** Checks one storage endpoint URL; null when the protocol has no check here. */
export async function checkEndpoint(
  endpoint: string,
  timeoutMs = 10_000,
): Promise<{ ok: boolean; message: string } | null> {
  const u = new URL(endpoint);
  if (u.protocol === 'file:') {
    try {
      const st = fs.statSync(decodeURIComponent(u.pathname));
      return st.isDirectory()
        ? { ok: true, message: 'directory present' }
        : { ok: false, message: `${u.pathname} is not a directory` };
    } catch (err) {
      return { ok: false, message: `${u.pathname}: ${(err as NodeJS.ErrnoException).code || (err as Error).message}` };
    }
  }
  if (u.protocol === 'root:' || u.protocol === 'xroot:') {
    const host = `${u.protocol}//${u.host}`;
    const p = u.pathname.replace(/^\/+/, '/') || '/';
    // An SE need not export `/` (ours export only their namespace): a bare endpoint asks the server itself.
    const args = p === '/' ? ['query', 'config', 'version'] : ['stat', p];
    const res = await run('xrdfs', [host, ...args], timeoutMs);
    return res.code === 0
      ? { ok: true, message: `xrdfs ${args[0]} ok` }
      : { ok: false, message: `xrdfs ${args.join(' ')} failed: ${res.out.split('\n').pop()}` };
  }
  return null;
}

/**
 * The service database holds the agents' checkpoints as `_local` documents, which no validation
 * function sees: only its `_security` keeps users out. Empty members would make it public.
 */
async function serviceSecurity(url: string, db: string): Promise<Finding> {
  const sec = await http<{ members?: { names?: string[]; roles?: string[] } }>(url, 'GET', dbPath(db) + '/_security');
  const members = sec.body.members || {};
  const roles = members.roles || [];
  const open = sec.status !== 200 || (!roles.length && !(members.names || []).length) || roles.includes(Role.user);
  return open
    ? {
        check: 'database',
        subject: db,
        level: 'problem',
        message:
          'users can write the agents\' checkpoints here (its members are not the agent role alone): run "couchstage deploy"',
      }
    : {
        check: 'database',
        subject: db,
        level: 'ok',
        message: `closed to users (members: ${roles.join(', ') || (members.names || []).join(', ')})`,
      };
}

export async function doctor(opts: DoctorOptions): Promise<Finding[]> {
  const out: Finding[] = [];
  const add = (f: Finding) => out.push(f);
  const now = (opts.now || new Date()).getTime();
  // Server
  let root;
  try {
    root = await http<{ version?: string; vendor?: { name?: string } }>(opts.url, 'GET', '/', {
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    add({
      check: 'server',
      subject: opts.url.replace(/\/\/[^@]*@/, '//'),
      level: 'problem',
      message: `the server does not answer: ${(err as Error).message}`,
    });
    return out;
  }
  if (root.status !== 200) {
    add({ check: 'server', subject: 'server', level: 'problem', message: `the server answers ${root.status} on /` });
    return out;
  }
  add({
    check: 'server',
    subject: 'server',
    level: 'ok',
    message: `reachable (${root.body.vendor?.name || 'CouchDB'} ${root.body.version || ''})`.trim(),
  });

  // Databases
  const infos: Partial<Record<DbRole, { update_seq: string | number; doc_count: number }>> = {};
  for (const role of Object.keys(opts.dbs) as DbRole[]) {
    const db = opts.dbs[role];
    const a = await http<{ update_seq: string | number; doc_count: number }>(opts.url, 'GET', dbPath(db));
    if (a.status !== 200) {
      add({
        check: 'database',
        subject: db,
        level: 'problem',
        message: a.status === 404 ? 'database missing: run "couchstage deploy"' : `database answers ${a.status}`,
      });
      continue;
    }
    infos[role] = a.body;
    const ro = await getReadonly(opts.url, db).catch(() => null);
    if (ro && ro.reason !== 'archive') {
      add({
        check: 'database',
        subject: db,
        level: 'problem',
        message:
          ro.reason === 'moved'
            ? `database moved to prefix "${ro.moved_to_prefix}"${ro.moved_to_url ? ` on ${ro.moved_to_url}` : ''}: point COUCHSTAGE_DB_PREFIX there`
            : 'writes are paused by a migrate-db in progress (or one that stopped: run it again)',
      });
    } else add({ check: 'database', subject: db, level: 'ok', message: `${a.body.doc_count} documents` });
    if (role === 'service') add(await serviceSecurity(opts.url, db));
  }

  // Design documents and their indexes
  const root_ = projectRoot();
  for (const spec of opts.designs || DESIGNS) {
    const db = opts.dbs[spec.db];
    if (!infos[spec.db]) continue;
    const built = await buildDesign(spec, root_, 'doctor');
    // With the attachments' bytes (design/content-hash.ts): a few hundred KB for the page's.
    const live = await http<{
      couchstage?: { hash?: string; version?: string };
      views?: Record<string, { reduce?: string }>;
    }>(opts.url, 'GET', ddocPath(db, built.id) + '?attachments=true');
    const subject = `${db}/${built.id}`;
    if (live.status === 404) {
      add({ check: 'design', subject, level: 'problem', message: 'design document missing: run "couchstage deploy"' });
      continue;
    }
    if (live.body.couchstage?.hash !== built.hash) {
      add({
        check: 'design',
        subject,
        level: 'problem',
        message: `out of date (deployed version ${live.body.couchstage?.version || 'unknown'} differs from this code): run "couchstage upgrade"`,
      });
    } else if (!designIsCurrent(live.body as Record<string, unknown>, built)) {
      add({
        check: 'design',
        subject,
        level: 'problem',
        message: `content differs from what this code deploys although its stamp (version ${live.body.couchstage?.version}) matches: it was changed on the server; run "couchstage deploy" to replace it`,
      });
    } else
      add({ check: 'design', subject, level: 'ok', message: `current (version ${live.body.couchstage?.version})` });
    const staged = await http(opts.url, 'GET', ddocPath(db, built.id + STAGED_SUFFIX));
    if (staged.status === 200)
      add({
        check: 'design',
        subject: subject + STAGED_SUFFIX,
        level: 'warning',
        message: 'a staged upgrade is in progress or was interrupted: run "couchstage upgrade" to finish it',
      });
    const views = live.body.views || {};
    const first = Object.keys(views).sort()[0];
    if (!first) continue;
    add(await indexFinding(opts, db, built.id, first, !!views[first].reduce, infos[spec.db]!));
  }

  if (infos.transfers && (opts.designs || DESIGNS).some((d) => d.db === 'transfers' && d.name === 'monitor'))
    out.push(...(await pageFindings(opts.url, opts.dbs.transfers)));

  // Agents' heartbeats
  if (infos.transfers) {
    const hb = await http<{ rows: { doc?: { agent: string; instance: string; at: string } }[] }>(
      opts.url,
      'GET',
      `${dbPath(opts.dbs.transfers)}/_all_docs?include_docs=true&startkey=${encodeURIComponent(JSON.stringify(idRange(IdPrefix.heartbeat).startkey))}&endkey=${encodeURIComponent(JSON.stringify(idRange(IdPrefix.heartbeat).endkey))}`,
    );
    const beats = (hb.body.rows || []).map((r) => r.doc!).filter(Boolean) as HeartbeatDoc[];
    // The page's Agents table reads the same rule (views/lib/agent-health.ts).
    const names = new Set([...opts.agents, ...beats.flatMap((b) => b.agent.split(','))]);
    for (const a of agentStatus(names, beats, now, opts.heartbeatMs ?? HEARTBEAT_MS)) {
      // Not running: the latest instance is the subject of the message, not one of the older ones.
      const olderCount = a.status === 'ok' ? a.older : Math.max(0, a.older - 1);
      const older = olderCount ? `; ${olderCount} older instance(s) stopped or replaced` : '';
      const secs = Math.round((a.lastAgeMs ?? 0) / 1000);
      const expected = opts.agents.includes(a.agent);
      if (a.status === 'ok')
        add({ check: 'agent', subject: a.agent, level: 'ok', message: `${a.alive} instance(s) alive${older}` });
      else if (a.status === 'stopped')
        add({
          check: 'agent',
          subject: a.agent,
          level: expected ? 'problem' : 'warning',
          message: `stopped cleanly ${secs} s ago and not running since${older}`,
        });
      else if (a.status === 'dead')
        add({
          check: 'agent',
          subject: a.agent,
          level: 'problem',
          message: `no heartbeat for ${secs} s (dead after ${(MISSED_BEATS * (opts.heartbeatMs ?? HEARTBEAT_MS)) / 1000} s), and it did not say it stopped: killed, crashed or cannot write`,
        });
      else if (expected)
        add({
          check: 'agent',
          subject: a.agent,
          level: 'problem',
          message: 'never sent a heartbeat: the agent is not running',
        });
    }
  }

  // Storage elements
  if (infos.config) {
    const sites = await http<{ rows: { doc?: { name?: string; endpoints?: Record<string, string> } }[] }>(
      opts.url,
      'GET',
      `${dbPath(opts.dbs.config)}/_all_docs?include_docs=true&startkey=${encodeURIComponent('"site:"')}&endkey=${encodeURIComponent('"site;"')}`,
    );
    for (const row of sites.body.rows || []) {
      const site = row.doc;
      if (!site || !site.endpoints) continue;
      for (const [proto, endpoint] of Object.entries(site.endpoints)) {
        const subject = `${site.name} ${endpoint}`;
        let res;
        try {
          res = await checkEndpoint(endpoint, opts.storageTimeoutMs);
        } catch (err) {
          res = { ok: false, message: (err as Error).message };
        }
        if (!res)
          add({ check: 'storage', subject, level: 'warning', message: `no reachability check for ${proto} endpoints` });
        else
          add({
            check: 'storage',
            subject,
            level: res.ok ? 'ok' : 'problem',
            message: res.ok ? res.message : `storage element unreachable: ${res.message}`,
          });
      }
    }
  }
  return out;
}

type DbInfo = { update_seq: string | number; doc_count: number };

/** How far the index of one design document is behind its database. */
async function indexFinding(
  opts: DoctorOptions,
  db: string,
  ddocId: string,
  view: string,
  reduce: boolean,
  info: DbInfo,
): Promise<Finding> {
  const subject = `${db}/${ddocId}`;
  const waitMs = opts.indexWaitMs ?? 5000;
  const lagLimit = opts.indexLagLimit ?? 10_000;
  const caps = await capabilities(opts.url);
  const qs = `limit=0&update=false&update_seq=true${reduce ? '&reduce=false' : ''}`;
  let q;
  try {
    // A server that does not honour update=false builds the index to answer: the time limit
    // keeps the doctor short there, and a build that takes longer is what it reports.
    q = await http<{ update_seq?: string | number }>(
      opts.url,
      'GET',
      `${ddocPath(db, ddocId)}/_view/${encodeURIComponent(view)}?${qs}`,
      { signal: AbortSignal.timeout(waitMs) },
    );
  } catch {
    return {
      check: 'index',
      subject,
      level: 'problem',
      message: `index not built: a view query took over ${(waitMs / 1000).toFixed(0)} s (it is being built now)`,
    };
  }
  if (q.status !== 200) return { check: 'index', subject, level: 'problem', message: `view query answers ${q.status}` };
  if (!caps.staleViews || q.body.update_seq === undefined)
    return { check: 'index', subject, level: 'ok', message: 'index answers' };
  const building = caps.activeTasks ? await indexerProgress(opts.url, db, ddocId).catch(() => null) : null;
  return {
    check: 'index',
    subject,
    ...indexState(seqNumber(q.body.update_seq), seqNumber(info.update_seq), info.doc_count, building, lagLimit),
  };
}

/**
 * What an index's position means to an operator. The first query waits for whatever the index
 * has not processed: a few thousand changes are seconds (not a problem, CouchDB does not build
 * an index before it is queried or its background indexer gets to it), a full build of a large
 * database is minutes to hours (a problem unless a build is already under way).
 */
export function indexState(
  indexedSeq: number,
  dbSeq: number,
  docCount: number,
  building: { done: number; total: number } | null,
  lagLimit: number,
): { level: Level; message: string } {
  const behind = Math.max(0, dbSeq - indexedSeq);
  const progress =
    building && building.total > 0
      ? ` (being built now: ${Math.min(building.done, building.total)}/${building.total} changes)`
      : '';
  if (behind <= lagLimit) {
    return {
      level: 'ok',
      message:
        indexedSeq === 0 && docCount > 0
          ? `not built yet, ${behind} changes: the first query builds it${progress}`
          : behind > 0
            ? `built, ${behind} changes behind${progress}`
            : 'built and current',
    };
  }
  if (building) return { level: 'warning', message: `index ${behind} changes behind the database${progress}` };
  if (indexedSeq === 0)
    return {
      level: 'problem',
      message: `index not built, ${behind} changes: the first query will wait for a full build ("couchstage upgrade" builds it staged)`,
    };
  return { level: 'warning', message: `index ${behind} changes behind the database (it catches up at the next query)` };
}

/**
 * The page as a browser gets it: its policy must let its own script, style sheet and fetches
 * run, and an anonymous request must be challenged (or the browser shows a bare 401).
 */
export async function pageFindings(url: string, transfersDb: string): Promise<Finding[]> {
  const subject = `${transfersDb}/_design/monitor/index.html`;
  const out: Finding[] = [];
  const { base } = authParts(url);
  const page = base + dbPath(transfersDb) + '/_design/monitor/index.html';
  const res = await fetch(page, {
    method: 'HEAD',
    headers: authParts(url).headers,
    signal: AbortSignal.timeout(10_000),
  }).catch(() => null);
  if (!res || res.status !== 200) {
    out.push({
      check: 'page',
      subject,
      level: 'problem',
      message: `the page answers ${res ? res.status : 'nothing'}: run "couchstage deploy"`,
    });
    return out;
  }
  const csp = res.headers.get('content-security-policy');
  const why = policyBlocksPage(csp);
  const fix = `run "couchstage deploy" as server admin, or set on every node: ${iniLines().join(' ')}`;
  out.push(
    why
      ? { check: 'page', subject, level: 'problem', message: `${why} (Content-Security-Policy: ${csp}): ${fix}` }
      : {
          check: 'page',
          subject,
          level: 'ok',
          message: csp ? 'its Content-Security-Policy lets the page run' : 'served without a Content-Security-Policy',
        },
  );
  const anon = await fetch(page, { method: 'HEAD', signal: AbortSignal.timeout(10_000) }).catch(() => null);
  const challenge = anon?.headers.get('www-authenticate') || '';
  if (anon && anon.status === 401 && !/^Basic /i.test(challenge)) {
    out.push({
      check: 'page',
      subject,
      level: 'warning',
      message: `an anonymous browser gets a 401 without a Basic challenge, so no sign-in prompt: ${fix}`,
    });
  }
  return out;
}

export function formatFindings(findings: readonly Finding[]): string[] {
  const mark = { ok: 'ok     ', warning: 'WARNING', problem: 'PROBLEM' };
  const lines = findings.map((f) => `${mark[f.level]} ${f.check.padEnd(8)} ${f.subject}: ${f.message}`);
  const problems = findings.filter((f) => f.level === 'problem').length;
  lines.push(problems ? `${problems} problem(s) found` : 'no problems found');
  return lines;
}
