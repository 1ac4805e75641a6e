/**
 * The server a benchmark runs against: COUCHDB_URL when set; with `--couchdb` (anywhere on the
 * command line) a fresh Apache CouchDB 3.4 node from ../shared/couchdb (`.couchdb/bench/`,
 * scripts/couchdb/node.ts); else a fresh embedded server in a temporary directory. Servers the
 * benchmark started are stopped and removed at the end. Loopback only.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadConfig, projectRoot, withCredentials } from '../../agents/platform/config';
import { embeddedServerOptions } from '../embedded-env';
import { ensureEmbeddedAdmin, Supervisor } from '../server';
import { adminUrlOf, startNode, stopNode } from '../couchdb/node';

/** `--couchdb` is taken out of argv here, before any benchmark reads its positional arguments. */
const couchdbFlag = process.argv.indexOf('--couchdb');
if (couchdbFlag > 1) process.argv.splice(couchdbFlag, 1);

export interface BenchServer {
  readonly url: string;
  readonly kind: 'couchdb' | 'embedded';
  close(): Promise<void>;
}

export async function benchServer(): Promise<BenchServer> {
  const couchUrl = loadConfig().couchUrl;
  if (couchUrl) return { url: couchUrl, kind: 'couchdb', close: async () => undefined };
  if (couchdbFlag > 1) {
    const node = await startNode({ name: 'bench', fresh: true, log: (l) => process.stderr.write(l + '\n') });
    process.env.COUCHDB_URL = adminUrlOf(node);
    return {
      url: adminUrlOf(node),
      kind: 'couchdb',
      close: async () => {
        await stopNode('bench');
        fs.rmSync(node.dir, { recursive: true, force: true });
      },
    };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-bench-'));
  const sup = new Supervisor({
    dataDir: path.join(dir, 'couchdb'),
    port: 0,
    entry: path.join(projectRoot(), 'dist', 'server.js'),
    ...embeddedServerOptions(),
  });
  const base = await sup.start();
  const state = await ensureEmbeddedAdmin({ stateDir: dir }, base);
  return {
    url: withCredentials(base, state.admin.name, state.admin.password),
    kind: 'embedded',
    close: async () => {
      await sup.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
