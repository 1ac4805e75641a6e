/**
 * What every validate_doc_update shares: who is writing, the one `assert` that throws CouchDB's
 * `{forbidden}` object, and an order-insensitive JSON comparison (a user re-PUTs the whole
 * document, possibly with its keys in another order).
 */
import { Role } from '../schema';

export interface UserCtx {
  readonly name: string | null;
  readonly roles: readonly string[];
  readonly db?: string;
}

export interface SecObj {
  readonly admins?: { readonly names?: readonly string[]; readonly roles?: readonly string[] };
  readonly members?: { readonly names?: readonly string[]; readonly roles?: readonly string[] };
}

export type Actor = 'admin' | 'ops' | 'agent' | 'user';

export type Doc = { readonly _id: string; readonly _deleted?: boolean; readonly [key: string]: unknown };

/** Throws CouchDB's 403 answer; the message always starts with the field it is about. */
export function assert(ok: unknown, message: string): asserts ok {
  if (!ok) throw { forbidden: message };
}

export function hasRole(userCtx: UserCtx, role: string): boolean {
  return (userCtx.roles || []).indexOf(role) >= 0;
}

/** Server admins, then database admins (ops by role or by name), then agents, then users. */
export function actorOf(userCtx: UserCtx, secObj: SecObj | null | undefined): Actor {
  if (!userCtx || !userCtx.name) throw { unauthorized: 'userCtx: you must be signed in to write' };
  if (hasRole(userCtx, Role.admin)) return 'admin';
  const admins = (secObj && secObj.admins) || {};
  const adminRoles = admins.roles || [];
  const isDbAdmin =
    (admins.names || []).indexOf(userCtx.name) >= 0 || (userCtx.roles || []).some((r) => adminRoles.indexOf(r) >= 0);
  if (hasRole(userCtx, Role.ops) || isDbAdmin) return 'ops';
  if (hasRole(userCtx, Role.agent)) return 'agent';
  return 'user';
}

export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i];
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (!sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

/** Field names whose values differ between two documents (`_rev` and `_revisions` aside). */
export function changedFields(newDoc: Doc, oldDoc: Doc): string[] {
  const out: string[] = [];
  const keys = Object.keys(newDoc).concat(Object.keys(oldDoc));
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (k === '_rev' || k === '_revisions' || out.indexOf(k) >= 0) continue;
    if (!sameJson(newDoc[k], oldDoc[k])) out.push(k);
  }
  return out;
}

/**
 * A write over a deleted document is a creation. A write that names no `_rev` over a stored
 * document updates nothing: it is a conflict, which the database answers itself (CouchDB says 409
 * before validate_doc_update runs; the embedded server validates first and passes the stored
 * document, so it is treated as absent here and the write then meets the same 409).
 */
export function liveOld(oldDoc: Doc | null | undefined, newDoc?: Doc): Doc | null {
  if (!oldDoc || oldDoc._deleted) return null;
  if (newDoc && newDoc._rev === undefined && oldDoc._rev !== undefined) return null;
  return oldDoc;
}
