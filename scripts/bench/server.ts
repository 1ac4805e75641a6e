/**
 * The server a benchmark runs against: COUCHDB_URL when set, else a fresh embedded server in a
 * temporary directory (stopped and removed at the end). Loopback only.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { projectRoot, withCredentials } from '../../agents/lib/config';
import { ensureEmbeddedAdmin } from '../server/admin';
import { Supervisor } from '../server/supervisor';

export interface BenchServer {
  readonly url: string;
  readonly kind: 'couchdb' | 'embedded';
  close(): Promise<void>;
}

export async function benchServer(): Promise<BenchServer> {
  if (process.env.COUCHDB_URL) return { url: process.env.COUCHDB_URL, kind: 'couchdb', close: async () => undefined };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-bench-'));
  const sup = new Supervisor({ dataDir: path.join(dir, 'couchdb'), port: 0, entry: path.join(projectRoot(), 'dist', 'server.js') });
  const base = await sup.start();
  const state = await ensureEmbeddedAdmin({ dataDir: dir }, base);
  return {
    url: withCredentials(base, state.admin.name, state.admin.password),
    kind: 'embedded',
    close: async () => {
      await sup.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
