/**
 * The doctor's first checks: the server answers, and each database is there, writable (not moved
 * away or paused by a migration) and, for the service database, closed to users. Everything
 * else the doctor checks needs these to pass.
 */
import { Role, type DbRole } from '../../../views/schema';
import { dbPath, http } from '../http';
import { getReadonly } from '../readonly';
import type { DbInfo, DbInfos, DoctorOptions, Finding } from './types';

/** The server's root: one finding, `ok` only when the server answers 200. */
export async function checkServer(url: string): Promise<Finding> {
  let root;
  try {
    root = await http<{ version?: string; vendor?: { name?: string } }>(url, 'GET', '/', {
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    return {
      check: 'server',
      subject: url.replace(/\/\/[^@]*@/, '//'),
      level: 'problem',
      message: `the server does not answer: ${(err as Error).message}`,
    };
  }
  if (root.status !== 200)
    return { check: 'server', subject: 'server', level: 'problem', message: `the server answers ${root.status} on /` };
  return {
    check: 'server',
    subject: 'server',
    level: 'ok',
    message: `reachable (${root.body.vendor?.name || 'CouchDB'} ${root.body.version || ''})`.trim(),
  };
}

/** Every configured database; the infos of those that answered, for the checks of their contents. */
export async function checkDatabases(opts: DoctorOptions, add: (f: Finding) => void): Promise<DbInfos> {
  const infos: DbInfos = {};
  for (const role of Object.keys(opts.dbs) as DbRole[]) {
    const db = opts.dbs[role];
    const a = await http<DbInfo>(opts.url, 'GET', dbPath(db));
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
  return infos;
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
