/**
 * scripts/se/xrootd.ts: storage elements start, answer, report status, stop by pidfile, and stop
 * by themselves when their owner process disappears.
 */
import { execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import {
  main,
  pfn,
  startStorageElements,
  statusStorageElements,
  stopStorageElements,
} from '../../../scripts/se/xrootd';
import { checkEndpoint } from '../../../scripts/ops/doctor';

const XRD_ENV = { ...process.env, XRD_CONNECTIONRETRY: '1', XRD_CONNECTIONWINDOW: '2', XRD_REQUESTTIMEOUT: '5' };
/** Runs an XRootD client; true when it exits 0. */
const xrd = (cmd: 'xrdfs' | 'xrdcp', ...args: string[]) =>
  spawnSync(`/usr/bin/${cmd}`, args, { env: XRD_ENV, stdio: 'ignore', timeout: 20_000 }).status === 0;

/**
 * Another client address, without another host or any traffic off this machine: 127.0.0.2 is a
 * loopback address too, but not 127.0.0.1, so the server's allow-list sees a stranger exactly as
 * it would see a remote host.
 */
const OTHER = '127.0.0.2';

/** Sends the XRootD handshake (20 bytes) and resolves to the bytes the server sent before it closed. */
function handshake(host: string, port: number, localAddress?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const sock = net.connect({ host, port, ...(localAddress ? { localAddress } : {}) }, () =>
      sock.write(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 7, 220])),
    );
    sock.on('data', (b) => {
      got += b.length;
      sock.destroy();
      resolve(got);
    });
    sock.on('error', () => resolve(got)); // reset by the server
    sock.on('close', () => resolve(got));
    sock.setTimeout(10_000, () => {
      sock.destroy();
      reject(new Error(`no answer and no close from ${host}:${port} in 10 s`));
    });
  });
}

const xrdfsOk = (url: string) => {
  try {
    execFileSync('/usr/bin/xrdfs', [url, 'query', 'config', 'version'], {
      env: { ...process.env, XRD_CONNECTIONRETRY: '1', XRD_CONNECTIONWINDOW: '2' },
      stdio: 'ignore',
    });
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

  it('serve 127.0.0.1 only: from another client address the connection is dropped', async () => {
    const [se] = await startStorageElements({ count: 1, baseDir: dir });
    fs.mkdirSync(path.join(se.dataDir, 'store/user/alice'), { recursive: true });
    fs.writeFileSync(path.join(se.dataDir, 'store/user/alice/f.root'), 'alice');

    expect(await handshake('127.0.0.1', se.port)).toBeGreaterThan(0); // the handshake is answered here
    expect(xrd('xrdfs', `root://127.0.0.1:${se.port}`, 'ls', '/store/user/alice')).toBe(true);
    expect(await handshake('127.0.0.1', se.port, OTHER)).toBe(0); // and dropped unanswered from elsewhere
    expect(fs.readdirSync(path.join(se.dataDir, 'store/user/alice'))).toEqual(['f.root']);
    // refused by the server itself, not by a missing route
    expect(fs.readFileSync(path.join(se.dir, 'xrootd.log'), 'utf8')).toMatch(
      new RegExp(`Unable to accept TCP connection from \\[(::ffff:)?${OTHER.replace(/\./g, '\\.')}\\]`),
    );
  });

  it('serve only the exported namespace under the storage root', async () => {
    const [se] = await startStorageElements({ count: 1, baseDir: dir });
    const url = (p: string) => `${se.rootUrl}/${p}`;
    // inside the storage root, but outside the export: present, so a refusal is not a missing file
    fs.mkdirSync(path.join(se.dataDir, 'etc'));
    fs.writeFileSync(path.join(se.dataDir, 'etc/passwd'), 'not exported');
    fs.writeFileSync(path.join(dir, 'mine'), 'mallory');
    const seDirMode = fs.statSync(se.dir).mode;

    expect(xrd('xrdcp', '-f', url('/etc/passwd'), path.join(dir, 'read'))).toBe(false);
    expect(xrd('xrdcp', '-f', path.join(dir, 'mine'), url('/etc/passwd'))).toBe(false);
    expect(xrd('xrdcp', '-f', path.join(dir, 'mine'), url('/etc/new'))).toBe(false);
    expect(xrd('xrdfs', se.rootUrl, 'ls', '/')).toBe(false);
    // XRootD refuses `/../` inside a path but not a trailing `/..`: with `/` exported that is the SE's directory
    expect(xrd('xrdfs', se.rootUrl, 'ls', '/..')).toBe(false);
    expect(xrd('xrdfs', se.rootUrl, 'chmod', '/..', 'rwxrwxrwx')).toBe(false);
    expect(xrd('xrdcp', '-f', url('/../xrootd.cfg'), path.join(dir, 'cfg'))).toBe(false);
    expect(fs.statSync(se.dir).mode).toBe(seDirMode);
    expect(fs.readFileSync(path.join(se.dataDir, 'etc/passwd'), 'utf8')).toBe('not exported');
    expect(fs.readdirSync(path.join(se.dataDir, 'etc'))).toEqual(['passwd']);
    expect(['read', 'cfg'].filter((f) => fs.existsSync(path.join(dir, f)))).toEqual([]);

    // the namespace itself works, read and write, and `..` in it stays inside the storage root
    expect(xrd('xrdcp', '-f', path.join(dir, 'mine'), url('/store/user/m/f'))).toBe(true);
    expect(fs.readFileSync(path.join(se.dataDir, 'store/user/m/f'), 'utf8')).toBe('mallory');
    expect(xrd('xrdcp', '-f', url('/store/user/m/f'), path.join(dir, 'back'))).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'back'), 'utf8')).toBe('mallory');
  });

  it('are reachable for doctor at their bare endpoint, which is not exported', async () => {
    const [se] = await startStorageElements({ count: 1, baseDir: dir });
    expect(await checkEndpoint(se.rootUrl)).toEqual({ ok: true, message: 'xrdfs query ok' });
    expect(await checkEndpoint(`${se.rootUrl}//store`)).toMatchObject({ ok: false }); // nothing written there yet
    fs.mkdirSync(path.join(se.dataDir, 'store'));
    expect(await checkEndpoint(`${se.rootUrl}//store`)).toEqual({ ok: true, message: 'xrdfs stat ok' });
    await stopStorageElements(dir);
    expect(await checkEndpoint(se.rootUrl)).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^xrdfs query config version failed/),
    });
  });

  it('refuse an export that is not an absolute, normalised path', async () => {
    for (const e of ['/', 'store', '/store/../..', '/store/', '/st ore']) {
      await expect(startStorageElements({ count: 1, baseDir: dir, exports: [e] })).rejects.toThrow(
        /not an absolute, normalised path/,
      );
    }
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
