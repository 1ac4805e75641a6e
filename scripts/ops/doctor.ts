/**
 * `couchstage doctor [--json]`: checks a deployment and says what is wrong in plain words.
 * Server reachable; databases present (and not moved away); design documents current (content
 * hash of what this code would deploy vs what is on the server; a leftover staged copy); view
 * indexes built, or how far behind (`update=false&update_seq=true`, with a time limit: a server
 * that ignores update=false would build the index instead); every registered agent with a fresh
 * heartbeat (`heartbeat:<agent>:<instance>`, written every 30 s: older than 3 beats is dead);
 * every site's storage endpoints reachable (root:// by `xrdfs stat`, file:// on the filesystem).
 * Exit code 1 when anything is a problem.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import { buildDesign, DESIGNS } from '../../design';
import type { DesignSpec } from '../../design/types';
import { projectRoot } from '../../agents/lib/config';
import { seqNumber } from '../../agents/lib/checkpoint';
import type { DbRole } from '../../views/schema';
import { dbPath, ddocPath, http } from './http';
import { STAGED_SUFFIX } from './upgrade';
import { getReadonly } from './readonly';

export type Level = 'ok' | 'warning' | 'problem';

export interface Finding {
  readonly check: 'server' | 'database' | 'design' | 'index' | 'agent' | 'storage';
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
  readonly storageTimeoutMs?: number;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, out: (String(stdout) + String(stderr)).trim() || (err ? err.message : '') });
    });
  });
}

/** Checks one storage endpoint URL; null when the protocol has no check here. */
export async function checkEndpoint(endpoint: string, timeoutMs = 10_000): Promise<{ ok: boolean; message: string } | null> {
  const u = new URL(endpoint);
  if (u.protocol === 'file:') {
    try {
      const st = fs.statSync(decodeURIComponent(u.pathname));
      return st.isDirectory() ? { ok: true, message: 'directory present' } : { ok: false, message: `${u.pathname} is not a directory` };
    } catch (err) {
      return { ok: false, message: `${u.pathname}: ${(err as NodeJS.ErrnoException).code || (err as Error).message}` };
    }
  }
  if (u.protocol === 'root:' || u.protocol === 'xroot:') {
    const host = `${u.protocol}//${u.host}`;
    const p = u.pathname.replace(/^\/+/, '/') || '/';
    const res = await run('xrdfs', [host, 'stat', p], timeoutMs);
    return res.code === 0 ? { ok: true, message: 'xrdfs stat ok' } : { ok: false, message: `xrdfs stat ${p} failed: ${res.out.split('\n').pop()}` };
  }
  return null;
}

