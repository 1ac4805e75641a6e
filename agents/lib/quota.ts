/**
 * Per-user quotas (views/schema QuotaDoc, `quota:<user>` in the catalogue). Usage = the bytes
 * and files of the user's catalogue replicas (ReplicaDoc.owner) + the user's pending transfers.
 * Checked in two places: `couchstage submit` refuses a batch that would exceed it and writes
 * nothing; jobs that PUT directly are failed by the scheduler with a `quota:` failure_reason
 * (validate_doc_update cannot read another database).
 */
import { CatalogId, type QuotaDoc } from '../../views/schema';
import type { Db } from '../platform/couch';
import { docsOf, find, get } from '../platform/docs';

export interface Usage {
  readonly bytes: number;
  readonly files: number;
}

export async function readQuota(catalog: Db, user: string): Promise<QuotaDoc | null> {
  return get<QuotaDoc>(catalog, CatalogId.quota(user));
}

/** Every quota document, by user (one `_all_docs` key range). */
export async function readQuotas(catalog: Db): Promise<Map<string, QuotaDoc>> {
  const prefix = CatalogId.quota('');
  const res = await catalog.list({ include_docs: true, startkey: prefix, endkey: prefix + '\ufff0' });
  const out = new Map<string, QuotaDoc>();
  for (const d of docsOf<QuotaDoc>(res.rows)) if (d.type === 'quota') out.set(d.user, d);
  return out;
}

/** Bytes and files of the user's replicas in the catalogue (a Mango scan: no index cost on writes). */
export async function catalogUsage(catalog: Db, user: string): Promise<Usage> {
  const docs = await find<{ size?: number }>(catalog, {
    selector: { type: 'replica', owner: user },
    fields: ['size'],
    limit: 10_000_000,
  });
  let bytes = 0;
  for (const d of docs) bytes += d.size || 0;
  return { bytes, files: docs.length };
}

export function addUsage(a: Usage, b: Usage): Usage {
  return { bytes: a.bytes + b.bytes, files: a.files + b.files };
}

/** Why `used + adding` exceeds the quota, starting with `quota:`; null when it fits. */
export function quotaProblem(quota: QuotaDoc, used: Usage, adding: Usage): string | null {
  const bytes = used.bytes + adding.bytes;
  const files = used.files + adding.files;
  if (bytes <= quota.max_bytes && files <= quota.max_files) return null;
  const what =
    bytes > quota.max_bytes
      ? `${bytes} bytes > max_bytes ${quota.max_bytes}`
      : `${files} files > max_files ${quota.max_files}`;
  return `quota: ${quota.user} would use ${what} (in use: ${used.bytes} bytes, ${used.files} files; this adds ${adding.bytes} bytes, ${adding.files} files)`;
}
