/**
 * Storage for the demo sites T2_CH_CERN, T2_IT_Pisa and T1_US_FNAL. With the Debian gfal2
 * bindings and /usr/bin/xrootd: three XRootD storage elements under <data>/se (root:// endpoints,
 * worker backend gfal2), restarted on the ports their se.json recorded so that the site documents
 * stay valid; a busy port gets a new one (the site documents then change). Otherwise three
 * directories under <data>/storage (file:// endpoints, worker backend native).
 */
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { gfal2Available } from '../../agents/backends/index';
import { freePort, startStorageElement, stopStorageElements, type SE } from '../se/xrootd';

export const DEMO_SITES = ['T2_CH_CERN', 'T2_IT_Pisa', 'T1_US_FNAL'] as const;

export interface DemoSite {
  readonly name: string;
  readonly protocol: 'root' | 'file';
  /** root://127.0.0.1:PORT or file:///abs/dir */
  readonly endpoint: string;
  /** TFC result for `path_match: '/+(.*)'`. */
  readonly tfcResult: string;
  /** Local directory the site's LFNs live under (the SE's oss.localroot, or the file:// root). */
  readonly dir: string;
  /** Owner that files in `dir` must have (the SE's user), or null. */
  readonly owner: { uid: number; gid: number } | null;
  /** The storage element behind the site, if any. */
  readonly se?: SE;
}

export interface DemoStorage {
  readonly mode: 'xrootd' | 'native';
  /** The worker's --backend. */
  readonly backend: 'gfal2' | 'native';
  readonly sites: readonly DemoSite[];
  stop(): Promise<void>;
}

export function xrootdUsable(): boolean {
  return fs.existsSync('/usr/bin/xrootd') && gfal2Available();
}

export async function openDemoStorage(dataDir: string, log: (line: string) => void): Promise<DemoStorage> {
  return xrootdUsable() ? startXrootdSites(path.join(dataDir, 'se'), log) : nativeSites(path.join(dataDir, 'storage'));
}

function nativeSites(baseDir: string): DemoStorage {
  const sites = DEMO_SITES.map((name): DemoSite => {
    const dir = path.join(baseDir, name);
    fs.mkdirSync(dir, { recursive: true });
    return { name, protocol: 'file', endpoint: `file://${dir}`, tfcResult: `file://${dir}/$1`, dir, owner: null };
  });
  return { mode: 'native', backend: 'native', sites, stop: async () => undefined };
}

/** The port SE `index` used last time (its se.json), if any. */
function previousPort(baseDir: string, index: number): number | null {
  try {
    const se = JSON.parse(fs.readFileSync(path.join(baseDir, `se${index}`, 'se.json'), 'utf8')) as { port?: unknown };
    return typeof se.port === 'number' ? se.port : null;
  } catch {
    return null;
  }
}

/** Whether nothing listens on `port` (xrootd binds every interface, so we test the same). */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, () => srv.close(() => resolve(true)));
  });
}

async function startOne(baseDir: string, index: number, log: (line: string) => void): Promise<SE> {
  const before = previousPort(baseDir, index);
  if (before !== null && (await portFree(before))) {
    try {
      return await startStorageElement(baseDir, index, before, { ownerPid: process.pid });
    } catch {
      /* taken between the check and the start: fall through to a new port */
    }
  }
  const port = await freePort();
  if (before !== null)
    log(`storage element se${index}: port ${before} is busy, moving to ${port} (site documents updated)`);
  return startStorageElement(baseDir, index, port, { ownerPid: process.pid });
}

async function startXrootdSites(baseDir: string, log: (line: string) => void): Promise<DemoStorage> {
  fs.mkdirSync(baseDir, { recursive: true });
  // A start that was killed may have left its servers behind: never two on one data directory.
  await stopStorageElements(baseDir);
  const started = await Promise.allSettled(DEMO_SITES.map((_, i) => startOne(baseDir, i, log)));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await stopStorageElements(baseDir);
    throw failed.reason;
  }
  const ses = started.map((r) => (r as PromiseFulfilledResult<SE>).value);
  const sites = ses.map((se, i): DemoSite => {
    const { uid, gid } = fs.statSync(se.dataDir);
    return {
      name: DEMO_SITES[i],
      protocol: 'root',
      endpoint: se.rootUrl,
      tfcResult: `${se.rootUrl}//$1`,
      dir: se.dataDir,
      owner: process.getuid?.() === 0 ? { uid, gid } : null,
      se,
    };
  });
  return { mode: 'xrootd', backend: 'gfal2', sites, stop: async () => void (await stopStorageElements(baseDir)) };
}

/**
 * Writes `data` at the site's local path of `lfn`. Files an SE serves belong to the SE's user,
 * as if a job had written them through it (xrootd refuses to overwrite or read others' files).
 */
export function writeSiteFile(site: DemoSite, lfn: string, data: Buffer): string {
  const file = path.join(site.dir, lfn);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
  if (site.owner) {
    const { uid, gid } = site.owner;
    for (let d = path.dirname(file); d.startsWith(site.dir + path.sep); d = path.dirname(d)) fs.chownSync(d, uid, gid);
    fs.chownSync(file, uid, gid);
  }
  return file;
}
