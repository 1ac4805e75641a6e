/**
 * The gfal2 backend's helper process: one long-lived python helper (gfal2_helper.py) that speaks
 * NDJSON on stdin/stdout, started on the first request and again after it died. Separate from
 * gfal2.ts, which holds what the requests say (copy, remove, stat); this holds how one request at a
 * time reaches a live helper and how its death or an abort ends the request it held.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as readline from 'readline';

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

/** How long close() waits for the helper to exit after stdin ends (it has no work left by then). */
const CLOSE_WAIT_MS = 5000;

/** One file's answer in the helper's JSON protocol (gfal2_helper.py). */
export interface HelperResult {
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
export interface HelperReply {
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

export class Gfal2Helper {
  private proc: ChildProcess | null = null;
  private pending: Pending | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private nextId = 1;
  /** Helpers started so far (1 after the first request; more after deaths or cancellations). */
  starts = 0;

  constructor(private readonly opts: Gfal2Options = {}) {}

  readonly log = (line: string) =>
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
    readline.createInterface({ input: proc.stdout! }).on('line', (line) => this.answer(line));
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

  /** One line of the helper's stdout: the answer to the pending request, or logged. */
  private answer(line: string): void {
    const p = this.pending;
    let msg: HelperReply;
    try {
      msg = JSON.parse(line);
    } catch {
      return this.log(`unparseable helper output: ${line}`);
    }
    if (!p || msg.id !== p.id) return this.log(`unexpected helper response: ${line.slice(0, 200)}`);
    this.pending = null;
    if (msg.ok) p.resolve(msg);
    else p.reject(new Error(`gfal2 helper: ${msg.error}`));
  }

  /** Sends one request and waits for its response; requests are serialised. */
  request(body: Record<string, unknown>, signal?: AbortSignal): Promise<HelperReply> {
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
