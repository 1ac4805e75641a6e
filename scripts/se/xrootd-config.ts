/**
 * What a local XRootD storage element's directory holds before xrootd starts: data/, adm/ and run/,
 * the xrootd.cfg written for its port and exports, and the ownership xrootd needs when it drops
 * from root to another user. Separate from xrootd.ts, which starts, watches and stops the process.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/**
 * The LFN namespace, under the storage root. Not `/`: with `all.export /`, XRootD 5.5.3 serves `/..`
 * (its check refuses `/../` inside a path, not a trailing `/..`): measured, `ls`, `stat` and `chmod` of
 * the SE's own directory (config, logs, admin path) from any client. `/store/..` is the storage root itself.
 */
export const DEFAULT_EXPORTS: readonly string[] = ['/store'];
/**
 * Clients the SE serves. XRootD 5.5.3 has no listen address (it binds the wildcard; `xrd.port` takes a
 * port only), so `xrd.allow host` is what keeps other machines out: every other address has its
 * connection dropped at accept ("Unable to accept TCP connection from ...; permission denied").
 */
const ALLOWED_HOSTS = ['127.0.0.1', '[::1]', 'localhost'];

/** The sub-directories of an SE directory the config names. */
const SUBDIRS = ['data', 'adm', 'run'];

function runAsUser(wanted?: string): { name: string; uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  for (const name of wanted ? [wanted] : ['xrootd', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name]).toString().trim());
      const gid = Number(execFileSync('id', ['-g', name]).toString().trim());
      return { name, uid, gid };
    } catch {
      /* try the next one */
    }
  }
  throw new Error('running as root, and neither user xrootd nor nobody exists for xrootd -R');
}

function configText(dir: string, port: number, exports: readonly string[]): string {
  return [
    `# couchstage test storage element (scripts/se/xrootd.ts): loopback clients only, no authentication`,
    `xrd.port ${port}`,
    ...ALLOWED_HOSTS.map((h) => `xrd.allow host ${h}`),
    `oss.localroot ${path.join(dir, 'data')}`,
    ...exports.map((e) => `all.export ${e}`),
    `all.adminpath ${path.join(dir, 'adm')}`,
    `all.pidpath ${path.join(dir, 'run')}`,
    // Up to 64 checksums at once: with the default limit a 200-file bulk copy (16 in parallel, end to
    // end checksums) is told to wait 30 s per excess query -- measured as 30 s stalls.
    `xrootd.chksum max 64 adler32`,
    // Third-party copy, pulled by the destination with xrdcp; on every SE so TPC works both ways.
    // (The pulling xrdcp runs as the SE's user, so in the source's log a TPC shows up as a login
    // by that user rather than by the client.)
    `ofs.tpc pgm /usr/bin/xrdcp --server`,
    '',
  ].join('\n');
}

/**
 * Makes SE `dir` (under baseDir) ready for xrootd on `port`: its sub-directories, its xrootd.cfg
 * and, when we are root, ownership by the user xrootd drops to. Returns xrootd's arguments.
 */
export function prepareSeDir(
  baseDir: string,
  dir: string,
  port: number,
  opts: { user?: string; exports?: readonly string[] },
): string[] {
  for (const sub of SUBDIRS) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  const exports = opts.exports ?? DEFAULT_EXPORTS;
  for (const e of exports) {
    if (!/^(\/[A-Za-z0-9_.-]+)+$/.test(e) || e.split('/').some((c) => c === '.' || c === '..'))
      throw new Error(`storage element export ${JSON.stringify(e)}: not an absolute, normalised path`);
  }
  const cfg = path.join(dir, 'xrootd.cfg');
  fs.writeFileSync(cfg, configText(dir, port, exports));
  const user = runAsUser(opts.user);
  const args = ['-c', cfg, '-l', path.join(dir, 'xrootd.log')];
  if (user) {
    // xrootd drops to `user`, who must own the SE directory and reach it: mkdtemp directories are
    // 0700, so baseDir and its ancestors get search permission (o+x: reach known paths, not list).
    for (let d = path.resolve(baseDir); d !== path.dirname(d); d = path.dirname(d)) {
      const mode = fs.statSync(d).mode;
      if (!(mode & 0o001)) fs.chmodSync(d, (mode & 0o7777) | 0o011);
    }
    for (const p of [dir, ...SUBDIRS.map((s) => path.join(dir, s))]) fs.chownSync(p, user.uid, user.gid);
    args.push('-R', user.name);
  }
  return args;
}
