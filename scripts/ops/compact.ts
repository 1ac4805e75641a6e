/**
 * `couchstage compact [--every DURATION]`: database compaction, view compaction of every design
 * doc with views, and `_view_cleanup`, on each couchstage database (and the archive when present).
 * Compaction runs in the server's background; we report what the server accepted and the sizes
 * it reports. ASO compacted twice a day (seed 002): `--every 12h`.
 */
import type { DbRole } from '../../views/schema';
import { capabilities } from '../../agents/platform/capabilities';
import { dbPath, expectStatus, http } from './http';
import { archiveDbName } from './archive';
import { formatSize } from '../cli/commands/format';

export interface CompactStep {
  readonly db: string;
  readonly what: string;
  readonly result: 'started' | 'done' | 'not supported by this server';
}

interface DbInfo {
  sizes?: { file?: number; active?: number };
  disk_size?: number;
  compact_running?: boolean;
}

export async function compactOnce(
  url: string,
  dbs: Record<DbRole, string>,
  log: (l: string) => void = () => undefined,
): Promise<CompactStep[]> {
  const steps: CompactStep[] = [];
  const names = [...Object.values(dbs)];
  if ((await http(url, 'GET', dbPath(archiveDbName(dbs)))).status === 200) names.push(archiveDbName(dbs));
  const caps = await capabilities(url);
  for (const db of names) {
    const info = expectStatus(await http<DbInfo>(url, 'GET', dbPath(db)), `database ${db}`).body;
    const size = info.sizes?.file ?? info.disk_size;
    expectStatus(await http(url, 'POST', dbPath(db) + '/_compact', { body: {} }), `compacting ${db}`);
    steps.push({ db, what: 'database', result: 'started' });
    log(
      `${db}: compaction started${size !== undefined ? ` (file ${formatSize(size)}, active ${formatSize(info.sizes?.active ?? 0)})` : ''}`,
    );
    const ddocs = expectStatus(
      await http<{ rows: { id: string; doc: { views?: object } }[] }>(
        url,
        'GET',
        `${dbPath(db)}/_all_docs?startkey=${encodeURIComponent('"_design/"')}&endkey=${encodeURIComponent('"_design0"')}&include_docs=true`,
      ),
      `design docs of ${db}`,
    ).body.rows;
    for (const row of ddocs) {
      if (!row.doc.views || !Object.keys(row.doc.views).length) continue;
      const name = row.id.slice('_design/'.length);
      let result: 'started' | 'not supported by this server' = 'not supported by this server';
      if (caps.viewCompaction) {
        expectStatus(
          await http(url, 'POST', `${dbPath(db)}/_compact/${encodeURIComponent(name)}`, { body: {} }),
          `compacting views of ${db}/${row.id}`,
        );
        result = 'started';
      }
      steps.push({ db, what: `views of ${row.id}`, result: result! });
      log(`${db}/${row.id}: view compaction ${result}`);
    }
    expectStatus(await http(url, 'POST', dbPath(db) + '/_view_cleanup', { body: {} }), `view cleanup of ${db}`);
    steps.push({ db, what: 'view cleanup', result: 'done' });
    log(`${db}: unused index files cleaned up`);
  }
  return steps;
}

/** Runs compactOnce now and then every `everyMs` until the signal aborts; errors are logged, not fatal. */
export async function compactEvery(
  url: string,
  dbs: Record<DbRole, string>,
  everyMs: number,
  signal: AbortSignal,
  log: (l: string) => void,
): Promise<number> {
  let runs = 0;
  while (!signal.aborted) {
    try {
      await compactOnce(url, dbs, log);
    } catch (err) {
      log(`compaction failed: ${(err as Error).message} (next try in ${Math.round(everyMs / 1000)} s)`);
    }
    runs++;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, everyMs);
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          resolve();
        },
        { once: true },
      );
    });
  }
  return runs;
}
