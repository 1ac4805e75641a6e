/**
 * The gfal2 backend: supervises one long-lived python helper (gfal2_helper.py) that speaks NDJSON
 * on stdin/stdout. A long-lived helper copying in bulk costs ~2 ms per small file; a gfal-copy
 * process per file costs ~250 ms, most of it python and plugin start-up.
 *
 * Requests are sent one at a time (gfal2 contexts are not shared across threads, and the helper
 * parallelises inside a bulk copy). If the helper dies -- killed, or a crash the helper itself did
 * not contain -- the request it held resolves as transient "gfal2 helper died (signal X)" and the
 * next request starts a new helper. Aborting a copy kills the helper the same way (its copy
 * children die with it, PR_SET_PDEATHSIG) and reports the batch as transient "cancelled".
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as readline from 'readline';
import { classifyError } from './errors';
import {
  ADLER32_RE,
  type CopyOptions,
  type CopyRequest,
  type CopyResult,
  type RemoveResult,
  type StatResult,
  type TransferBackend,
} from './types';
import { urlPathProblem } from './clean-url';
import { fileUrlPath, insideRoot } from './native';

export interface Gfal2Options {
  /** The Debian python that has the gfal2 binding (pyenv's python3 on PATH does not). */
  python?: string;
  helper?: string;
  /** Extra environment for the helper, e.g. XRD_REQUESTTIMEOUT for SEs that checksum slowly. */
  env?: Record<string, string>;
  /** Receives each stderr line of the helper. Default: process.stderr. */
  log?: (line: string) => void;
}

// XrdCl defaults would keep a dead SE busy for minutes (5 retries x 120 s connection window), so:
export const XRD_ENV: Record<string, string> = {
  XRD_CONNECTIONRETRY: '1', // no client-side retries: the caller requeues transient failures
  XRD_CONNECTIONWINDOW: '3', // a live SE accepts in milliseconds; 3 s tolerates a loaded one
  XRD_REQUESTTIMEOUT: '10', // per request (open, stat, checksum of small files); a stuck SE fails in 10 s
  XRD_STREAMTIMEOUT: '10', // a stream silent for 10 s with requests outstanding is broken
  XRD_TIMEOUTRESOLUTION: '1', // timeouts are checked every 15 s by default, which would add up to 15 s
  XRD_RUNFORKHANDLER: '1', // the helper forks per request; XrdCl must re-initialise in the child
};

/** A batch may take 60 s of fixed cost (connections, checksums) plus its bytes at a floor of 5 MiB/s
 *  (a slow WAN link); past that, plus the helper's 30 s grace, its copy is killed. */
const BASE_TIMEOUT_S = 60;
const MIN_RATE = 5 * 1024 * 1024;
/** How long close() waits for the helper to exit after stdin ends (it has no work left by then). */
const CLOSE_WAIT_MS = 5000;

/** One file's answer in the helper's JSON protocol (gfal2_helper.py). */
interface HelperResult {
  readonly ok?: boolean;
  readonly error?: string;
  readonly errno?: number;
  readonly side?: 'source' | 'destination';
  readonly seconds?: number;
  readonly adler32?: string;
  readonly bytes?: number | null;
  readonly existed?: boolean;
  readonly exists?: boolean;
  readonly size?: number;
}

/** The helper's answer to one request: one line of JSON. */
interface HelperReply {
  readonly id: number;
  readonly ok: boolean;
  readonly error?: string;
  readonly bulk?: string;
  readonly streams?: string[];
  readonly results: HelperResult[];
  readonly gfal2?: string;
}

interface Pending {
  id: number;
  resolve: (v: HelperReply) => void;
  reject: (e: Error) => void;
}

/** gfal2_helper.py beside this module, or -- when bundled into dist/ -- in the source tree above it
 *  (or above the working directory). */
export function findHelper(from = __dirname): string {
  const beside = path.join(from, 'gfal2_helper.py');
  if (fs.existsSync(beside)) return beside;
  for (const start of [from, process.cwd()]) {
    for (let d = start; d !== path.dirname(d); d = path.dirname(d)) {
      const p = path.join(d, 'agents', 'backends', 'gfal2_helper.py');
      if (fs.existsSync(p)) return p;
    }
  }
  throw new Error(
    `gfal2_helper.py not found beside ${from} nor in an agents/backends/ above it or the working directory`,
  );
}

export class HelperDied extends Error {}
export class Cancelled extends Error {}

export class Gfal2Backend implements TransferBackend {
  readonly name = 'gfal2';
  private proc: ChildProcess | null = null;
  private pending: Pending | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private nextId = 1;
  /** Helpers started so far (1 after the first request; more after deaths or cancellations). */
  starts = 0;

