/**
 * Data-plane benchmark: the gfal2 backend against raw xrdcp, between two local XRootD SEs, in one run.
 *
 *   small files: N files root->root through the gfal2 backend (stream mode, one bulk batch; and a
 *     sample in tpc mode) vs one xrdcp process copying all N (--parallel, -C adler32 end to end);
 *   large file: one file (default 1 GiB) root->root through the backend (stream) vs one xrdcp process.
 *
 * Ratios are gfal2 time / xrdcp time (>1: gfal2 slower). Both sides verify adler32 end to end.
 * Run: node dist/bench-dataplane.js [--files N] [--size BYTES] [--large BYTES]  (tests use tiny sizes).
 */
import { execFile } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { Adler32 } from '../../agents/backends/adler32';
import { Gfal2Backend, XRD_ENV } from '../../agents/backends/gfal2';
import type { CopyRequest } from '../../agents/backends/types';
import { pfn, startStorageElements, stopStorageElements, type SE } from '../se/xrootd';

const run = promisify(execFile);

export interface DataPlaneOptions {
  /** Small files (default 200) of sizeBytes each (default 4 KiB, a typical log/metadata output). */
  files?: number;
  sizeBytes?: number;
  /** The large file (default 1 GiB); 0 skips it. */
  largeBytes?: number;
  /** Files copied in tpc mode (each TPC costs ~2.6 s on XRootD 5.5, so a sample; default 20, 0 skips). */
  tpcFiles?: number;
  /** Work directory (default: a temp dir, removed afterwards). */
  baseDir?: string;
  /** xrdcp --parallel; default 16, the gfal2 helper's PARALLEL_COPIES, for a like-for-like run. */
  parallel?: number;
}

export interface DataPlaneResult {
  small: {
    files: number;
    sizeBytes: number;
    gfal2StreamMsPerFile: number;
    xrdcpMsPerFile: number;
    ratio: number;
    gfal2TpcSecondsPerFile?: number;
    gfal2TpcBatchSeconds?: number;
  };
  large?: {
    bytes: number;
    gfal2Seconds: number;
    xrdcpSeconds: number;
    gfal2MBps: number;
    xrdcpMBps: number;
    ratio: number;
  };
}

/** Writes `bytes` of random data in 1 MiB blocks and returns its adler32. */
function writeRandom(p: string, bytes: number): string {
  const sum = new Adler32();
  const fd = fs.openSync(p, 'w');
  try {
    for (let left = bytes; left > 0;) {
      const block = randomBytes(Math.min(left, 1 << 20));
      sum.update(block);
      fs.writeSync(fd, block);
      left -= block.length;
    }
  } finally {
    fs.closeSync(fd);
  }
  return sum.hex();
}

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = process.hrtime.bigint();
  const v = await f();
  return [v, Number(process.hrtime.bigint() - t0) / 1e9];
}

function assertOk(results: { ok: boolean; error?: string }[], what: string): void {
  const bad = results.filter((r) => !r.ok);
  if (bad.length) throw new Error(`${what}: ${bad.length} failed, e.g. ${bad[0].error}`);
}

/** What the phases share: the backend, the two SEs, the source directory and the small files. */
interface Bench {
  readonly backend: Gfal2Backend;
  readonly ses: SE[];
  readonly src: string;
  readonly env: NodeJS.ProcessEnv;
  readonly size: number;
  readonly files: { name: string; adler32: string }[];
}

/** Setup and seed: writes the N small files and uploads them to se0's /in, which every copy reads. */
async function seedSmallFiles(backend: Gfal2Backend, ses: SE[], base: string, n: number, size: number) {
  const src = path.join(base, 'src');
  fs.mkdirSync(src, { recursive: true });
  const files = Array.from({ length: n }, (_, i) => ({
    name: `f${i}`,
    adler32: writeRandom(path.join(src, `f${i}`), size),
  }));
  const upload = await backend.copy(
    files.map((f) => ({
      id: f.name,
      source: `file://${src}/${f.name}`,
      destination: pfn(ses[0], `in/${f.name}`),
      size,
      adler32: f.adler32,
    })),
  );
  assertOk(upload, 'upload to se0');
  return { src, files };
}

/** One small file from se0's /in to se1's `dir`. */
function smallRequest(b: Bench, f: { name: string; adler32: string }, dir: string): CopyRequest {
  return {
    id: f.name,
    source: pfn(b.ses[0], `in/${f.name}`),
    destination: pfn(b.ses[1], `${dir}/${f.name}`),
    size: b.size,
    adler32: f.adler32,
  };
}

