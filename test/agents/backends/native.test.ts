/**
 * The native file:// backend on real files: verified copies, checksum mismatch, missing source,
 * overwrite, cancellation, idempotent remove, stat.
 */
import { execFileSync } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { adler32 } from '../../../agents/backends/adler32';
import { createBackend } from '../../../agents/backends';
import type { CopyRequest, TransferBackend } from '../../../agents/backends/types';

const url = (p: string) => `file://${p}`;
const xrdadler32 = (p: string) => execFileSync('/usr/bin/xrdadler32', [p]).toString().split(/\s+/)[0];

describe('native backend', () => {
  let dir: string;
  let backend: TransferBackend;
  const src = (name: string) => path.join(dir, 'src', name);
  const dst = (name: string) => path.join(dir, 'dst', 'deep', 'er', name);

  function makeFile(name: string, size: number): CopyRequest {
    const data = randomBytes(size);
    fs.mkdirSync(path.dirname(src(name)), { recursive: true });
    fs.writeFileSync(src(name), data);
    return { id: name, source: url(src(name)), destination: url(dst(name)), size, adler32: adler32(data) };
  }

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-native-'));
    backend = createBackend('native');
  });
  afterEach(async () => {
    await backend.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('copies 20 files, creating parent directories, with verified checksums', async () => {
    const batch = Array.from({ length: 20 }, (_, i) => makeFile(`f${i}`, i === 0 ? 0 : 1000 + i * 997));
    batch.push(makeFile('big', 3 << 20)); // several read chunks
    const results = await backend.copy(batch);
    expect(results.map((r) => r.id)).toEqual(batch.map((r) => r.id));
    for (const [i, r] of results.entries()) {
      expect(r).toMatchObject({ ok: true, adler32: batch[i].adler32, bytes: batch[i].size });
      expect(xrdadler32(dst(batch[i].id))).toBe(batch[i].adler32);
    }
    expect(fs.readdirSync(path.dirname(dst('f0'))).filter((f) => f.endsWith('.part'))).toEqual([]);
  });

  it('refuses a source whose checksum differs: transient, both values, nothing left behind', async () => {
    const r = makeFile('bad', 5000);
    const actual = r.adler32;
    const [res] = await backend.copy([{ ...r, adler32: 'deadbeef' }]);
    expect(res.ok).toBe(false);
    expect(res.errorClass).toBe('transient');
    expect(res.error).toBe(`checksum mismatch: expected deadbeef, source has ${actual}`);
    expect(fs.existsSync(dst('bad'))).toBe(false);
    expect(fs.readdirSync(path.dirname(dst('bad')))).toEqual([]);
  });

  it('fails a missing source as fatal, and reports per file without throwing', async () => {
    const good = makeFile('good', 100);
    const missing: CopyRequest = {
      id: 'missing',
      source: url(src('nope')),
      destination: url(dst('nope')),
      adler32: '00000001',
    };
    const results = await backend.copy([missing, good]);
    expect(results[0]).toMatchObject({ id: 'missing', ok: false, errorClass: 'fatal' });
    expect(results[0].error).toMatch(/does not exist/);
    expect(results[1]).toMatchObject({ id: 'good', ok: true });
  });

  it('fails unsupported URLs and malformed checksums as fatal', async () => {
    const r = makeFile('x', 10);
    const results = await backend.copy([
      { ...r, id: 'root', destination: 'root://127.0.0.1:1094//x' },
      { ...r, id: 'relative', destination: 'file://relative/x' },
      { ...r, id: 'sum', adler32: 'xyz' },
    ]);
    expect(results.map((x) => [x.id, x.ok, x.errorClass])).toEqual([
      ['root', false, 'fatal'],
      ['relative', false, 'fatal'],
      ['sum', false, 'fatal'],
    ]);
  });

  it('overwrites by default, and refuses to when overwrite is false', async () => {
    const r = makeFile('o', 100);
    fs.mkdirSync(path.dirname(dst('o')), { recursive: true });
    fs.writeFileSync(dst('o'), 'old content');
    expect((await backend.copy([r]))[0].ok).toBe(true);
    expect(adler32(fs.readFileSync(dst('o')))).toBe(r.adler32);
    const [again] = await backend.copy([r], { overwrite: false });
    expect(again.ok).toBe(false);
    expect(again.error).toMatch(/EEXIST/);
  });

  it('resolves a cancelled batch with transient "cancelled" results', async () => {
    const batch = Array.from({ length: 4 }, (_, i) => makeFile(`c${i}`, 8 << 20));
    const ac = new AbortController();
    const pending = backend.copy(batch, { signal: ac.signal });
    ac.abort();
    const results = await pending;
    expect(results.every((r) => !r.ok && r.error === 'cancelled' && r.errorClass === 'transient')).toBe(true);
    expect(fs.readdirSync(path.dirname(dst('c0'))).filter((f) => f.endsWith('.part'))).toEqual([]);
  });

  it('removes idempotently and stats with checksums', async () => {
    const r = makeFile('s', 12345);
    await backend.copy([r]);
    const [st, missing] = await backend.stat([r.destination, url(dst('absent'))], true);
    expect(st).toEqual({ url: r.destination, exists: true, size: 12345, adler32: r.adler32 });
    expect(missing).toEqual({ url: url(dst('absent')), exists: false });
    expect((await backend.stat([r.destination]))[0]).toEqual({ url: r.destination, exists: true, size: 12345 });
    expect(await backend.remove([r.destination])).toEqual([{ url: r.destination, ok: true, existed: true }]);
    expect(await backend.remove([r.destination])).toEqual([{ url: r.destination, ok: true, existed: false }]);
    expect(fs.existsSync(dst('s'))).toBe(false);
  });
});
