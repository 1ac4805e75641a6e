/**
 * scripts/se/xrootd.ts: storage elements start, answer, report status, stop by pidfile, and stop
 * by themselves when their owner process disappears.
 */
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main, pfn, startStorageElements, statusStorageElements, stopStorageElements } from '../../scripts/se/xrootd';

const xrdfsOk = (url: string) => {
  try {
    execFileSync('/usr/bin/xrdfs', [url, 'ls', '/'], { env: { ...process.env, XRD_CONNECTIONRETRY: '1', XRD_CONNECTIONWINDOW: '2' }, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

describe('XRootD storage elements', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-se-'))));
  afterEach(async () => {
    jest.restoreAllMocks();
    await stopStorageElements(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('start, answer, report status and stop by pidfile', async () => {
    jest.spyOn(console, 'log').mockImplementation(() => undefined); // main() prints JSON status
    const ses = await startStorageElements({ count: 2, baseDir: dir });
    expect(ses.map((s) => s.name)).toEqual(['se0', 'se1']);
    expect(new Set(ses.map((s) => s.port)).size).toBe(2);
    for (const se of ses) {
      expect(se.rootUrl).toBe(`root://127.0.0.1:${se.port}`);
      expect(fs.existsSync(se.dataDir)).toBe(true);
      expect(xrdfsOk(se.rootUrl)).toBe(true);
    }
    expect(pfn(ses[0], '/store/user/x.root')).toBe(`root://127.0.0.1:${ses[0].port}//store/user/x.root`);
    expect(statusStorageElements(dir).map((s) => s.running)).toEqual([true, true]);
    expect(await main(['status', '--base-dir', dir])).toBe(0);
    expect(await stopStorageElements(dir)).toBe(2);
    expect(statusStorageElements(dir).map((s) => s.running)).toEqual([false, false]);
    expect(ses.some((se) => xrdfsOk(se.rootUrl))).toBe(false);
    expect(await stopStorageElements(dir)).toBe(0); // idempotent
    expect(await main(['status', '--base-dir', dir])).toBe(1);
  });

  it('stop by themselves when the owner process exits', async () => {
    // Listen for the owner's exit before anything else: under load it may end while the SE starts.
    const owner = spawn('/bin/sleep', ['3']);
    const ownerGone = new Promise((r) => owner.once('exit', r));
    const [se] = await startStorageElements({ count: 1, baseDir: dir, ownerPid: owner.pid });
    await ownerGone;
    const end = Date.now() + 10_000; // watchdog polls every 1 s, then SIGTERM
    while (statusStorageElements(dir)[0].running && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    expect(statusStorageElements(dir)[0].running).toBe(false);
    expect(xrdfsOk(se.rootUrl)).toBe(false);
  });
});
