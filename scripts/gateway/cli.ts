/**
 * `couchstage gateway`: runs the TLS gateway (server.ts) in the foreground until SIGINT/SIGTERM.
 * Defaults: listen on loopback 127.0.0.1:8443 (as the server and the storage elements do; put a
 * routable address only on purpose), the grid's CA directory, forward to the configured server
 * (COUCHDB_URL without its credentials, else the running embedded server), the secret from
 * COUCHSTAGE_PROXY_SECRET_FILE (deploy writes it and configures the server for it).
 */
import * as fs from 'fs';
import { loadCertConfig, loadConfig, serverUrl, withoutCredentials } from '../../agents/platform/config';
import { flag, UsageError, type Args } from '../client/args';
import { readSecretFile } from '../ops/proxy-auth';
import { startGateway, type Gateway } from './server';

export const GATEWAY_VALUED = ['listen', 'cert', 'key', 'ca-dir', 'map', 'secret-file', 'upstream'];

export const GATEWAY_DETAILS = [
  '--listen HOST:PORT   where to listen (default 127.0.0.1:8443)',
  "--cert F --key F     the gateway's own certificate and key (PEM; required)",
  '--ca-dir DIR         trusted CAs <hash>.0 and CRLs <hash>.r0 (default /etc/grid-security/certificates)',
  '--map FILE           subject DN -> {name, roles} (JSON; required)',
  '--secret-file FILE   proxy secret (default COUCHSTAGE_PROXY_SECRET_FILE)',
  '--upstream URL       server to forward to (default the configured server)',
  'SIGHUP reads the CA directory and the map again (the directory is also watched)',
];

function listenOf(text: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(text);
  if (!m || Number(m[2]) > 65535) throw new UsageError(`--listen must be HOST:PORT, got "${text}"`);
  return { host: m[1].replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(m[2]) };
}

function required(args: Args, name: string): string {
  const v = flag(args, name);
  if (!v) throw new UsageError(`gateway needs --${name}`);
  return v;
}

function readFile(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new UsageError(`${what} ${file}: ${(err as Error).message}`);
  }
}

/** Starts the gateway from command-line arguments; the caller stops it. */
export async function gatewayFromArgs(args: Args, log: (line: string) => void): Promise<Gateway> {
  const secretFile = flag(args, 'secret-file') || loadCertConfig().proxySecretFile;
  if (!secretFile) throw new UsageError('gateway needs --secret-file or COUCHSTAGE_PROXY_SECRET_FILE');
  const { host, port } = listenOf(flag(args, 'listen') || '127.0.0.1:8443');
  const upstream = flag(args, 'upstream') || withoutCredentials(serverUrl(loadConfig()));
  return startGateway({
    upstream,
    host,
    port,
    cert: readFile(required(args, 'cert'), 'gateway certificate'),
    key: readFile(required(args, 'key'), 'gateway key'),
    caDir: flag(args, 'ca-dir') || '/etc/grid-security/certificates',
    mapFile: required(args, 'map'),
    secret: readSecretFile(secretFile),
    log,
  });
}

export async function runGateway(args: Args, out: (line: string) => void): Promise<number> {
  const gw = await gatewayFromArgs(args, out);
  const sig = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  out(`gateway: ${sig}, stopping`);
  await gw.close();
  return 0;
}
