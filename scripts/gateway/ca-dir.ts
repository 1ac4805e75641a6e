/**
 * The trusted CAs and their CRLs, from a directory laid out as the grid's
 * `/etc/grid-security/certificates`: `<hash>.0`, `<hash>.1`... hold CA certificates and
 * `<hash>.r0`, `<hash>.r1`... their CRLs (OpenSSL's hashed `-CApath` layout; `.pem`, `.crl`,
 * `.info`, `.signing_policy` and the rest are ignored, as the grid's tools ignore them). Read again
 * when the directory changes (fetch-crl replaces CRLs a few times a day) and on SIGHUP, so a new
 * CRL refuses a revoked certificate without a restart.
 */
import * as fs from 'fs';
import * as path from 'path';
import { X509Certificate } from 'crypto';

export interface CaSet {
  readonly dir: string;
  readonly ca: Buffer[];
  readonly crl: Buffer[];
  /** Subjects of the CAs, for messages. */
  readonly subjects: string[];
}

const CERT = /^[0-9a-f]{8}\.\d+$/;
const CRL = /^[0-9a-f]{8}\.r\d+$/;

/** Every CA file and CRL of the directory; a CA file that is not a certificate is an error naming it. */
export function readCaDir(dir: string): CaSet {
  const ca: Buffer[] = [];
  const crl: Buffer[] = [];
  const subjects: string[] = [];
  for (const name of fs.readdirSync(dir).sort()) {
    const file = path.join(dir, name);
    if (CERT.test(name)) {
      const pem = fs.readFileSync(file);
      try {
        subjects.push(new X509Certificate(pem).subject.replace(/\n/g, ', '));
      } catch (err) {
        throw new Error(`${file}: not a PEM certificate (${(err as Error).message})`, { cause: err });
      }
      ca.push(pem);
    } else if (CRL.test(name)) crl.push(fs.readFileSync(file));
  }
  if (!ca.length) throw new Error(`${dir}: no CA certificates (<hash>.0 files)`);
  return { dir, ca, crl, subjects };
}

/**
 * Calls `onChange` with the directory read again after it changes (debounced: fetch-crl writes
 * many files) and on SIGHUP. A directory that fails to read keeps the previous set; `onError` says why.
 * Returns a function that stops watching.
 */
export function watchCaDir(dir: string, onChange: (s: CaSet) => void, onError: (e: Error) => void): () => void {
  let timer: NodeJS.Timeout | null = null;
  const reload = () => {
    timer = null;
    try {
      onChange(readCaDir(dir));
    } catch (err) {
      onError(err as Error);
    }
  };
  const soon = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(reload, 200);
  };
  const watcher = fs.watch(dir, soon);
  watcher.on('error', onError);
  process.on('SIGHUP', reload);
  return () => {
    watcher.close();
    if (timer) clearTimeout(timer);
    process.off('SIGHUP', reload);
  };
}
