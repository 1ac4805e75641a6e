/**
 * The gfal2 backend against two real XRootD storage elements and the real gfal2 binding. No mocks;
 * and no skipping: CI installs python3-gfal2, so a missing binding is a failure.
 */
import { execFileSync, spawn } from 'child_process';
import * as readline from 'readline';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { adler32 } from '../../../agents/backends/adler32';
import { createBackend, gfal2Available } from '../../../agents/backends';
import { findHelper, type Gfal2Backend } from '../../../agents/backends/gfal2';
import type { CopyRequest } from '../../../agents/backends/types';
import {
  pfn,
  startStorageElement,
  startStorageElements,
  stopStorageElement,
  stopStorageElements,
  type SE,
} from '../../../scripts/se/xrootd';

const N = 200;
const xrdfsChecksum = (se: SE, p: string) =>
  execFileSync('/usr/bin/xrdfs', [se.rootUrl, 'query', 'checksum', `/${p}`])
    .toString()
    .trim()
    .split(/\s+/)[1];
/** Logins on an SE by the SEs' own user (xrootd, when we run as root): the pulling side of a TPC. */
const tpcLogins = (se: SE) =>
  (fs.readFileSync(path.join(se.dir, 'xrootd.log'), 'utf8').match(/XrootdXeq: xrootd\.\d+:\S+ pvt \S+ login/g) ?? [])
    .length;
