/**
 * Agents and the CLI through the TLS gateway (scripts/gateway) with a client certificate
 * instead of a password: when the server URL is https and a certificate is configured
 * (COUCHSTAGE_CERT/COUCHSTAGE_KEY, or X509_USER_PROXY with certificate, chain and key in one
 * file as grid jobs hold it), every request of the process presents it. Node's fetch (which nano
 * 11 uses too) takes its connection settings from undici's global dispatcher; undici is pinned to
 * the version Node 20 bundles, whose dispatcher Node's fetch accepts.
 */
import * as fs from 'fs';
import { Agent, setGlobalDispatcher } from 'undici';
import { ConfigError, type CertConfig } from './config';

/**
 * Only the certificate blocks, in order: Node reads the chain after the first certificate only
 * up to the next block that is not one, and a grid proxy file has its key between the proxy and
 * the certificate that signed it (measured: the chain was not sent, the gateway answered "wrong issuer").
 */
function certificates(pem: string): string {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g);
  return blocks ? blocks.join('\n') + '\n' : pem;
}

/** Installs the client certificate for this process when `url` is https; says whether it did. */
export function useClientCertificate(cfg: CertConfig, url: string | null): boolean {
  if (!cfg.client || !url || new URL(url).protocol !== 'https:') return false;
  const read = (f: string, what: string) => {
    try {
      return fs.readFileSync(f);
    } catch (err) {
      throw new ConfigError(`${what} ${f}: ${(err as Error).message}`);
    }
  };
  const { cert, key, ca } = cfg.client;
  setGlobalDispatcher(
    new Agent({
      connect: {
        cert: certificates(read(cert, 'client certificate').toString('utf8')),
        key: read(key, 'client key'),
        ...(ca ? { ca: read(ca, 'CA file') } : {}),
      },
    }),
  );
  return true;
}
