/**
 * Demo traffic: every 2-5 s a "job" of alice or bob leaves 3-20 small files (1-64 KiB of random
 * bytes) in a random site's storage and submits their transfers to another site, through the
 * CLI's submit code path as that user. About 5% declare a wrong adler32 (retried, then failed
 * with a checksum reason), about 2% lose their source right after submission (failed at once),
 * and some batches ask for publication into /Demo/<user>-demo-v1/USER. Workflows are named
 * demo_<yyyymmdd>_<n>, n counting on across starts (<data>/demo/traffic.json) so that LFNs, and
 * with them the document ids, never repeat. Stops after `maxFiles` files in all on this data
 * directory, counted across starts in the same file (a restart continues where the last run
 * stopped instead of sending another `maxFiles`), so a demo left running, or restarted often,
 * does not fill the disk; logs a line per batch at most every 30 s.
 */
import { randomBytes, randomInt } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { adler32 } from '../../agents/backends/adler32';
import { withCredentials, type Config } from '../../agents/platform/config';
import { connect, sleep } from '../../agents/platform/couch';
import { submit } from '../client/submit';
import { writeSiteFile, type DemoSite } from './storage';

export interface TrafficOptions {
  readonly cfg: Config;
  /** Server URL without credentials. */
  readonly url: string;
  readonly sites: readonly DemoSite[];
  readonly users: readonly { name: string; password: string }[];
  /** Files in all on this data directory, earlier runs included. */
  readonly maxFiles: number;
  /** Where the workflow and file counters are kept. */
  readonly stateFile: string;
  readonly log: (line: string) => void;
  readonly logEveryMs?: number;
}

export const BAD_CHECKSUM_RATE = 0.05;
export const REMOVED_SOURCE_RATE = 0.02;
export const PUBLISH_RATE = 0.3;

const pick = <T>(xs: readonly T[]): T => xs[randomInt(xs.length)];

interface TrafficState {
  workflows: number;
  files: number;
}

export class DemoTraffic {
  /**
   * Files written (submitted or not) on this data directory, earlier runs included: what the
   * --demo-files limit counts.
   */
  files = 0;
  /** Of those, written by earlier runs. */
  readonly previous: number;
  refused = 0;
  batches = 0;
  badChecksums = 0;
  removedSources = 0;
  private readonly controller = new AbortController();
  private loop: Promise<void> | null = null;
  private lastLog = 0;

  constructor(private readonly opts: TrafficOptions) {
    this.previous = this.files = this.readState().files;
  }

  /** Files this run will still write before the limit. */
  get remaining(): number {
    return Math.max(0, this.opts.maxFiles - this.files);
  }

  private readState(): TrafficState {
    try {
      const st = JSON.parse(fs.readFileSync(this.opts.stateFile, 'utf8')) as Partial<TrafficState>;
      return { workflows: Number(st.workflows) || 0, files: Number(st.files) || 0 };
    } catch {
      return { workflows: 0, files: 0 };
    }
  }

  private writeState(st: TrafficState): void {
    fs.mkdirSync(path.dirname(this.opts.stateFile), { recursive: true });
    const tmp = `${this.opts.stateFile}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(st) + '\n');
    fs.renameSync(tmp, this.opts.stateFile);
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.controller.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.controller.signal;
    if (!this.remaining) {
      this.opts.log(
        `demo traffic: none: earlier runs on this data already sent ${this.files} files, the --demo-files limit of ${this.opts.maxFiles} (a larger --demo-files sends more)`,
      );
      return;
    }
    while (!signal.aborted && this.files < this.opts.maxFiles) {
      try {
        await this.batch();
      } catch (err) {
        this.note(`demo traffic: batch failed (${(err as Error).message}); going on`);
      }
      if (this.files >= this.opts.maxFiles) break;
      await sleep(randomInt(2000, 5001), signal);
    }
    if (!signal.aborted)
      this.opts.log(`demo traffic: ${this.summary()}; stopping at the --demo-files limit of ${this.opts.maxFiles}`);
  }

  private summary(): string {
    return `${this.files} files in ${this.batches} batches so far (${this.badChecksums} with a wrong adler32, ${this.removedSources} sources removed, ${this.refused} refused)`;
  }

  private note(line: string): void {
    if (Date.now() - this.lastLog < (this.opts.logEveryMs ?? 30_000)) return;
    this.lastLog = Date.now();
    this.opts.log(line);
  }

  /**
   * The next workflow number and the files it will write, persisted before any is written, so
   * that a crash never reuses a number and a restart never sends more than the limit.
   */
  private nextWorkflow(files: number): string {
    const n = this.readState().workflows;
    this.writeState({ workflows: n + 1, files: this.files + files });
    const day = new Date().toISOString().slice(0, 10).replace(/-/g, '');
    return `demo_${day}_${n + 1}`;
  }

  private async batch(): Promise<void> {
    const { sites, users } = this.opts;
    const user = pick(users);
    const source = pick(sites);
    const destination = pick(sites.filter((s) => s !== source));
    const n = Math.min(randomInt(3, 21), this.opts.maxFiles - this.files);
    const workflow = this.nextWorkflow(n);
    const publish = Math.random() < PUBLISH_RATE;
    const docs: Record<string, unknown>[] = [];
    const toRemove: string[] = [];
    let bad = 0;
    for (let i = 0; i < n; i++) {
      const lfn = `/store/temp/user/${user.name}/${workflow}/out_${i}.root`;
      const data = randomBytes(randomInt(1024, 64 * 1024 + 1));
      const file = writeSiteFile(source, lfn, data);
      let sum = adler32(data);
      const r = Math.random();
      if (r < BAD_CHECKSUM_RATE) {
        sum = ((parseInt(sum, 16) ^ 0x5a5a5a5a) >>> 0).toString(16).padStart(8, '0');
        bad++;
      } else if (r < BAD_CHECKSUM_RATE + REMOVED_SOURCE_RATE) toRemove.push(file);
      docs.push({
        workflow,
        jobid: String(i + 1),
        source: source.name,
        destination: destination.name,
        source_lfn: lfn,
        destination_lfn: `/store/user/${user.name}/${workflow}/out_${i}.root`,
        size: data.length,
        checksums: { adler32: sum },
        publish,
        ...(publish ? { dataset: `/Demo/${user.name}-demo-v1/USER` } : {}),
      });
    }
    this.files += n;
    this.batches++;
    const url = withCredentials(this.opts.url, user.name, user.password);
    const ctx = { cfg: this.opts.cfg, url, server: connect(url), json: false, out: () => undefined };
    const { failed, results } = await submit(ctx, JSON.stringify(docs));
    for (const f of toRemove) fs.rmSync(f, { force: true });
    this.refused += failed;
    this.badChecksums += bad;
    this.removedSources += toRemove.length;
    const refused = failed ? `, ${failed} refused (${results.find((r) => !r.ok)?.error})` : '';
    this.note(
      `demo traffic: ${user.name} submitted ${n} files ${source.name} -> ${destination.name} (${workflow}${publish ? ', publish' : ''}${refused}); ${this.summary()}`,
    );
  }
}
