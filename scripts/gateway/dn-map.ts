/**
 * Certificate subjects to users: the gateway's mapping file, JSON, one entry per subject DN in
 * the grid's slash form (`openssl x509 -subject -nameopt compat`, as grid-mapfiles write it):
 *
 *     { "/DC=org/DC=example/OU=Users/CN=Alice Smith": { "name": "alice", "roles": ["couchstage-user"] } }
 *
 * The gateway signs whatever roles the map gives (the server trusts them as it trusts a user
 * document's), so roles are limited to couchstage's own: `couchstage-user`, `couchstage-agent`,
 * `couchstage-ops` and `couchstage-group-<group>`. A typo cannot grant `_admin` or any other role:
 * the file is refused whole, naming the entry, and a running gateway keeps its previous map.
 */
import * as fs from 'fs';
import { X509Certificate } from 'crypto';
import { GROUP_ROLE_PREFIX, Role } from '../../views/schema';

export interface Mapped {
  readonly name: string;
  readonly roles: readonly string[];
}
export type DnMap = ReadonlyMap<string, Mapped>;

const ALLOWED = new Set<string>([Role.user, Role.agent, Role.ops]);

export function roleAllowed(role: string): boolean {
  return (
    ALLOWED.has(role) ||
    (role.startsWith(GROUP_ROLE_PREFIX) && /^[a-z0-9_-]+$/.test(role.slice(GROUP_ROLE_PREFIX.length)))
  );
}

/** The map in `file`; throws naming the first bad entry. */
export function readDnMap(file: string): DnMap {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: not a readable JSON mapping file (${(err as Error).message})`, { cause: err });
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new Error(`${file}: must be an object of DN: {name, roles}`);
  const out = new Map<string, Mapped>();
  for (const [dn, v] of Object.entries(raw as Record<string, unknown>)) {
    const e = v as { name?: unknown; roles?: unknown };
    if (!dn.startsWith('/')) throw new Error(`${file}: "${dn}": a DN is written /DC=.../CN=...`);
    if (!e || typeof e.name !== 'string' || !/^[^_\s,][^\s,]*$/.test(e.name))
      throw new Error(`${file}: "${dn}": name must be a user name (no blanks or commas, not starting with _)`);
    const roles = e.roles === undefined ? [Role.user] : e.roles;
    if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string'))
      throw new Error(`${file}: "${dn}": roles must be a list of role names`);
    const bad = roles.find((r) => !roleAllowed(r));
    if (bad !== undefined)
      throw new Error(
        `${file}: "${dn}": role "${bad}" is not one the gateway may grant (${[...ALLOWED].join(', ')}, ${GROUP_ROLE_PREFIX}<group>)`,
      );
    out.set(dn, { name: e.name, roles: [...roles] });
  }
  return out;
}

/** A certificate's subject in the grid's slash form, RDNs in the certificate's order. */
export function slashDn(cert: X509Certificate): string {
  return '/' + cert.subject.split('\n').join('/');
}
