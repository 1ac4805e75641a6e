/**
 * Which check a client certificate failed, as a refusal the gateway sends (401 and a reason naming
 * the check), or the subject it proves.
 *
 * Plain certificates are verified by Node's TLS against the CA directory (`ca`, `crl`): the
 * gateway asks for a certificate without rejecting the handshake (`rejectUnauthorized: false`)
 * so that it can answer in HTTP with the reason instead of a bare TLS alert.
 *
 * RFC 3820 proxy certificates, which grid jobs hold, are refused by Node's TLS whatever the
 * chain: OpenSSL 3 accepts them only with X509_V_FLAG_ALLOW_PROXY_CERTS, which Node never sets and
 * offers no option for, and OpenSSL 3 no longer honours the OPENSSL_ALLOW_PROXY_CERTS environment
 * variable of 1.0 (both measured with Node 20.20, OpenSSL 3.0.19: error 40, which Node names
 * "UNSPECIFIED"). The chain the client sent is still readable (getPeerCertificate(true)), and the
 * TLS handshake proves the client holds the proxy's key; so for a proxy the gateway has OpenSSL
 * itself verify that chain (`openssl verify -allow_proxy_certs` against the same CA directory and
 * CRLs, which checks signatures, validity, the RFC 3820 naming and path-length rules and
 * revocation), remembered per chain for a minute. The identity is then the end-entity
 * certificate's subject, as grid services map proxies.
 */
import { execFile } from 'child_process';
import { createHash, X509Certificate } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { DetailedPeerCertificate, TLSSocket } from 'tls';
import { slashDn } from './dn-map';

export type Verdict = { ok: true; dn: string; proxy: boolean } | { ok: false; check: string; reason: string };

/** Node's names of OpenSSL's verification errors, as the checks a user reads. */
const CHECKS: Record<string, string> = {
  CERT_HAS_EXPIRED: 'expired',
  CERT_NOT_YET_VALID: 'not yet valid',
  CERT_REVOKED: 'revoked',
  UNABLE_TO_GET_ISSUER_CERT: 'wrong issuer: no CA in the CA directory issued it',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'wrong issuer: no CA in the CA directory issued it',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'wrong issuer: no CA in the CA directory issued it',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'wrong issuer: self-signed, not a CA of the CA directory',
  SELF_SIGNED_CERT_IN_CHAIN: 'wrong issuer: its root is not a CA of the CA directory',
  UNABLE_TO_GET_CRL: 'no CRL for its CA in the CA directory: revocation cannot be checked',
  CRL_HAS_EXPIRED: "its CA's CRL has expired (refresh the CA directory's CRLs)",
  CRL_NOT_YET_VALID: "its CA's CRL is not yet valid",
  CERT_SIGNATURE_FAILURE: 'bad signature',
  INVALID_CA: 'issued by a certificate that is not a CA',
  INVALID_PURPOSE: 'not a client certificate',
  PROXY_PATH_LENGTH_EXCEEDED: 'proxy chain longer than its path length allows',
  INVALID_EXTENSION: 'invalid proxy certificate extension',
  PROXY_SUBJECT_NAME_VIOLATION: "proxy subject is not its issuer's subject plus one CN",
};

/** OpenSSL's numeric codes (`openssl verify` prints them) by Node's names. */
const CODES: Record<number, string> = {
  2: 'UNABLE_TO_GET_ISSUER_CERT',
  3: 'UNABLE_TO_GET_CRL',
  7: 'CERT_SIGNATURE_FAILURE',
  9: 'CERT_NOT_YET_VALID',
  10: 'CERT_HAS_EXPIRED',
  11: 'CRL_NOT_YET_VALID',
  12: 'CRL_HAS_EXPIRED',
  18: 'DEPTH_ZERO_SELF_SIGNED_CERT',
  19: 'SELF_SIGNED_CERT_IN_CHAIN',
  20: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  21: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  23: 'CERT_REVOKED',
  24: 'INVALID_CA',
  26: 'INVALID_PURPOSE',
  38: 'PROXY_PATH_LENGTH_EXCEEDED',
  41: 'INVALID_EXTENSION',
  69: 'PROXY_SUBJECT_NAME_VIOLATION',
};