const asRoot = process.getuid?.() === 0;
const children = (pid: number) => fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('gfal2 backend on XRootD', () => {
  let dir: string;
  let ses: SE[];
  let backend: Gfal2Backend;
  const logs: string[] = [];
  const local: Array<{ name: string; path: string; adler32: string; size: number }> = [];
  const toSe0 = (f: (typeof local)[0]): CopyRequest => ({
    id: f.name,
    source: `file://${f.path}`,
    destination: pfn(ses[0], `store/in/${f.name}`),
    size: f.size,
    adler32: f.adler32,
  });
  const se0to1 = (f: (typeof local)[0], sub: string): CopyRequest => ({
    ...toSe0(f),
    source: pfn(ses[0], `store/in/${f.name}`),
    destination: pfn(ses[1], `store/${sub}/${f.name}`),
  });

  beforeAll(async () => {
    expect(gfal2Available()).toBe(true); // fail, never skip
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-gfal2-'));
    ses = await startStorageElements({ count: 2, baseDir: path.join(dir, 'se'), ownerPid: process.pid });
    fs.mkdirSync(path.join(dir, 'src'));
    for (let i = 0; local.length < N; i++) {
      const data = randomBytes(500 + ((i * 7919) % 4000));
      const sum = adler32(data);
      // keep a few files whose checksum starts with 0: gfal2 strips leading zeros before comparing
      if (local.length < 3 && !sum.startsWith('0')) continue;
      const p = path.join(dir, 'src', `f${local.length}`);
      fs.writeFileSync(p, data);
      local.push({ name: `f${local.length}`, path: p, adler32: sum, size: data.length });
    }
    backend = createBackend('gfal2', { log: (l) => logs.push(l) }) as Gfal2Backend;
  });
  afterAll(async () => {
    await backend?.close();
    if (dir) await stopStorageElements(path.join(dir, 'se'));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('copies file:// -> root:// in bulk with verified checksums', async () => {
    const t0 = Date.now();
    const results = await backend.copy(local.map(toSe0));
    const ms = Date.now() - t0;
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(results.map((r) => r.adler32)).toEqual(local.map((f) => f.adler32));
    for (const f of local)
      expect(adler32(fs.readFileSync(path.join(ses[0].dataDir, 'store/in', f.name)))).toBe(f.adler32);
    console.log(`file->root bulk: ${N} files in ${ms} ms (${(ms / N).toFixed(2)} ms/file, helper start included)`);
  });

  it('copies file:// -> file:// in bulk with adler32 verification, also in a batch with root:// files', async () => {
    const to = (f: (typeof local)[0], sub: string) => `file://${dir}/dst/${sub}/${f.name}`;
    const few = local.slice(0, 20);
    const results = await backend.copy(few.map((f) => ({ ...toSe0(f), destination: to(f, 'bulk') })));
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(results.map((r) => r.adler32)).toEqual(few.map((f) => f.adler32));
    for (const f of few) expect(adler32(fs.readFileSync(path.join(dir, 'dst/bulk', f.name)))).toBe(f.adler32);

    // local pairs first, then root:// ones and a wrong checksum: gfal2 picks its bulk copier from the first pair
    const mixed: CopyRequest[] = [
      { ...toSe0(local[0]), destination: to(local[0], 'mixed') },
      { ...toSe0(local[1]), destination: pfn(ses[0], `store/mixed-local/${local[1].name}`) },
      { ...toSe0(local[2]), destination: to(local[2], 'mixed'), adler32: '0badc0de' },
      { ...toSe0(local[3]), destination: to(local[3], 'mixed') },
    ];
    const out = await backend.copy(mixed);
    expect(out.map((r) => r.ok)).toEqual([true, true, false, true]);
    expect(out[2].error).toContain(`checksum mismatch: expected 0badc0de, source has ${local[2].adler32}`);
    expect(fs.existsSync(path.join(dir, 'dst/mixed', local[2].name))).toBe(false);
    for (const f of [local[0], local[3]])
      expect(adler32(fs.readFileSync(path.join(dir, 'dst/mixed', f.name)))).toBe(f.adler32);
    expect(xrdfsChecksum(ses[0], `store/mixed-local/${local[1].name}`).padStart(8, '0')).toBe(local[1].adler32);
  });

  it('copies 200 files root:// -> root:// in stream mode, verified by stat and by xrdfs', async () => {
    const logins = tpcLogins(ses[0]);
    const t0 = Date.now();
    const results = await backend.copy(
      local.map((f) => se0to1(f, 'stream')),
      { mode: 'stream' },
    );
    const ms = Date.now() - t0;
    expect(results.filter((r) => !r.ok)).toEqual([]);
    const stats = await backend.stat(
      local.map((f) => pfn(ses[1], `store/stream/${f.name}`)),
      true,
    );
    expect(stats.map((s) => [s.exists, s.size, s.adler32])).toEqual(local.map((f) => [true, f.size, f.adler32]));
    for (const f of local.slice(0, 10)) expect(xrdfsChecksum(ses[1], `store/stream/${f.name}`)).toBe(f.adler32);
    if (asRoot) expect(tpcLogins(ses[0])).toBe(logins); // no third-party copy: the data came through us
    console.log(`root->root stream bulk: ${N} files in ${ms} ms (${(ms / N).toFixed(2)} ms/file)`);
  });

  it('copies root:// -> root:// in tpc mode', async () => {
    const few = local.slice(0, 4);
    const logins = tpcLogins(ses[0]);
    const t0 = Date.now();
    const results = await backend.copy(
      few.map((f) => se0to1(f, 'tpc')),
      { mode: 'tpc' },
    );
    const s = (Date.now() - t0) / 1000;
    expect(results.filter((r) => !r.ok)).toEqual([]);
    for (const f of few) expect(xrdfsChecksum(ses[1], `store/tpc/${f.name}`)).toBe(f.adler32);
    if (asRoot) expect(tpcLogins(ses[0]) - logins).toBeGreaterThanOrEqual(few.length); // se1 pulled from se0
    console.log(`root->root tpc: ${few.length} files (parallel) in ${s.toFixed(2)} s`);
  });

  it('reports a corrupted source as a transient checksum mismatch with both values, amid good files', async () => {
    const batch = local.slice(0, 20).map((f) => se0to1(f, 'mixed'));
    batch[7] = { ...batch[7], adler32: 'deadbeef' };
    batch[12] = { ...batch[12], source: pfn(ses[0], 'store/in/does-not-exist') };
    const fileBatch = [{ ...toSe0(local[3]), destination: pfn(ses[1], 'store/mixed/local3'), adler32: '0badc0de' }];
    const results = await backend.copy([...batch, ...fileBatch]);
    expect(results[7]).toMatchObject({ ok: false, errorClass: 'transient' });
    expect(results[7].error).toContain(`checksum mismatch: expected deadbeef, source has ${local[7].adler32}`);
    expect(results[12]).toMatchObject({ ok: false, errorClass: 'fatal' });
    expect(results[20].error).toContain(`checksum mismatch: expected 0badc0de, source has ${local[3].adler32}`);
    expect(results.filter((r) => r.ok).length).toBe(18);
    const [corrupt] = await backend.stat([pfn(ses[1], `store/mixed/${local[7].name}`)]);
    expect(corrupt.exists).toBe(false); // a mismatching copy is not left at the destination
  });

  it('fails missing sources as fatal and bad requests as fatal, without crashing the helper', async () => {
    const pid = backend.pid;
    const results = await backend.copy([
      { id: 'a', source: `file://${dir}/src/nope`, destination: pfn(ses[1], 'store/x/a'), adler32: '00000001' },
      { id: 'b', source: pfn(ses[0], 'store/nope'), destination: pfn(ses[1], 'store/x/b'), adler32: '00000001' },
      { id: 'c', source: `file://${local[0].path}`, destination: pfn(ses[1], 'store/x/c'), adler32: '' },
      { id: 'd', source: `file://${local[0].path}`, destination: 'gopher://x/y', adler32: local[0].adler32 },
      // outside the SE's export (its LFN namespace), though inside its storage root
      { id: 'e', source: `file://${local[0].path}`, destination: pfn(ses[1], 'etc/e'), adler32: local[0].adler32 },
      { id: 'f', source: pfn(ses[0], '..'), destination: pfn(ses[1], 'store/x/f'), adler32: local[0].adler32 },
    ]);
    expect(results.map((r) => [r.id, r.ok, r.errorClass])).toEqual([
      ['a', false, 'fatal'],
      ['b', false, 'fatal'],
      ['c', false, 'fatal'],
      ['d', false, 'fatal'],
      ['e', false, 'fatal'],
      ['f', false, 'fatal'],
    ]);
    expect(results[4].error).toMatch(/disallowed/);
    expect(fs.existsSync(path.join(ses[1].dataDir, 'etc'))).toBe(false);
    expect(backend.pid).toBe(pid);
  });

  it('fails fast and transiently when an SE is down, and works again once it is back', async () => {
    await stopStorageElement(ses[1]);
    let t0 = Date.now();
    const down = await backend.copy(local.slice(0, 5).map((f) => se0to1(f, 'down')));
    const seconds = (Date.now() - t0) / 1000;
    expect(down.every((r) => !r.ok && r.errorClass === 'transient')).toBe(true);
    expect(seconds).toBeLessThan(30);
    console.log(`dead SE (connection refused) detected in ${seconds.toFixed(3)} s: ${down[0].error}`);
    const [st] = await backend.stat([pfn(ses[1], 'store/stream/f0')]);
    expect(st.exists).toBe(false);
    expect(st.error).toMatch(/refused/i);

    // An SE that accepts connections but never answers (hung server): bounded by the XRD_* timeouts.
    const hung = net.createServer(() => undefined).listen(0, '127.0.0.1');
    await new Promise((r) => hung.once('listening', r));
    const port = (hung.address() as net.AddressInfo).port;
    t0 = Date.now();
    const silent = await backend.copy([{ ...toSe0(local[0]), destination: `root://127.0.0.1:${port}//x/f0` }]);
    const hungSeconds = (Date.now() - t0) / 1000;
    hung.close();
    expect(silent[0]).toMatchObject({ ok: false, errorClass: 'transient' });
    expect(hungSeconds).toBeLessThan(30);
    console.log(`hung SE detected in ${hungSeconds.toFixed(3)} s: ${silent[0].error}`);

    ses[1] = await startStorageElement(path.join(dir, 'se'), 1, ses[1].port, { ownerPid: process.pid });
    const up = await backend.copy(local.slice(0, 5).map((f) => se0to1(f, 'down')));
    expect(up.filter((r) => !r.ok)).toEqual([]);
  });

  it('resolves the batch as transient when the helper is killed mid-batch, then restarts it', async () => {
    await backend.ping();
    const pid = backend.pid!;
    const pending = backend.copy(local.map((f) => se0to1(f, 'killed')));
    await waitFor(() => children(pid) !== ''); // a copy child is at work
    process.kill(pid, 'SIGKILL');
    const results = await pending;
    expect(results).toHaveLength(N);
    expect(
      results.every((r) => !r.ok && r.errorClass === 'transient' && r.error === 'gfal2 helper died (signal SIGKILL)'),
    ).toBe(true);
    const again = await backend.copy(local.slice(0, 10).map((f) => se0to1(f, 'killed')));
    expect(again.filter((r) => !r.ok)).toEqual([]);
    expect(backend.pid).not.toBe(pid);
  });

  it('redoes the files of a stream child killed mid-batch, one per call, and every copy arrives verified', async () => {
    await backend.ping();
    const pid = backend.pid!;
    logs.length = 0;
    const pending = backend.copy(
      local.map((f) => se0to1(f, 'child-killed')),
      { mode: 'stream' },
    );
    await waitFor(() => children(pid) !== ''); // the stream children (threads inside) are at work
    const victim = Number(children(pid).split(/\s+/)[0]);
    process.kill(victim, 'SIGKILL');
    const results = await pending;
    expect(backend.pid).toBe(pid); // the helper itself survived
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(logs.some((l) => /stream child of a 200-file copy ended with signal SIGKILL/.test(l))).toBe(true);
    // the server's own checksum of every copy (one stat request), and xrdfs's for a sample
    const sums = await backend.stat(
      local.map((f) => pfn(ses[1], `store/child-killed/${f.name}`)),
      true,
    );
    expect(sums.map((x) => x.adler32)).toEqual(local.map((f) => f.adler32));
    for (const f of local.slice(0, 5))
      expect(xrdfsChecksum(ses[1], `store/child-killed/${f.name}`).padStart(8, '0')).toBe(f.adler32);
  });

  it('resolves an aborted batch as transient "cancelled", and the next batch works', async () => {
    await backend.ping();
    const pid = backend.pid!;
    const ac = new AbortController();
    const pending = backend.copy(
      local.map((f) => se0to1(f, 'aborted')),
      { signal: ac.signal },
    );
    await waitFor(() => children(pid) !== '');
    ac.abort();
    const results = await pending;
    expect(results.every((r) => !r.ok && r.errorClass === 'transient' && r.error === 'cancelled')).toBe(true);
    const again = await backend.copy(local.slice(0, 10).map((f) => se0to1(f, 'aborted')));
    expect(again.filter((r) => !r.ok)).toEqual([]);
  });

  it('helper answers bad input with errors and keeps serving', async () => {
    const helper = spawn('/usr/bin/python3', [findHelper()], { stdio: ['pipe', 'pipe', 'ignore'] });
    const lines = readline.createInterface({ input: helper.stdout! })[Symbol.asyncIterator]();
    const ask = async (line: string) => {
      helper.stdin!.write(line + '\n');
      return JSON.parse((await lines.next()).value);
    };
    expect(await ask('garbage{')).toMatchObject({ id: null, ok: false });
    expect(await ask('[1, 2]')).toMatchObject({ id: null, ok: false, error: expect.stringMatching(/not an object/) });
    expect(await ask('{"op": "frobnicate", "id": 3}')).toMatchObject({
      id: 3,
      ok: false,
      error: expect.stringMatching(/unknown op/),
    });
    expect(await ask('{"op": "copy", "id": 4}')).toMatchObject({ id: 4, ok: false });
    const odd = await ask(
      '{"op": "copy", "id": 5, "files": [{"source": 1}, "x", {"source": "file:///a", "destination": "root://h//b", "adler32": null}]}',
    );
    expect(odd.ok).toBe(true);
    expect(odd.results.map((r: { ok: boolean }) => r.ok)).toEqual([false, false, false]);
    expect(await ask('{"op": "ping", "id": 6}')).toMatchObject({ id: 6, ok: true, gfal2: expect.any(String) });
    helper.stdin!.end();
    await new Promise((r) => helper.once('exit', r));
  });

  it('removes idempotently', async () => {
    const url = pfn(ses[1], `store/stream/${local[0].name}`);
    expect(await backend.remove([url])).toEqual([{ url, ok: true, existed: true }]);
    expect(await backend.remove([url])).toEqual([{ url, ok: true, existed: false }]);
    expect((await backend.stat([url]))[0]).toEqual({ url, exists: false });
  });
});
