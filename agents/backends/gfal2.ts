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
 *
 * This file holds what the requests say and how their answers become results; the helper process
 * itself (start, one request at a time, death, abort, close) is in gfal2-helper.ts.
 */
import * as path from 'path';
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
import { Cancelled, Gfal2Helper, type Gfal2Options, type HelperReply, type HelperResult } from './gfal2-helper';
import { fileUrlPath, insideRoot } from './native';

export { Cancelled, findHelper, HelperDied, XRD_ENV, type Gfal2Options } from './gfal2-helper';

/** A batch may take 60 s of fixed cost (connections, checksums) plus its bytes at a floor of 5 MiB/s
 *  (a slow WAN link); past that, plus the helper's 30 s grace, its copy is killed. */
const BASE_TIMEOUT_S = 60;
const MIN_RATE = 5 * 1024 * 1024;

/**
 * The answers for a batch some of whose items were refused before the helper saw them: a refused
 * item gets `refusal`, the others the answers of the clean rest, in order.
 */
function merged<T, R>(
  items: readonly T[],
  unclean: (string | null)[],
  rest: R[],
  refusal: (x: T, p: string) => R,
): R[] {
  let k = 0;
  return items.map((x, i) => (unclean[i] ? refusal(x, unclean[i]!) : rest[k++]));
}

/** Why each copy cannot be sent (an unclean URL path, a file:// end outside its site's root), or null. */
async function copyProblems(batch: readonly CopyRequest[]): Promise<(string | null)[]> {
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
  return unclean;
}

/** The files of a copy request, as the helper takes them. */
function helperFiles(batch: readonly CopyRequest[]) {
  return batch.map((r) => ({
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
}

/** One file's copy answer as a result (its seconds measured from t0 when the helper gave none). */
function copyResult(r: CopyRequest, x: HelperResult, t0: number): CopyResult {
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
}

export class Gfal2Backend implements TransferBackend {
  readonly name = 'gfal2';
  private readonly helper: Gfal2Helper;

  constructor(opts: Gfal2Options = {}) {
    this.helper = new Gfal2Helper(opts);
  }

  /** Helpers started so far (1 after the first request; more after deaths or cancellations). */
  get starts(): number {
    return this.helper.starts;
  }

  /** The helper's pid, or null when not running (tests kill it to check recovery). */
  get pid(): number | null {
    return this.helper.pid;
  }

  async copy(batch: readonly CopyRequest[], opts: CopyOptions = {}): Promise<CopyResult[]> {
    if (!batch.length) return [];
    const unclean = await copyProblems(batch);
    if (unclean.some((p) => p)) {
      const rest = await this.copy(
        batch.filter((_r, i) => !unclean[i]),
        opts,
      );
      return merged(batch, unclean, rest, (r, error) => ({
        id: r.id,
        ok: false,
        seconds: 0,
        error,
        errorClass: 'fatal' as const,
      }));
    }
    const t0 = Date.now();
    const whole = (error: string, errorClass: 'fatal' | 'transient' = 'transient') =>
      batch.map((r) => ({ id: r.id, ok: false, seconds: (Date.now() - t0) / 1000, error, errorClass }));
    const bytes = batch.reduce((s, r) => s + (r.size ?? 0), 0);
    let resp: HelperReply;
    try {
      resp = await this.helper.request(
        {
          op: 'copy',
          files: helperFiles(batch),
          mode: opts.mode ?? 'stream',
          overwrite: opts.overwrite !== false,
          timeout: BASE_TIMEOUT_S + Math.ceil(bytes / MIN_RATE),
        },
        opts.signal,
      );
    } catch (e) {
      return whole(e instanceof Cancelled ? 'cancelled' : (e as Error).message);
    }
    this.logRedone(resp, batch.length);
    return batch.map((r, i): CopyResult => copyResult(r, resp.results[i] ?? {}, t0));
  }

  /** Logs a bulk copy or stream child that did not end cleanly (its unfinished files were redone). */
  private logRedone(resp: HelperReply, files: number): void {
    if (resp.bulk && resp.bulk !== 'exit 0')
      this.helper.log(
        `bulk copy of ${files} files ended with ${resp.bulk}; unfinished files were redone one per gfal2 call`,
      );
    for (const st of (resp.streams ?? []) as string[]) {
      if (st !== 'exit 0')
        this.helper.log(
          `a stream child of a ${files}-file copy ended with ${st}; its unfinished files were redone one per gfal2 call`,
        );
    }
  }

  async remove(urls: readonly string[]): Promise<RemoveResult[]> {
    if (!urls.length) return [];
    const unclean = urls.map(urlPathProblem);
    if (unclean.some((p) => p)) {
      const rest = await this.remove(urls.filter((_u, i) => !unclean[i]));
      return merged(urls, unclean, rest, (url, error) => ({
        url,
        ok: false,
        existed: false,
        error,
        errorClass: 'fatal' as const,
      }));
    }
    try {
      const resp = await this.helper.request({ op: 'remove', urls });
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
      return merged(urls, unclean, rest, (url, error) => ({ url, exists: false, error }));
    }
    try {
      const resp = await this.helper.request({ op: 'stat', urls, checksum: withChecksum });
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
    const r = await this.helper.request({ op: 'ping' });
    if (r.error) throw new Error(r.error);
    return r.gfal2 ?? 'unknown';
  }

  close(): Promise<void> {
    return this.helper.close();
  }
}