  constructor(private readonly opts: Gfal2Options = {}) {}

  private readonly log = (line: string) =>
    (this.opts.log ?? ((l: string) => process.stderr.write(`[gfal2-helper] ${l}\n`)))(line);

  /** The helper's pid, or null when not running (tests kill it to check recovery). */
  get pid(): number | null {
    return this.proc?.pid ?? null;
  }

  private start(): ChildProcess {
    const helper = this.opts.helper ?? findHelper();
    const log = this.log;
    const proc = spawn(this.opts.python ?? '/usr/bin/python3', [helper], {
      env: { ...XRD_ENV, ...process.env, ...this.opts.env }, // an operator's own XRD_* settings win
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    readline.createInterface({ input: proc.stdout! }).on('line', (line) => {
      const p = this.pending;
      let msg: HelperReply;
      try {
        msg = JSON.parse(line);
      } catch {
        return log(`unparseable helper output: ${line}`);
      }
      if (!p || msg.id !== p.id) return log(`unexpected helper response: ${line.slice(0, 200)}`);
      this.pending = null;
      if (msg.ok) p.resolve(msg);
      else p.reject(new Error(`gfal2 helper: ${msg.error}`));
    });
    readline.createInterface({ input: proc.stderr! }).on('line', log);
    const died = (why: string) => {
      if (this.proc !== proc) return;
      this.proc = null;
      const p = this.pending;
      this.pending = null;
      p?.reject(new HelperDied(`gfal2 helper died (${why})`));
    };
    proc.on('exit', (code, sig) => died(sig ? `signal ${sig}` : `exit code ${code}`));
    proc.on('error', (e) => died(e.message));
    proc.stdin!.on('error', () => undefined); // EPIPE when it died: reported through 'exit'
    this.proc = proc;
    return proc;
  }

  /** Sends one request and waits for its response; requests are serialised. */
  private request(body: Record<string, unknown>, signal?: AbortSignal): Promise<HelperReply> {
    const run = () =>
      new Promise<HelperReply>((resolve, reject) => {
        if (signal?.aborted) return reject(new Cancelled('cancelled'));
        const proc = this.proc ?? (this.starts++, this.start());
        const id = this.nextId++;
        const onAbort = () => {
          if (this.pending?.id !== id) return;
          this.pending = null;
          if (this.proc === proc) this.proc = null; // the next request starts a new helper at once
          proc.kill('SIGKILL'); // its copy children die with it (PR_SET_PDEATHSIG)
          reject(new Cancelled('cancelled'));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        const done =
          <T>(f: (v: T) => void) =>
          (v: T) => {
            signal?.removeEventListener('abort', onAbort);
            f(v);
          };
        this.pending = { id, resolve: done(resolve), reject: done(reject) };
        proc.stdin!.write(JSON.stringify({ ...body, id }) + '\n');
      });
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  async copy(batch: readonly CopyRequest[], opts: CopyOptions = {}): Promise<CopyResult[]> {
    if (!batch.length) return [];
    const unclean: (string | null)[] = batch.map((r) => urlPathProblem(r.source) || urlPathProblem(r.destination));
    // file:// ends are on this host: resolve their links against the sites' roots, as native does.
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i];
      if (unclean[i]) continue;
      try {
        if (r.source.startsWith('file://')) await insideRoot(fileUrlPath(r.source), r.roots?.source, 'source');
        if (r.destination.startsWith('file://'))
          await insideRoot(path.dirname(fileUrlPath(r.destination)), r.roots?.destination, 'destination');
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code !== 'ENOENT') unclean[i] = `${e.code || 'error'}: ${e.message}`;
      }
    }
    if (unclean.some((p) => p)) {
      const rest = await this.copy(
        batch.filter((_r, i) => !unclean[i]),
        opts,
      );
      let k = 0;
      return batch.map((r, i) =>
        unclean[i] ? { id: r.id, ok: false, seconds: 0, error: unclean[i]!, errorClass: 'fatal' as const } : rest[k++],
      );
    }
    const t0 = Date.now();
    const whole = (error: string, errorClass: 'fatal' | 'transient' = 'transient') =>
      batch.map((r) => ({ id: r.id, ok: false, seconds: (Date.now() - t0) / 1000, error, errorClass }));
    const bytes = batch.reduce((s, r) => s + (r.size ?? 0), 0);
    const files = batch.map((r) => ({
      source: r.source,
      destination: r.destination,
      // Lower-cased here; anything else malformed is refused by the helper before gfal2 sees it
      // (an empty or missing checksum in a bulk copy segfaults the binding).
      adler32: ADLER32_RE.test(String(r.adler32).toLowerCase())
        ? String(r.adler32).toLowerCase()
        : String(r.adler32 ?? ''),
      // A hint only (the first read's length when streaming); the checksum decides.
      ...(Number.isSafeInteger(r.size) && (r.size as number) >= 0 ? { size: r.size } : {}),
    }));
    let resp: HelperReply;
    try {
      resp = await this.request(
        {
          op: 'copy',
          files,
          mode: opts.mode ?? 'stream',
          overwrite: opts.overwrite !== false,
          timeout: BASE_TIMEOUT_S + Math.ceil(bytes / MIN_RATE),
        },
        opts.signal,
      );
    } catch (e) {
      return whole(e instanceof Cancelled ? 'cancelled' : (e as Error).message);
    }
    if (resp.bulk && resp.bulk !== 'exit 0')
      this.log(
        `bulk copy of ${batch.length} files ended with ${resp.bulk}; unfinished files were redone one per gfal2 call`,
      );
    for (const st of (resp.streams ?? []) as string[]) {
      if (st !== 'exit 0')
        this.log(
          `a stream child of a ${batch.length}-file copy ended with ${st}; its unfinished files were redone one per gfal2 call`,
        );
    }
    return batch.map((r, i): CopyResult => {
      const x = resp.results[i] ?? {};
      const seconds = x.seconds ?? (Date.now() - t0) / 1000;
      if (x.ok) return { id: r.id, ok: true, adler32: x.adler32, bytes: x.bytes ?? undefined, seconds };
      const error = String(x.error ?? 'no result from gfal2 helper');
      return {
        id: r.id,
        ok: false,
        seconds,
        error,
        errorClass: classifyError({ errno: x.errno, message: error, side: x.side }),
      };
    });
  }

  async remove(urls: readonly string[]): Promise<RemoveResult[]> {
    if (!urls.length) return [];
    const unclean = urls.map(urlPathProblem);
    if (unclean.some((p) => p)) {
      const rest = await this.remove(urls.filter((_u, i) => !unclean[i]));
      let k = 0;
      return urls.map((url, i) =>
        unclean[i] ? { url, ok: false, existed: false, error: unclean[i]!, errorClass: 'fatal' as const } : rest[k++],
      );
    }
    try {
      const resp = await this.request({ op: 'remove', urls });
      return urls.map((url, i): RemoveResult => {
        const x = resp.results[i] ?? { error: 'no result from gfal2 helper' };
        if (x.ok) return { url, ok: true, existed: !!x.existed };
        return {
          url,
          ok: false,
          existed: false,
          error: x.error,
          errorClass: classifyError({ errno: x.errno, message: x.error, side: 'destination' }),
        };
      });
    } catch (e) {
      return urls.map((url) => ({
        url,
        ok: false,
        existed: false,
        error: (e as Error).message,
        errorClass: 'transient' as const,
      }));
    }
  }

  async stat(urls: readonly string[], withChecksum = false): Promise<StatResult[]> {
    if (!urls.length) return [];
    const unclean = urls.map(urlPathProblem);
    if (unclean.some((p) => p)) {
      const rest = await this.stat(
        urls.filter((_u, i) => !unclean[i]),
        withChecksum,
      );
      let k = 0;
      return urls.map((url, i) => (unclean[i] ? { url, exists: false, error: unclean[i]! } : rest[k++]));
    }
    try {
      const resp = await this.request({ op: 'stat', urls, checksum: withChecksum });
      return urls.map((url, i): StatResult => {
        const x = resp.results[i] ?? { error: 'no result from gfal2 helper' };
        if (x.exists) return { url, exists: true, size: x.size, ...(x.adler32 ? { adler32: x.adler32 } : {}) };
        return x.error ? { url, exists: false, error: x.error } : { url, exists: false };
      });
    } catch (e) {
      return urls.map((url) => ({ url, exists: false, error: (e as Error).message }));
    }
  }

  /** Checks the helper starts and gfal2 imports; resolves to the gfal2 version. */
  async ping(): Promise<string> {
    const r = await this.request({ op: 'ping' });
    if (r.error) throw new Error(r.error);
    return r.gfal2 ?? 'unknown';
  }

  async close(): Promise<void> {
    await this.queue;
    const proc = this.proc;
    if (proc) {
      const exited = new Promise<void>((res) => proc.once('exit', () => res()));
      proc.stdin!.end();
      const timer = setTimeout(() => proc.kill('SIGKILL'), CLOSE_WAIT_MS);
      await exited;
      clearTimeout(timer);
    }
  }
}
