/**
 * Jest global setup: use COUCHDB_URL when set (real CouchDB 3.x, admin credentials in the URL),
 * otherwise start the embedded server on a free loopback port with a throw-away data dir.
 * Each test file then creates its own `test_<random>_` databases (test/support/env.ts).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { embeddedServerOptions } from '../../scripts/embedded-env';
import { ensureEmbeddedAdmin, Supervisor } from '../../scripts/server';
import { loadConfig, withCredentials } from '../../agents/platform/config';
import { setUpTestIssuer } from './issuer';

declare global {
  var __COUCHSTAGE_SUPERVISOR__: Supervisor | undefined;
}

export default async function globalSetup(): Promise<void> {
  // Reading the configuration here also fails the run at once on a bad variable, named.
  const url = loadConfig().couchUrl;
  if (url) {
    process.env.COUCHSTAGE_TEST_SERVER = 'couchdb';
    // The test issuer's keys (test/support/issuer.ts), for the files that sign in by token.
    await setUpTestIssuer(url, fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-issuer-')));
    return;
  }
  const root = path.resolve(__dirname, '..', '..');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-test-'));
  const supervisor = new Supervisor({
    dataDir: path.join(dataDir, 'couchdb'),
    port: 0,
    entry: path.join(root, 'dist', 'server.js'),
    ...embeddedServerOptions(),
  });
  const base = await supervisor.start();
  const state = await ensureEmbeddedAdmin({ stateDir: dataDir }, base);
  globalThis.__COUCHSTAGE_SUPERVISOR__ = supervisor;
  process.env.COUCHDB_URL = withCredentials(base, state.admin.name, state.admin.password);
  process.env.COUCHSTAGE_TEST_SERVER = 'embedded';
  process.env.COUCHSTAGE_TEST_DATA_DIR = dataDir;
  await setUpTestIssuer(process.env.COUCHDB_URL, path.join(dataDir, 'issuer'));
}
