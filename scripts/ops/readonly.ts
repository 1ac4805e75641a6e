/**
 * `_design/readonly`: a design document whose validate_doc_update refuses every write but a
 * server admin's (views/ops/readonly_validate.ts), plus fields saying why and where writes go now.
 * migrate-db uses it to pause writes and to point agents at the new databases; archive uses it to
 * keep the archive database written by archive only.
 */
import * as path from 'path';
import { compileFunction } from '../../design/compile';
import { projectRoot } from '../../agents/lib/config';
import { dbPath, expectStatus, http } from './http';

export const READONLY_ID = '_design/readonly';

export interface ReadonlyInfo {
  /** Why the database is read-only. */
  readonly reason: 'archive' | 'migrating' | 'moved';
  /** moved: the prefix of the databases that replace this one... */
  readonly moved_to_prefix?: string;
  /** ...and their server, without credentials (absent: the same server). */
  readonly moved_to_url?: string;
  readonly at: string;
}

let compiled: Promise<string> | null = null;

export function readonlyValidate(root = projectRoot()): Promise<string> {
  compiled ||= compileFunction(path.join(root, 'views/ops/readonly_validate.ts'), 'validate');
  return compiled;
}

/** Installs or updates `_design/readonly` on `db` (idempotent). */
export async function setReadonly(url: string, db: string, info: Omit<ReadonlyInfo, 'at'>): Promise<void> {
  const p = dbPath(db) + '/_design/readonly';
  const cur = await http<{ _rev?: string; couchstage_readonly?: ReadonlyInfo }>(url, 'GET', p);
  const body = {
    _id: READONLY_ID, language: 'javascript', validate_doc_update: await readonlyValidate(),
    couchstage_readonly: { ...info, at: new Date().toISOString() },
    ...(cur.status === 200 ? { _rev: cur.body._rev } : {}),
  };
  expectStatus(await http(url, 'PUT', p, { body }), `marking ${db} read-only`);
}

export async function getReadonly(url: string, db: string): Promise<ReadonlyInfo | null> {
  const a = await http<{ couchstage_readonly?: ReadonlyInfo }>(url, 'GET', dbPath(db) + '/_design/readonly');
  if (a.status === 404) return null;
  expectStatus(a, `reading ${db}/_design/readonly`);
  return a.body.couchstage_readonly || null;
}

export async function clearReadonly(url: string, db: string): Promise<void> {
  const p = dbPath(db) + '/_design/readonly';
  const cur = await http<{ _rev?: string }>(url, 'GET', p);
  if (cur.status === 404) return;
  expectStatus(await http(url, 'DELETE', `${p}?rev=${encodeURIComponent(cur.body._rev!)}`), `clearing read-only on ${db}`, [200, 202, 404]);
}