/** Small files: the backend in stream mode (one bulk batch) against one xrdcp process copying all. */
async function measureSmall(b: Bench, parallel: number): Promise<DataPlaneResult['small']> {
  const { backend, ses, files, env } = b;
  const n = files.length;
  const [stream, gfalS] = await timed(() =>
    backend.copy(
      files.map((f) => smallRequest(b, f, 'gfal')),
      { mode: 'stream' },
    ),
  );
  assertOk(stream, 'gfal2 stream');
  // xrdcp: all sources to one destination directory, streamed through this host (no --tpc).
  const [, xrdS] = await timed(() =>
    run(
      '/usr/bin/xrdcp',
      [
        '-s',
        '-f',
        '--path',
        '-C',
        'adler32',
        '--parallel',
        String(parallel),
        ...files.map((f) => pfn(ses[0], `in/${f.name}`)),
        pfn(ses[1], 'xrdcp/'),
      ],
      { env, maxBuffer: 1 << 24 },
    ),
  );
  return {
    files: n,
    sizeBytes: b.size,
    gfal2StreamMsPerFile: (gfalS * 1000) / n,
    xrdcpMsPerFile: (xrdS * 1000) / n,
    ratio: gfalS / xrdS,
  };
}

/** A sample of the small files in tpc mode, as one batch. */
async function measureTpc(
  b: Bench,
  tpcFiles: number,
): Promise<{ gfal2TpcSecondsPerFile: number; gfal2TpcBatchSeconds: number }> {
  const [tpc, tpcS] = await timed(() =>
    b.backend.copy(
      b.files.slice(0, tpcFiles).map((f) => smallRequest(b, f, 'tpc')),
      { mode: 'tpc' },
    ),
  );
  assertOk(tpc, 'gfal2 tpc');
  return { gfal2TpcSecondsPerFile: tpcS / tpcFiles, gfal2TpcBatchSeconds: tpcS };
}

/** One large file root->root through the backend (stream) against one xrdcp process. */
async function measureLarge(b: Bench, large: number): Promise<NonNullable<DataPlaneResult['large']>> {
  const { backend, ses, src, env } = b;
  const sum = writeRandom(path.join(src, 'large'), large);
  assertOk(
    await backend.copy([
      {
        id: 'large',
        source: `file://${src}/large`,
        destination: pfn(ses[0], 'in/large'),
        size: large,
        adler32: sum,
      },
    ]),
    'large upload',
  );
  fs.rmSync(path.join(src, 'large')); // keep the disk footprint at the SEs' two copies
  const [big, gfalL] = await timed(() =>
    backend.copy(
      [
        {
          id: 'large',
          source: pfn(ses[0], 'in/large'),
          destination: pfn(ses[1], 'gfal/large'),
          size: large,
          adler32: sum,
        },
      ],
      { mode: 'stream' },
    ),
  );
  assertOk(big, 'gfal2 large');
  fs.rmSync(path.join(ses[1].dataDir, 'gfal/large'));
  const [, xrdL] = await timed(() =>
    run(
      '/usr/bin/xrdcp',
      ['-s', '-f', '--path', '-C', `adler32:${sum}`, pfn(ses[0], 'in/large'), pfn(ses[1], 'xrdcp/large')],
      { env },
    ),
  );
  const mbps = (s: number) => large / s / 1e6;
  return {
    bytes: large,
    gfal2Seconds: gfalL,
    xrdcpSeconds: xrdL,
    gfal2MBps: mbps(gfalL),
    xrdcpMBps: mbps(xrdL),
    ratio: gfalL / xrdL,
  };
}

export async function benchDataPlane(opts: DataPlaneOptions = {}): Promise<DataPlaneResult> {
  const n = opts.files ?? 200;
  const size = opts.sizeBytes ?? 4096;
  const large = opts.largeBytes ?? 1 << 30;
  const tpcFiles = Math.min(opts.tpcFiles ?? 20, n);
  const parallel = opts.parallel ?? 16;
  const base = opts.baseDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-bench-'));
  const seDir = path.join(base, 'se');
  const backend = new Gfal2Backend();
  const env = { ...process.env, ...XRD_ENV };
  try {
    const ses: SE[] = await startStorageElements({
      count: 2,
      baseDir: seDir,
      ownerPid: process.pid,
      exports: ['/in', '/gfal', '/tpc', '/xrdcp'],
    });
    const { src, files } = await seedSmallFiles(backend, ses, base, n, size);
    const b: Bench = { backend, ses, src, env, size, files };
    const result: DataPlaneResult = { small: await measureSmall(b, parallel) };
    if (tpcFiles > 0) Object.assign(result.small, await measureTpc(b, tpcFiles));
    if (large > 0) result.large = await measureLarge(b, large);
    return result;
  } finally {
    await backend.close();
    await stopStorageElements(seDir);
    if (!opts.baseDir) fs.rmSync(base, { recursive: true, force: true });
  }
}

// Run as a program only under its own name (bundled into another entry, require.main === module holds too).
if (require.main === module && /dataplane\.[cm]?[jt]s$/.test(process.argv[1] ?? '')) {
  const arg = (k: string) => {
    const i = process.argv.indexOf(`--${k}`);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  benchDataPlane({ files: arg('files'), sizeBytes: arg('size'), largeBytes: arg('large'), tpcFiles: arg('tpc') })
    .then((r) => console.log(JSON.stringify(r, null, 2)))
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
}
