/**
 * A throw-away grid PKI for the gateway's tests and its benchmark, made with the openssl command:
 * CAs, user and server certificates, RFC 3820 proxies, revocations and CRLs, and a CA directory
 * in the layout of `/etc/grid-security/certificates` (`<hash>.0` CA files, `<hash>.r0` CRLs).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const EXTENSIONS = `
[usr]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
[srv]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1
[proxy]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,keyEncipherment
proxyCertInfo = critical,language:id-ppl-inheritAll
[v3_ca]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
`;

export interface Issued {
  readonly cert: string;
  readonly key: string;
}

function openssl(cwd: string, args: string[]): string {
  return execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

/** Slash DN -> openssl's -subj form is the same string. */
export class TestCa {
  readonly dir: string;
  readonly cert: string;
  private readonly key: string;
  private readonly cnf: string;

  constructor(
    base: string,
    readonly name: string,
    subject: string,
  ) {
    this.dir = path.join(base, name);
    fs.mkdirSync(path.join(this.dir, 'new'), { recursive: true });
    fs.writeFileSync(path.join(this.dir, 'index.txt'), '');
    fs.writeFileSync(path.join(this.dir, 'crlnumber'), '01\n');
    fs.writeFileSync(path.join(this.dir, 'serial'), '1000\n');
    this.cnf = path.join(this.dir, 'ca.cnf');
    fs.writeFileSync(
      this.cnf,
      `[ca]\ndefault_ca = ca\n[ca]\ndir = ${this.dir}\ndatabase = $dir/index.txt\nnew_certs_dir = $dir/new\n` +
        `serial = $dir/serial\ncrlnumber = $dir/crlnumber\ndefault_md = sha256\ndefault_days = 2\n` +
        `default_crl_days = 2\npolicy = any\nunique_subject = no\ncopy_extensions = none\n[any]\n` +
        `commonName = supplied\n[req]\ndistinguished_name = dn\n[dn]\n${EXTENSIONS}`,
    );
    this.cert = path.join(this.dir, 'ca.pem');
    this.key = path.join(this.dir, 'ca.key');
    openssl(this.dir, [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      this.key,
      '-out',
      this.cert,
      '-days',
      '3',
      '-subj',
      subject,
      '-config',
      this.cnf,
      '-extensions',
      'v3_ca',
    ]);
  }

  /** A certificate for `subject`; `dates` sets a validity window in the past or future. */
  issue(file: string, subject: string, ext: 'usr' | 'srv', dates?: { start: string; end: string }): Issued {
    const key = path.join(this.dir, file + '.key');
    const csr = path.join(this.dir, file + '.csr');
    const cert = path.join(this.dir, file + '.pem');
    openssl(this.dir, [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      csr,
      '-subj',
      subject,
      '-config',
      this.cnf,
    ]);
    const window = dates ? ['-startdate', dates.start, '-enddate', dates.end] : [];
    openssl(this.dir, [
      'ca',
      '-batch',
      '-config',
      this.cnf,
      '-keyfile',
      this.key,
      '-cert',
      this.cert,
      '-in',
      csr,
      '-out',
      cert,
      '-extensions',
      ext,
      '-notext',
      '-preserveDN',
      ...window,
    ]);
    return { cert, key };
  }

  revoke(cert: string): void {
    openssl(this.dir, ['ca', '-batch', '-config', this.cnf, '-keyfile', this.key, '-cert', this.cert, '-revoke', cert]);
  }

  crl(): string {
    const out = path.join(this.dir, 'ca.crl');
    openssl(this.dir, [
      'ca',
      '-batch',
      '-config',
      this.cnf,
      '-keyfile',
      this.key,
      '-cert',
      this.cert,
      '-gencrl',
      '-out',
      out,
    ]);
    return out;
  }

  hash(): string {
    return openssl(this.dir, ['x509', '-hash', '-noout', '-in', this.cert]).trim();
  }

  /** Puts the CA and its current CRL into a grid CA directory; the CRL is replaced by rename, as fetch-crl does. */
  install(caDir: string, withCrl = true): void {
    fs.mkdirSync(caDir, { recursive: true });
    fs.copyFileSync(this.cert, path.join(caDir, `${this.hash()}.0`));
    if (!withCrl) return;
    const tmp = path.join(caDir, `.${this.hash()}.r0.tmp`);
    fs.copyFileSync(this.crl(), tmp);
    fs.renameSync(tmp, path.join(caDir, `${this.hash()}.r0`));
  }
}

/**
 * An RFC 3820 proxy of `holder` (subject = holder's + `/CN=<serial>`), written as grid jobs hold
 * it: proxy certificate, its key, then the holder's certificate, in one file. `forgeKey` signs it
 * with another key instead (through a look-alike of the holder's certificate made with that key),
 * the file still carrying the holder's real certificate: a forgery.
 */
export function makeProxy(dir: string, name: string, holder: Issued, holderDn: string, forgeKey?: string): string {
  const key = path.join(dir, name + '.key');
  const csr = path.join(dir, name + '.csr');
  const cert = path.join(dir, name + '.pem');
  const ext = path.join(dir, name + '.ext');
  const cnf = path.join(dir, 'ca.cnf');
  fs.writeFileSync(ext, EXTENSIONS);
  let signer = holder;
  if (forgeKey) {
    const lookAlike = path.join(dir, name + '.signer.pem');
    const lookAlikeCnf = path.join(dir, name + '.signer.cnf');
    // The holder's key identifier too, so that the proxy names the real certificate as its issuer.
    const skidText = openssl(dir, ['x509', '-in', holder.cert, '-noout', '-ext', 'subjectKeyIdentifier']);
    const skid = /Identifier:\s*([0-9A-F:]+)/.exec(skidText)![1];
    fs.writeFileSync(
      lookAlikeCnf,
      `[req]\ndistinguished_name = dn\nx509_extensions = ext\n[dn]\n[ext]\nsubjectKeyIdentifier = ${skid}\n` +
        'basicConstraints = critical,CA:false\nkeyUsage = critical,digitalSignature,keyEncipherment\n',
    );
    openssl(dir, [
      'req',
      '-x509',
      '-key',
      forgeKey,
      '-subj',
      holderDn,
      '-days',
      '1',
      '-out',
      lookAlike,
      '-config',
      lookAlikeCnf,
    ]);
    signer = { cert: lookAlike, key: forgeKey };
  }
  const serial = String(100000 + Math.floor(Math.random() * 800000));
  openssl(dir, [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    csr,
    '-subj',
    `${holderDn}/CN=${serial}`,
    '-config',
    cnf,
  ]);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    signer.cert,
    '-CAkey',
    signer.key,
    '-set_serial',
    serial,
    '-days',
    '1',
    '-extfile',
    ext,
    '-extensions',
    'proxy',
    '-out',
    cert,
  ]);
  const file = path.join(dir, name + '.x509up');
  const parts = [cert, key, holder.cert].map((f) => fs.readFileSync(f, 'utf8'));
  fs.writeFileSync(file, parts.join(''), { mode: 0o600 });
  return file;
}
