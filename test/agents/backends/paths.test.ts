/**
 * Every backend refuses, on its own, a URL whose path is not already clean: the native backend
 * (no percent-decoding or URL parsing, which turned `%2e%2e` into `..`), the gfal2 backend's TS
 * side, and the gfal2 helper spoken to directly (`?` would be XRootD CGI, `%2e%2e` a step up).
 * Real files and a real XRootD storage element; each refusal is fatal and touches nothing.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as readline from 'readline';
import { adler32Hex } from '../../support/adler32';
import { listFiles } from '../../support/hostile';
import { createBackend } from '../../../agents/backends';
import { findHelper } from '../../../agents/backends/gfal2';
import type { TransferBackend } from '../../../agents/backends/types';
import { startStorageElements, stopStorageElements, type SE } from '../../../scripts/se/xrootd';

describe('backends refuse URLs that are not clean paths', () => {
  let dir: string;
  let root: string;
  let secret: string;
  let se: SE;
  let gfal2: TransferBackend;
  const native = createBackend('native');
  const body = Buffer.from('{"admin":"-pbkdf2-hash"}');

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-paths-'));
    root = path.join(dir, 'root');
    fs.mkdirSync(path.join(root, 'store/user/alice'), { recursive: true });
    fs.writeFileSync(path.join(root, 'store/user/alice/a.root'), 'alice data');
    secret = path.join(dir, 'server.json');
    fs.writeFileSync(secret, body, { mode: 0o600 });
    [se] = await startStorageElements({ count: 1, baseDir: path.join(dir, 'se'), ownerPid: process.pid });
    gfal2 = createBackend('gfal2');
  });
  afterAll(async () => {
    await gfal2?.close();
    await stopStorageElements(path.join(dir, 'se'));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Every file in the test's directory but the storage element's own logs and state, which change as it serves. */
  const snapshot = () => new Map([...listFiles(dir)].filter(([k]) => !k.startsWith('se/') || k.includes('/data/')));

  it.each([
    ['%2e%2e out of the root', (r: string) => `file://${r}/store/user/alice/%2e%2e/%2e%2e/%2e%2e/server.json`],
    ['..%2F out of the root', (r: string) => `file://${r}/store/user/alice/..%2F..%2F..%2Fserver.json`],
    ['a literal .. segment', (r: string) => `file://${r}/store/user/alice/../../../server.json`],
    ['a ? in the path', (r: string) => `file://${r}/../server.json?x`],
  ])('native: copying from %s is fatal and copies nothing', async (_l, url) => {
    const before = snapshot();
    const [r] = await native.copy([
      {
        id: 'x',
        source: url(root),
        destination: `file://${root}/store/user/alice/stolen.json`,
        adler32: adler32Hex(body),
      },
    ]);
    expect({ ok: r.ok, cls: r.errorClass, error: r.error }).toEqual({
      ok: false,
      cls: 'fatal',
      error: expect.stringMatching(/^EINVAL: invalid URL .*: not a clean absolute path/),
    });
    expect(snapshot()).toEqual(before);
  });

  it('native: writing to %2e%2e, removing and stat-ing through it touch nothing outside the root', async () => {
    const before = snapshot();
    const [w] = await native.copy([
      {
        id: 'w',
        source: `file://${root}/store/user/alice/a.root`,
        destination: `file://${root}/store/user/alice/%2e%2e/%2e%2e/%2e%2e/planted.root`,
        adler32: adler32Hex(Buffer.from('alice data')),
      },
    ]);
    expect({ ok: w.ok, cls: w.errorClass }).toEqual({ ok: false, cls: 'fatal' });
    const [rm] = await native.remove([`file://${root}/store/user/alice/%2e%2e/%2e%2e/%2e%2e/server.json`]);
    expect({ ok: rm.ok, cls: rm.errorClass }).toEqual({ ok: false, cls: 'fatal' });
    const [st] = await native.stat([`file://${root}/%2e%2e/server.json`], true);
    expect({ exists: st.exists, adler32: st.adler32, error: st.error }).toEqual({
      exists: false,
      adler32: undefined,
      error: expect.stringMatching(/EINVAL/),
    });
    expect(snapshot()).toEqual(before);
    expect(fs.readFileSync(secret)).toEqual(body);
  });

  it('gfal2: a ? (CGI) or %2e%2e in a root:// URL is fatal before the helper sees it, and nothing is written', async () => {
    const before = snapshot();
    const src = `file://${root}/store/user/alice/a.root`;
    const sum = adler32Hex(Buffer.from('alice data'));
    const res = await gfal2.copy([
      { id: 'cgi', source: src, destination: `${se.rootUrl}//store/user/alice/q.root?oss.asize=10`, adler32: sum },
      {
        id: 'dots',
        source: src,
        destination: `${se.rootUrl}//store/user/alice/%2e%2e/%2e%2e/bob/v.root`,
        adler32: sum,
      },
      { id: 'good', source: src, destination: `${se.rootUrl}//store/user/alice/ok.root`, adler32: sum },
    ]);
    expect(res.map((r) => ({ id: r.id, ok: r.ok, cls: r.errorClass ?? null }))).toEqual([
      { id: 'cgi', ok: false, cls: 'fatal' },
      { id: 'dots', ok: false, cls: 'fatal' },
      { id: 'good', ok: true, cls: null },
    ]);
    expect(res[0].error).toMatch(/not a clean absolute path \(must not contain % \? #/);
    const added = [...snapshot().keys()].filter((k) => !before.has(k) && k.includes('/data/'));
    expect(added).toEqual(['se/se0/data/store/user/alice/ok.root']);
    const [rm] = await gfal2.remove([`${se.rootUrl}//store/user/alice/%2e%2e/alice/ok.root`]);
    expect({ ok: rm.ok, cls: rm.errorClass }).toEqual({ ok: false, cls: 'fatal' });
    expect(fs.existsSync(path.join(se.dataDir, 'store/user/alice/ok.root'))).toBe(true);
  });

  it('native and gfal2: a symbolic link inside the root to a file or directory outside it is refused, given the roots', async () => {
    fs.symlinkSync(secret, path.join(root, 'store/user/alice/link.root'));
    fs.symlinkSync(dir, path.join(root, 'store/user/alice/up'));
    const before = snapshot();
    const roots = { source: `file://${root}`, destination: `file://${root}` };
    const sum = adler32Hex(body);
    for (const backend of [native, gfal2]) {
      const res = await backend.copy([
        {
          id: 'src',
          source: `file://${root}/store/user/alice/link.root`,
          destination: `file://${root}/store/user/alice/copy.json`,
          adler32: sum,
          roots,
        },
        {
          id: 'dst',
          source: `file://${root}/store/user/alice/a.root`,
          destination: `file://${root}/store/user/alice/up/planted.root`,
          adler32: adler32Hex(Buffer.from('alice data')),
          roots,
        },
      ]);
      expect(res.map((r) => ({ backend: backend.name, ok: r.ok, cls: r.errorClass, error: r.error }))).toEqual([
        {
          backend: backend.name,
          ok: false,
          cls: 'fatal',
          error: expect.stringMatching(
            /^EPERM: permission denied: source .*link\.root resolves to .*server\.json, outside the storage root/,
          ),
        },
        {
          backend: backend.name,
          ok: false,
          cls: 'fatal',
          error: expect.stringMatching(
            /^EPERM: permission denied: destination .*alice\/up resolves to .*, outside the storage root/,
          ),
        },
      ]);
    }
    expect(snapshot()).toEqual(before);
  });

  it('the gfal2 helper itself refuses ? # %2e%2e .. and // in copy, stat and remove', async () => {
    const helper = spawn('/usr/bin/python3', [findHelper()], { stdio: ['pipe', 'pipe', 'ignore'] });
    const lines = readline.createInterface({ input: helper.stdout! })[Symbol.asyncIterator]();
    const ask = async (req: object) => {
      helper.stdin!.write(JSON.stringify(req) + '\n');
      return JSON.parse((await lines.next()).value);
    };
    try {
      const before = snapshot();
      const src = `file://${root}/store/user/alice/a.root`;
      const sum = adler32Hex(Buffer.from('alice data'));
      const bad = [
        `${se.rootUrl}//store/user/alice/h.root?oss.asize=10`,
        `${se.rootUrl}//store/user/alice/h.root#f`,
        `${se.rootUrl}//store/user/alice/%2e%2e/h.root`,
        `${se.rootUrl}//store/user/../h.root`,
        `${se.rootUrl}//store//h.root`,
      ];
      const copy = await ask({
        op: 'copy',
        id: 1,
        files: bad.map((destination) => ({ source: src, destination, adler32: sum })),
      });
      expect(
        copy.results.map((r: { ok: boolean; errno: number; error: string }) => ({
          ok: r.ok,
          errno: r.errno,
          clean: /not a clean absolute path/.test(r.error),
        })),
      ).toEqual(bad.map(() => ({ ok: false, errno: 22, clean: true })));
      const stat = await ask({
        op: 'stat',
        id: 2,
        urls: [`file://${root}/%2e%2e/server.json`, `file://${root}/../server.json`],
        checksum: true,
      });
      expect(
        stat.results.map((r: { exists: boolean; adler32?: string; errno: number }) => ({
          exists: r.exists,
          adler32: r.adler32 ?? null,
          errno: r.errno,
        })),
      ).toEqual([
        { exists: false, adler32: null, errno: 22 },
        { exists: false, adler32: null, errno: 22 },
      ]);
      const rm = await ask({ op: 'remove', id: 3, urls: [`file://${root}/store/user/alice/../../../server.json`] });
      expect(rm.results[0]).toMatchObject({ ok: false, errno: 22 });
      expect(snapshot()).toEqual(before);
      expect(fs.readFileSync(secret)).toEqual(body);
    } finally {
      helper.stdin!.end();
      await new Promise((r) => helper.once('exit', r));
    }
  });
});
