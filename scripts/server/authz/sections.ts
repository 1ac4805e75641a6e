/**
 * A database's security object as a decision table (CouchDB 3.4's rules): its readers are its
 * `members` (names or roles; none at all = everyone), its admins `admins` or a server admin.
 */
import type { UserCtx } from './identity';

export type Sec = { members?: { names?: unknown; roles?: unknown }; admins?: { names?: unknown; roles?: unknown } };
export interface Section {
  names: Set<string>;
  roles: Set<string>;
  empty: boolean;
}
export interface Rules {
  members: Section;
  admins: Section;
}

/** `_users` and `_replicator` as CouchDB 3.4 creates them (`[couchdb] default_security = admin_only`). */
export const ADMIN_ONLY = { members: { roles: ['_admin'] }, admins: { roles: ['_admin'] } };

export function section(s: { names?: unknown; roles?: unknown } | undefined): Section {
  const names = new Set(
    Array.isArray(s?.names) ? (s!.names as unknown[]).filter((x): x is string => typeof x === 'string') : [],
  );
  const roles = new Set(
    Array.isArray(s?.roles) ? (s!.roles as unknown[]).filter((x): x is string => typeof x === 'string') : [],
  );
  return { names, roles, empty: names.size === 0 && roles.size === 0 };
}
export const rulesOf = (sec: Sec): Rules => ({ members: section(sec?.members), admins: section(sec?.admins) });
export const inSection = (u: UserCtx, s: Section) =>
  (u.name !== null && s.names.has(u.name)) || u.roles.some((r) => s.roles.has(r));
export const isServerAdmin = (u: UserCtx) => u.roles.includes('_admin');
export const isDbAdmin = (u: UserCtx, r: Rules) => isServerAdmin(u) || inSection(u, r.admins);
export const isReader = (u: UserCtx, r: Rules) => isDbAdmin(u, r) || r.members.empty || inSection(u, r.members);

/** The express-pouchdb application, as far as the authorisation layer uses it. */
export type App = {
  (req: import('http').IncomingMessage, res: import('http').ServerResponse): void;
  couchConfig: {
    get(s: string, k: string): unknown;
    getSection(s: string): Record<string, unknown>;
    on(e: string, f: () => void): void;
  };
  dbWrapper: {
    wrap(name: string, db: unknown): Promise<unknown>;
    registerWrapper(f: (name: string, db: unknown, next: () => unknown) => unknown): void;
  };
};
