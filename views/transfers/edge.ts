/**
 * The edge part of the `transfers` validate_doc_update: a site's edge (`couchstage edge`) pushes
 * its users' submissions and requests to the central database by replication, as one account
 * with the edge role (Role.edge) and one `couchstage-edge-site-<site>` role per site it serves.
 * Central cannot see who signed in at the edge, so the edge is held to what a user could have
 * written there: a transfer only, whose source is one of the edge's sites, that passes every check
 * a user's own write passes (state new, no service fields, the id from source_lfn, the user's
 * namespace; a group area only with that group's role on the edge account), and on a stored
 * transfer only the owner's kill or retry request. It never deletes.
 */
import { DocType, EDGE_SITE_ROLE_PREFIX, Role } from '../schema';
import { assert, hasRole, type Doc, type UserCtx } from '../lib/vdu';

export function isEdge(userCtx: UserCtx): boolean {
  return hasRole(userCtx, Role.edge);
}

/** The sites of the edge's `couchstage-edge-site-<site>` roles. */
export function edgeSites(userCtx: UserCtx): string[] {
  const out: string[] = [];
  const roles = userCtx.roles || [];
  for (let i = 0; i < roles.length; i++) {
    const r = roles[i];
    if (typeof r === 'string' && r.indexOf(EDGE_SITE_ROLE_PREFIX) === 0)
      out.push(r.slice(EDGE_SITE_ROLE_PREFIX.length));
  }
  return out;
}

/**
 * Checks the site binding and returns the user context the rest of the user rules run with: the
 * document's user, with the edge account's roles (its group roles only; it holds no user role).
 */
export function edgeWriter(doc: Doc, old: Doc | null, userCtx: UserCtx): UserCtx {
  assert(!doc._deleted, '_deleted: an edge forwards submissions and requests, it deletes nothing');
  assert(doc.type === DocType.transfer, 'type: an edge forwards transfer documents only');
  const sites = edgeSites(userCtx);
  assert(
    sites.indexOf(doc.source as string) >= 0,
    'source: this edge forwards transfers from ' + (sites.join(', ') || 'no site') + ' only',
  );
  if (old) assert(sites.indexOf(old.source as string) >= 0, 'source: this transfer is not from a site of this edge');
  assert(typeof doc.user === 'string' && doc.user !== '', 'user: must be the user who submitted at the edge');
  return { name: doc.user as string, roles: userCtx.roles, db: userCtx.db };
}
