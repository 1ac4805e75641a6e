/**
 * The native backend: file:// URLs only (file:///absolute/path), Node streams, adler32 computed
 * while copying. A copy is written to a temporary name in the destination directory, fsynced, and
 * renamed into place only when the source's checksum matched the declared one, so a crash never
 * leaves a half-written file under the final name. For the embedded demo, tests, and sites whose
 * storage elements are mounted filesystems.
 *
 * Destination check: the bytes written are the very buffers that were checksummed, and the file is
 * fsynced before the rename, so the destination's adler32 is the source's; re-reading it would double
 * the disk reads for no extra assurance on a local filesystem.
 */
import * as fs from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { Transform, type TransformCallback } from 'stream';
import { pipeline } from 'stream/promises';
import { Adler32 } from './adler32';
import { checksumMismatch, classifyError } from './errors';
import { ADLER32_RE, type CopyOptions, type CopyRequest, type CopyResult, type RemoveResult, type StatResult, type TransferBackend } from './types';

/** Read size: 1 MiB amortises syscalls on large files and is a single read for typical job outputs. */
const CHUNK = 1 << 20;
/** Files copied at once: enough to hide per-file latency (open, fsync, rename), few enough for fds. */
const PARALLEL = 8;

export function fileUrlPath(url: string): string {
  if (!url.startsWith('file://')) {
    throw Object.assign(new Error(`unsupported protocol in ${url}: the native backend copies file:// only`), { code: 'EPROTONOSUPPORT' });
  }
  if (!url.startsWith('file:///')) throw Object.assign(new Error(`invalid URL ${url}: expected file:///absolute/path`), { code: 'EINVAL' });
  const p = decodeURIComponent(new URL(url).pathname);
  if (!path.isAbsolute(p)) throw Object.assign(new Error(`invalid URL ${url}: not an absolute path`), { code: 'EINVAL' });
  return p;
}

class ChecksumStream extends Transform {
  readonly sum = new Adler32();
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.sum.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

/** adler32 of a local file, streamed (constant memory for any size). */
export async function fileAdler32(p: string, signal?: AbortSignal): Promise<string> {
  const sum = new Adler32();
  for await (const chunk of fs.createReadStream(p, { highWaterMark: CHUNK, signal })) sum.update(chunk as Buffer);
  return sum.hex();
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await fs.promises.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function failure(r: CopyRequest, t0: number, error: string, errorClass: 'fatal' | 'transient'): CopyResult {
  return { id: r.id, ok: false, seconds: (Date.now() - t0) / 1000, error, errorClass };
}

async function copyOne(r: CopyRequest, overwrite: boolean, signal?: AbortSignal): Promise<CopyResult> {
  const t0 = Date.now();
  if (signal?.aborted) return failure(r, t0, 'cancelled', 'transient');
  let tmp: string | null = null;
  let src = '';
  try {
    const expected = String(r.adler32).toLowerCase();
    if (!ADLER32_RE.test(expected)) return failure(r, t0, `invalid adler32 ${JSON.stringify(r.adler32)}: expected 8 hex digits`, 'fatal');
    src = fileUrlPath(r.source);
    const dst = fileUrlPath(r.destination);
    await fs.promises.mkdir(path.dirname(dst), { recursive: true });
    tmp = path.join(path.dirname(dst), `.${path.basename(dst)}.${randomBytes(6).toString('hex')}.part`);
    const check = new ChecksumStream();
    // flush: fsync before close, so the data is on disk before the rename makes it visible.
    const out = fs.createWriteStream(tmp, { flags: 'wx', flush: true });
    await pipeline(fs.createReadStream(src, { highWaterMark: CHUNK }), check, out, { signal });
    const got = check.sum.hex();
    if (got !== expected) return failure(r, t0, checksumMismatch(expected, got, 'source'), 'transient');
    if (overwrite) {
      await fs.promises.rename(tmp, dst);
    } else {
      await fs.promises.link(tmp, dst); // EEXIST when present: atomic "create only"
      await fs.promises.unlink(tmp);
    }
    tmp = null;
    await fsyncDir(path.dirname(dst)); // make the rename itself durable
    return { id: r.id, ok: true, adler32: got, bytes: check.bytes, seconds: (Date.now() - t0) / 1000 };
  } catch (err) {
    if (signal?.aborted) return failure(r, t0, 'cancelled', 'transient');
    const e = err as NodeJS.ErrnoException;
    const isSource = e.code === 'ENOENT' && e.path === src;
    const message = isSource ? `source does not exist: ${r.source}` : `${e.code || 'error'}: ${e.message}`;
    return failure(r, t0, message, classifyError({ errno: e.code, message, side: isSource ? 'source' : 'destination' }));
  } finally {
    if (tmp) await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
  }
}

export class NativeBackend implements TransferBackend {
  readonly name = 'native';

  async copy(batch: readonly CopyRequest[], opts: CopyOptions = {}): Promise<CopyResult[]> {
    const results: CopyResult[] = new Array(batch.length);
    let next = 0;
    const lane = async () => {
      while (next < batch.length) {
        const i = next++;
        results[i] = await copyOne(batch[i], opts.overwrite !== false, opts.signal);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, batch.length) }, lane));
    return results;
  }

  async remove(urls: readonly string[]): Promise<RemoveResult[]> {
    return Promise.all(
      urls.map(async (url): Promise<RemoveResult> => {
        try {
          await fs.promises.unlink(fileUrlPath(url));
          return { url, ok: true, existed: true };
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          if (e.code === 'ENOENT') return { url, ok: true, existed: false };
          const error = `${e.code || 'error'}: ${e.message}`;
          return { url, ok: false, existed: false, error, errorClass: classifyError({ errno: e.code, message: error, side: 'destination' }) };
        }
      }),
    );
  }

  async stat(urls: readonly string[], withChecksum = false): Promise<StatResult[]> {
    return Promise.all(
      urls.map(async (url): Promise<StatResult> => {
        try {
          const p = fileUrlPath(url);
          const st = await fs.promises.stat(p);
          if (!withChecksum || !st.isFile()) return { url, exists: true, size: st.size };
          return { url, exists: true, size: st.size, adler32: await fileAdler32(p) };
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          return e.code === 'ENOENT' ? { url, exists: false } : { url, exists: false, error: `${e.code || 'error'}: ${e.message}` };
        }
      }),
    );
  }

  async close(): Promise<void> {}
}