function refused(code: string): Verdict {
  return { ok: false, check: code, reason: CHECKS[code] || code.toLowerCase().replace(/_/g, ' ') };
}

/** id-pe-proxyCertInfo (1.3.6.1.5.5.7.1.14) as DER: the extension only proxy certificates carry. */
const PROXY_OID = Buffer.from('06082b0601050507010e', 'hex');
export const isProxy = (der: Buffer): boolean => der.includes(PROXY_OID);

/** The certificates the client sent, leaf first (Node links them through issuerCertificate). */
function peerChain(sock: TLSSocket): Buffer[] {
  const out: Buffer[] = [];
  let c: DetailedPeerCertificate | undefined = sock.getPeerCertificate(true);
  while (c && c.raw && out.length < 10) {
    if (out.some((d) => d.equals(c!.raw))) break;
    out.push(c.raw);
    c = c.issuerCertificate;
  }
  return out;
}

const pem = (der: Buffer) => new X509Certificate(der).toString();

/** `openssl verify` of a proxy chain against the CA directory; resolves to null or Node's error name. */
function opensslVerify(caDir: string, crls: boolean, chain: Buffer[]): Promise<string | null> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-gw-'));
  const leaf = path.join(tmp, 'leaf.pem');
  const rest = path.join(tmp, 'chain.pem');
  fs.writeFileSync(leaf, pem(chain[0]));
  fs.writeFileSync(rest, chain.slice(1).map(pem).join(''));
  // openssl refuses an empty -untrusted file: a lone proxy is verified without one (and fails on its issuer).
  const untrusted = chain.length > 1 ? ['-untrusted', rest] : [];
  const args = [
    'verify',
    '-CApath',
    caDir,
    '-purpose',
    'sslclient',
    '-allow_proxy_certs',
    ...(crls ? ['-crl_check_all'] : []),
    ...untrusted,
    leaf,
  ];
  return new Promise((resolve) => {
    execFile('openssl', args, { timeout: 10_000 }, (err, stdout, stderr) => {
      fs.rmSync(tmp, { recursive: true, force: true });
      if (!err) return resolve(null);
      const m = /error (\d+) at \d+ depth/.exec(String(stderr) + String(stdout));
      resolve(m ? CODES[Number(m[1])] || `OPENSSL_ERROR_${m[1]}` : 'UNSPECIFIED');
    });
  });
}

export class Verifier {
  private memo = new Map<string, { v: Verdict; until: number }>();
  constructor(private caDir: () => { dir: string; crls: boolean }) {}

  /** Forget every remembered proxy verdict (the CA directory changed). */
  clear(): void {
    this.memo.clear();
  }

  /**
   * The verdict for the connection's client certificate; null: the client sent none. `stale`: the
   * CA directory changed since the handshake, so Node's verdict of then is not used.
   */
  async verify(sock: TLSSocket, stale = false): Promise<Verdict | null> {
    const chain = peerChain(sock);
    if (!chain.length) return null;
    if (!isProxy(chain[0]) && !stale) {
      if (!sock.authorized) return refused(String(sock.authorizationError || 'UNSPECIFIED'));
      return { ok: true, dn: slashDn(new X509Certificate(chain[0])), proxy: false };
    }
    const key = createHash('sha256').update(Buffer.concat(chain)).digest('hex');
    const hit = this.memo.get(key);
    if (hit && hit.until > Date.now()) return hit.v;
    const { dir, crls } = this.caDir();
    const code = await opensslVerify(dir, crls, chain);
    const ee = chain.find((d) => !isProxy(d));
    const v: Verdict = code
      ? refused(code)
      : ee
        ? { ok: true, dn: slashDn(new X509Certificate(ee)), proxy: ee !== chain[0] }
        : refused('UNABLE_TO_GET_ISSUER_CERT');
    const notAfter = Math.min(...chain.map((d) => Date.parse(new X509Certificate(d).validTo)));
    if (this.memo.size > 10_000) this.memo.clear();
    this.memo.set(key, { v, until: Math.min(Date.now() + 60_000, notAfter) });
    return v;
  }
}
