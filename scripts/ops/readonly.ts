/**
 * `_design/readonly`: a design document whose validate_doc_update refuses every write but a
 * server admin's (views/ops/readonly_validate.ts), plus fields saying why and where writes go now.
 * migrate-db uses it to pause writes and to point agents at the new databases; archive uses it to
 * keep the archive database written by archive only.
 */
import * as path from 'path';
import { compileFunction } from '../../design/compile';
import { projectRoot } from '../../agents/platform/config';
import { connect, describeError, statusOf } from '../../agents/platform/couch';
import { update, type RawDoc } from '../../agents/platform/docs';
import { dbPath, expectStatus, http } from './http';
import { READONLY_DDOC_ID, type ReadonlyDesignDoc, type ReadonlyInfo } from '../../views/schema';

export type { ReadonlyInfo };

let compiled: Promise<string> | null = null;

export function readonlyValidate(root = projectRoot()): Promise<string> {
  compiled ||= compileFunction(path.join(root, 'views/ops/readonly_validate.ts'), 'validate');
  return compiled;
}

/**
 * Installs or updates `_design/readonly` on `db` (idempotent). One write: a 409 means another
 * operation changed it meanwhile, and is an error.
 */
export async function setReadonly(url: string, db: string, info: Omit<ReadonlyInfo, 'at'>): Promise<void> {
  const validate = await readonlyValidate();
  const doc = {
    _id: READONLY_DDOC_ID,
    language: 'javascript',
    validate_doc_update: validate,
    couchstage_readonly: { ...info, at: new Date().toISOString() },
  };
  try {
    await update<RawDoc>(connect(url).use(db), READONLY_DDOC_ID, () => doc, { attempts: 1 });
  } catch (err) {
    throw Object.assign(new Error(`marking ${db} read-only: ${describeError(err)}`), { statusCode: statusOf(err) });
  }
}

export async function getReadonly(url: string, db: string): Promise<ReadonlyInfo | null> {
  const a = await http<ReadonlyDesignDoc>(url, 'GET', dbPath(db) + '/' + READONLY_DDOC_ID);
  if (a.status === 404) return null;
  expectStatus(a, `reading ${db}/${READONLY_DDOC_ID}`);
  return a.body.couchstage_readonly || null;
}
