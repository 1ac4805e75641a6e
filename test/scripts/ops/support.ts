/** Helpers shared by the operations tests (test/scripts/ops). */
import * as fs from 'fs';
import * as path from 'path';
import { transferFixture, type TestEnv } from '../../support/env';

/** Submits n transfer documents as the owner in _bulk_docs batches; returns their ids. */
export async function seedTransfers(
  env: TestEnv,
  n: number,
  over: (i: number) => Record<string, unknown> = () => ({}),
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 1000) {
    const docs = Array.from({ length: Math.min(1000, n - i) }, (_, j) => transferFixture(env.names.owner, over(i + j)));
    const res = await env
      .as('owner')
      .use(env.dbs.transfers)
      .bulk({ docs: docs as never[] });
    const bad = res.find((r) => r.error);
    if (bad) throw new Error(`seed: ${bad.error} ${bad.reason}`);
    ids.push(...docs.map((d) => d._id as string));
  }
  return ids;
}

/**
 * The embedded server keeps one LevelDB index database per view, named
 * `<db>-mrview-<signature>`, in its data dir: listing them tells whether an index was rebuilt.
 * null on Apache CouchDB (there the tests use the index signature instead).
 */
export function embeddedIndexDirs(db: string): string[] | null {
  const dataDir = process.env.COUCHSTAGE_TEST_DATA_DIR;
  if (process.env.COUCHSTAGE_TEST_SERVER !== 'embedded' || !dataDir) return null;
  const dir = path.join(dataDir, 'couchdb', 'db');
  // name@inode: an index dropped and rebuilt under the same name gets a new inode.
  return fs
    .readdirSync(dir)
    .filter((n) => n.startsWith(db + '-mrview-'))
    .map((n) => `${n}@${fs.statSync(path.join(dir, n)).ino}`)
    .sort();
}

export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  ms = 60_000,
  every = 200,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, every));
  }
}
