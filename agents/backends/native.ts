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
import { cleanPathProblem } from '../../views/lib/checks';
import { Adler32 } from './adler32';
import { checksumMismatch, classifyError } from './errors';
import {
  ADLER32_RE,
  type CopyOptions,
  type CopyRequest,
  type CopyResult,
  type RemoveResult,
  type StatResult,
  type TransferBackend,
} from './types';

/** Read size: 1 MiB amortises syscalls on large files and is a single read for typical job outputs. */
const CHUNK = 1 << 20;
/** Files copied at once: enough to hide per-file latency (open, fsync, rename), few enough for fds. */
const PARALLEL = 8;

/**
 * The local path of a file:// URL, taken literally: no percent-decoding and no URL parsing, which
 * would turn `%2e%2e`, `..%2F` or `/a/../b` into a step up the tree (WHATWG URL treats `%2e%2e` as
 * `..`). A URL that is not already a clean absolute path (no `%`, `?`, `#`, `\`, `//`, `.` or
 * `..` segment, control characters; views/lib/paths.ts cleanPathProblem) is refused, fatally:
 * retrying a malformed URL cannot help.
 */
export function fileUrlPath(url: string): string {
  if (!url.startsWith('file://')) {
    throw Object.assign(new Error(`unsupported protocol in ${url}: the native backend copies file:// only`), {
      code: 'EPROTONOSUPPORT',
    });
  }
  if (!url.startsWith('file:///'))
    throw Object.assign(new Error(`invalid URL ${url}: expected file:///absolute/path`), { code: 'EINVAL' });
  const p = url.slice('file://'.length);
  const problem = cleanPathProblem('path', p);
  if (problem || path.posix.normalize(p) !== p) {
    throw Object.assign(
      new Error(`invalid URL ${url}: not a clean absolute path (${problem ? problem.slice(6) : 'not normalised'})`),
      { code: 'EINVAL' },
    );
  }
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

/**
 * Refuses `p` when, symbolic links resolved, it is not below the storage root `rootUrl` (a
 * file:// endpoint). For a path that does not exist yet, its deepest existing ancestor is what
 * counts: that is where a directory creation would start. A URL-clean path can still leave the
 * root through a link a user planted in their own area (`x.root -> /etc/...`).
 */
export async function insideRoot(
  p: string,
  rootUrl: string | undefined,
  side: 'source' | 'destination',
): Promise<void> {
  if (!rootUrl || !rootUrl.startsWith('file:///')) return;
  const root = await fs.promises.realpath(fileUrlPath(rootUrl.replace(/\/+$/, '')));
  let probe = p;
  for (;;) {
    try {
      const real = await fs.promises.realpath(probe);
      if (real === root || real.startsWith(root + path.sep)) return;
      throw Object.assign(
        new Error(`permission denied: ${side} ${p} resolves to ${real}, outside the storage root ${root}`),
        { code: 'EPERM' },
      );
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || probe === path.dirname(probe)) throw err;
      probe = path.dirname(probe);
    }
  }
}

async function copyOne(r: CopyRequest, overwrite: boolean, signal?: AbortSignal): Promise<CopyResult> {
  const t0 = Date.now();
  if (signal?.aborted) return failure(r, t0, 'cancelled', 'transient');
  let tmp: string | null = null;
  let src = '';
  try {
    const expected = String(r.adler32).toLowerCase();
    if (!ADLER32_RE.test(expected))
      return failure(r, t0, `invalid adler32 ${JSON.stringify(r.adler32)}: expected 8 hex digits`, 'fatal');
    src = fileUrlPath(r.source);
    const dst = fileUrlPath(r.destination);
    await insideRoot(src, r.roots?.source, 'source');
    await insideRoot(path.dirname(dst), r.roots?.destination, 'destination');
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
    return failure(
      r,
      t0,
      message,
      classifyError({ errno: e.code, message, side: isSource ? 'source' : 'destination' }),
    );
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
          return {
            url,
            ok: false,
            existed: false,
            error,
            errorClass: classifyError({ errno: e.code, message: error, side: 'destination' }),
          };
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
          return e.code === 'ENOENT'
            ? { url, exists: false }
            : { url, exists: false, error: `${e.code || 'error'}: ${e.message}` };
        }
      }),
    );
  }

  async close(): Promise<void> {}
}
