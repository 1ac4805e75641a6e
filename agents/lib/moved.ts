/**
 * How agents follow `couchstage migrate-db`: the old databases carry `_design/readonly`
 * (scripts/ops/readonly.ts), first with reason "migrating" (writes paused for the final
 * catch-up), then "moved" with the new prefix (and server). The runner stops when that design doc
 * shows up in its feed (DatabaseMovedError); the agent process then resolves where its databases
 * went and runs again there, from a fresh checkpoint (`_local` documents do not replicate) and a
 * full load: every effect is idempotent, so replaying the history is safe.
 */
import { dbNames, type DbRole } from '../../views/schema';
import { withCredentials } from '../platform/config';
import { READONLY_DDOC_ID, type ReadonlyDesignDoc, type ReadonlyInfo } from '../../views/schema';
import { sleep } from '../platform/couch';
import { nodeFetch, nodeUrls } from '../platform/nodes';
import type { Logger } from '../platform/log';

export class DatabaseMovedError extends Error {}

async function readonlyOf(url: string, db: string, signal?: AbortSignal): Promise<ReadonlyInfo | null> {
  const res = await nodeFetch(url, `/${encodeURIComponent(db)}/${READONLY_DDOC_ID}`, { signal });
  if (res.status === 404) return null;
  if (!res.ok) {
    // The server's reason names the check that failed (an expired token, a wrong password).
    const body = (await res.json().catch(() => ({}))) as { error?: string; reason?: string };
    throw Object.assign(
      new Error(`reading ${db}/${READONLY_DDOC_ID}: ${res.status} ${body.error ?? ''}: ${body.reason ?? ''}`),
      {
        statusCode: res.status,
        error: body.error,
        reason: body.reason,
      },
    );
  }
  return ((await res.json()) as ReadonlyDesignDoc).couchstage_readonly || null;
}

/**
 * Where the databases are now: follows "moved" markers (at most 5 hops) and waits while a
 * migration has paused writes. The credentials of `url` are kept for a new server.
 */
export async function followMoves(
  url: string,
  dbs: Record<DbRole, string>,
  log: Logger,
  signal?: AbortSignal,
): Promise<{ url: string; dbs: Record<DbRole, string> }> {
  for (let hop = 0; hop < 5; hop++) {
    const ro = await readonlyOf(url, dbs.transfers, signal);
    if (!ro || ro.reason === 'archive') return { url, dbs };
    if (ro.reason === 'migrating') {
      if (signal?.aborted) return { url, dbs };
      await sleep(1000, signal);
      hop--;
      continue;
    }
    const prefix = ro.moved_to_prefix || '';
    let next = url;
    if (ro.moved_to_url) {
      const u = new URL(nodeUrls(url)[0]);
      next = u.username
        ? withCredentials(ro.moved_to_url, decodeURIComponent(u.username), decodeURIComponent(u.password))
        : ro.moved_to_url;
    }
    log.info('databases moved: following', { prefix, server: ro.moved_to_url || 'same' });
    url = next;
    dbs = dbNames(prefix);
  }
  throw new Error('databases moved more than 5 times in a row: check the _design/readonly documents');
}

/** True when the database is paused or moved by migrate-db (an archive db does not count). */
export async function isMovedOrPaused(url: string, db: string): Promise<boolean> {
  const ro = await readonlyOf(url, db).catch(() => null);
  return !!ro && ro.reason !== 'archive';
}
