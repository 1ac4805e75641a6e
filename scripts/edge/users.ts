/**
 * The edge's users: the same accounts as central, copied from central `_users` so that a job signs
 * in at the edge with the password it uses centrally. Only accounts holding the user role cross
 * (never agents, operators, edges or server admins), with their roles and their password hashes
 * as stored (both engines store CouchDB 3.4's pbkdf2-sha256, 600,000 iterations, and verify each
 * other's: scripts/server/passwords.ts); no password is ever seen here. Reading `_users` needs a
 * central server admin (CouchDB keeps `_users` admin-only), so this runs only when the edge's
 * operator is given such a URL (`--users-from`); otherwise the edge operator deploys the accounts.
 * An account removed or changed centrally is removed or changed here at the next copy.
 */
import { GROUP_ROLE_PREFIX, Role } from '../../views/schema';
import { expectStatus, http } from '../ops/http';

type UserDoc = { _id: string; _rev?: string; _deleted?: boolean; name?: string; roles?: unknown; type?: string };

/** A user account: the user role, and otherwise only group roles. */
function isPlainUser(d: UserDoc): boolean {
  const roles = Array.isArray(d.roles) ? d.roles : [];
  return (
    d.type === 'user' &&
    roles.includes(Role.user) &&
    roles.every((r) => r === Role.user || (typeof r === 'string' && r.startsWith(GROUP_ROLE_PREFIX)))
  );
}

/** The fields of a user document an edge keeps (its hash, not any clear password). */
function copyOf(d: UserDoc): Record<string, unknown> {
  const keep = ['_id', 'name', 'type', 'roles', 'password_scheme', 'pbkdf2_prf', 'iterations', 'salt', 'derived_key'];
  return Object.fromEntries(Object.entries(d).filter(([k]) => keep.includes(k)));
}

async function allUsers(url: string): Promise<Map<string, UserDoc>> {
  const a = expectStatus(
    await http<{ rows: { id: string; doc?: UserDoc }[] }>(url, 'GET', '/_users/_all_docs?include_docs=true'),
    'reading _users',
  );
  const out = new Map<string, UserDoc>();
  for (const r of a.body.rows) if (r.doc && r.id.startsWith('org.couchdb.user:')) out.set(r.id, r.doc);
  return out;
}

/** Copies central's user accounts to the edge; returns what changed. */
export async function syncUsers(
  centralAdminUrl: string,
  edgeAdminUrl: string,
): Promise<{ written: number; removed: number }> {
  const [central, edge] = await Promise.all([allUsers(centralAdminUrl), allUsers(edgeAdminUrl)]);
  const docs: Record<string, unknown>[] = [];
  let removed = 0;
  for (const [id, d] of central) {
    if (!isPlainUser(d)) continue;
    const mine = edge.get(id);
    const copy = copyOf(d);
    if (mine && JSON.stringify(copyOf(mine)) === JSON.stringify(copy)) continue;
    docs.push({ ...copy, ...(mine?._rev ? { _rev: mine._rev } : {}) });
  }
  for (const [id, d] of edge) {
    // Only accounts this copy made: the edge's own admin, agents and operators stay.
    if (!isPlainUser(d) || (central.has(id) && isPlainUser(central.get(id)!))) continue;
    docs.push({ _id: id, _rev: d._rev, _deleted: true });
    removed++;
  }
  if (docs.length) {
    const a = expectStatus(
      await http<{ id: string; error?: string; reason?: string }[]>(edgeAdminUrl, 'POST', '/_users/_bulk_docs', {
        body: { docs },
      }),
      'writing _users at the edge',
    );
    const bad = a.body.find((r) => r.error);
    if (bad) throw new Error(`writing user ${bad.id} at the edge: ${bad.error}: ${bad.reason}`);
  }
  return { written: docs.length - removed, removed };
}