export async function doctor(opts: DoctorOptions): Promise<Finding[]> {
  const out: Finding[] = [];
  const add = (f: Finding) => out.push(f);
  const now = (opts.now || new Date()).getTime();
  // Server
  let root;
  try {
    root = await http<{ version?: string; vendor?: { name?: string } }>(opts.url, 'GET', '/', { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    add({ check: 'server', subject: opts.url.replace(/\/\/[^@]*@/, '//'), level: 'problem', message: `the server does not answer: ${(err as Error).message}` });
    return out;
  }
  if (root.status !== 200) {
    add({ check: 'server', subject: 'server', level: 'problem', message: `the server answers ${root.status} on /` });
    return out;
  }
  add({ check: 'server', subject: 'server', level: 'ok', message: `reachable (${root.body.vendor?.name || 'CouchDB'} ${root.body.version || ''})`.trim() });

  // Databases
  const infos: Partial<Record<DbRole, { update_seq: string | number; doc_count: number }>> = {};
  for (const role of Object.keys(opts.dbs) as DbRole[]) {
    const db = opts.dbs[role];
    const a = await http<{ update_seq: string | number; doc_count: number }>(opts.url, 'GET', dbPath(db));
    if (a.status !== 200) {
      add({ check: 'database', subject: db, level: 'problem', message: a.status === 404 ? 'database missing: run "couchstage deploy"' : `database answers ${a.status}` });
      continue;
    }
    infos[role] = a.body;
    const ro = await getReadonly(opts.url, db).catch(() => null);
    if (ro && ro.reason !== 'archive') {
      add({ check: 'database', subject: db, level: 'problem', message: ro.reason === 'moved'
        ? `database moved to prefix "${ro.moved_to_prefix}"${ro.moved_to_url ? ` on ${ro.moved_to_url}` : ''}: point COUCHSTAGE_DB_PREFIX there`
        : 'writes are paused by a migrate-db in progress (or one that stopped: run it again)' });
    } else add({ check: 'database', subject: db, level: 'ok', message: `${a.body.doc_count} documents` });
  }

  // Design documents and their indexes
  const root_ = projectRoot();
  for (const spec of opts.designs || DESIGNS) {
    const db = opts.dbs[spec.db];
    if (!infos[spec.db]) continue;
    const built = await buildDesign(spec, root_, 'doctor');
    const live = await http<{ couchstage?: { hash?: string; version?: string }; views?: Record<string, { reduce?: string }> }>(opts.url, 'GET', ddocPath(db, built.id));
    const subject = `${db}/${built.id}`;
    if (live.status === 404) {
      add({ check: 'design', subject, level: 'problem', message: 'design document missing: run "couchstage deploy"' });
      continue;
    }
    if (live.body.couchstage?.hash !== built.hash) {
      add({ check: 'design', subject, level: 'problem', message: `out of date (deployed version ${live.body.couchstage?.version || 'unknown'} differs from this code): run "couchstage upgrade"` });
    } else add({ check: 'design', subject, level: 'ok', message: `current (version ${live.body.couchstage?.version})` });
    const staged = await http(opts.url, 'GET', ddocPath(db, built.id + STAGED_SUFFIX));
    if (staged.status === 200) add({ check: 'design', subject: subject + STAGED_SUFFIX, level: 'warning', message: 'a staged upgrade is in progress or was interrupted: run "couchstage upgrade" to finish it' });
    const views = live.body.views || {};
    const first = Object.keys(views).sort()[0];
    if (!first) continue;
    const qs = `limit=0&update=false&update_seq=true${views[first].reduce ? '&reduce=false' : ''}`;
    try {
      const q = await http<{ update_seq?: string | number }>(opts.url, 'GET', `${ddocPath(db, built.id)}/_view/${encodeURIComponent(first)}?${qs}`, { signal: AbortSignal.timeout(opts.indexWaitMs ?? 5000) });
      if (q.status !== 200) add({ check: 'index', subject, level: 'problem', message: `view query answers ${q.status}` });
      else if (q.body.update_seq === undefined) add({ check: 'index', subject, level: 'ok', message: 'index answers' });
      else {
        const behind = seqNumber(infos[spec.db]!.update_seq) - seqNumber(q.body.update_seq);
        if (seqNumber(q.body.update_seq) === 0 && infos[spec.db]!.doc_count > 0) add({ check: 'index', subject, level: 'problem', message: 'index not built yet: the first query will wait for a full build ("couchstage upgrade" builds it staged)' });
        else if (behind > 10_000) add({ check: 'index', subject, level: 'warning', message: `index ${behind} changes behind the database (it catches up at the next query)` });
        else add({ check: 'index', subject, level: 'ok', message: behind > 0 ? `built, ${behind} changes behind` : 'built and current' });
      }
    } catch {
      add({ check: 'index', subject, level: 'problem', message: `index not built: a view query took over ${((opts.indexWaitMs ?? 5000) / 1000).toFixed(0)} s (it is being built now)` });
    }
  }

  // Agents' heartbeats
  if (infos.transfers) {
    const hb = await http<{ rows: { doc?: { agent: string; instance: string; at: string } }[] }>(opts.url, 'GET',
      `${dbPath(opts.dbs.transfers)}/_all_docs?include_docs=true&startkey=${encodeURIComponent('"heartbeat:"')}&endkey=${encodeURIComponent('"heartbeat;"')}`);
    const beats = (hb.body.rows || []).map((r) => r.doc!).filter(Boolean);
    const deadAfter = 3 * (opts.heartbeatMs ?? 30_000);
    const names = new Set([...opts.agents, ...beats.map((b) => b.agent)]);
    for (const name of [...names].sort()) {
      const mine = beats.filter((b) => b.agent === name || b.agent.split(',').includes(name));
      const fresh = mine.filter((b) => now - Date.parse(b.at) <= deadAfter);
      const stale = mine.length - fresh.length;
      if (fresh.length) add({ check: 'agent', subject: name, level: 'ok', message: `${fresh.length} instance(s) alive${stale ? `; ${stale} older instance(s) stopped beating (restarted or gone)` : ''}` });
      else if (mine.length) {
        const last = mine.map((b) => Date.parse(b.at)).sort((a, b) => b - a)[0];
        add({ check: 'agent', subject: name, level: 'problem', message: `no heartbeat for ${Math.round((now - last) / 1000)} s (dead after ${deadAfter / 1000} s): the agent is not running or cannot write` });
      } else if (opts.agents.includes(name)) add({ check: 'agent', subject: name, level: 'problem', message: 'never sent a heartbeat: the agent is not running' });
    }
  }

  // Storage elements
  if (infos.config) {
    const sites = await http<{ rows: { doc?: { name?: string; endpoints?: Record<string, string> } }[] }>(opts.url, 'GET',
      `${dbPath(opts.dbs.config)}/_all_docs?include_docs=true&startkey=${encodeURIComponent('"site:"')}&endkey=${encodeURIComponent('"site;"')}`);
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
        if (!res) add({ check: 'storage', subject, level: 'warning', message: `no reachability check for ${proto} endpoints` });
        else add({ check: 'storage', subject, level: res.ok ? 'ok' : 'problem', message: res.ok ? res.message : `storage element unreachable: ${res.message}` });
      }
    }
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
