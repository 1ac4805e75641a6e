/**
 * Keeps the embedded server alive: runs it as a child process and starts it again (same port,
 * same data) whenever it exits unexpectedly. Agents and clients see a short outage and back off;
 * no data is lost because PouchDB writes are durable before they are acknowledged.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as readline from 'readline';
import { prepareEmbeddedAdmin } from './admin';
import type { EmbeddedSettings } from './embedded';
import { lockDataDir } from './server-config';

export interface SupervisorOptions {
  readonly dataDir: string;
  /** 0 picks a free port on the first start; restarts keep the same port. */
  readonly port: number;
  readonly host?: string;
  /** The built server entry (dist/server.js). */
  readonly entry: string;
  readonly log?: (line: string) => void;
  /** Own process group: a terminal's Ctrl-C then reaches only the parent, which stops us in order. */
  readonly detached?: boolean;
  /**
   * Where the admin's credentials are kept (`server.json`, see admin.ts); default: the parent of
   * dataDir, as `couchstage start` lays it out (`data/server.json`, `data/couchdb/`).
   */
  readonly stateDir?: string;
  /** The account the caller's agents use, created with the admin (admin.ts). */
  readonly agentName?: string;
  /** The server's own settings, passed to the child process (embedded.ts). */
  readonly settings?: EmbeddedSettings;
  /** Extra node flags for the server only, e.g. `--cpu-prof`; a later --max-semi-space-size wins. */
  readonly nodeArgs?: readonly string[];
  /** Added to the error when the port is taken: how the caller picks another one. */
  readonly portHint?: string;
}

/** The child's command-line flags for its settings (main.ts reads them back). */
export function settingsArgs(s: EmbeddedSettings = {}): string[] {
  const out: string[] = [];
  if (s.cacheMb !== undefined) out.push('--cache-mb', String(s.cacheMb));
  if (s.leveldbCacheMb !== undefined) out.push('--leveldb-cache-mb', String(s.leveldbCacheMb));
  if (s.trace) out.push('--trace', s.trace);
  return out;
}

export class ServerStartError extends Error {}

export class Supervisor {
  private child: ChildProcess | null = null;
  private stopping = false;
  private port: number;
  /** Restarts so far; exposed for tests and `doctor`. */
  restarts = 0;

  constructor(private readonly opts: SupervisorOptions) {
    this.port = opts.port;
  }

  get url(): string {
    return `http://${this.opts.host || '127.0.0.1'}:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<string> {
    if (!fs.existsSync(this.opts.entry))
      throw new ServerStartError(`${this.opts.entry} is missing: run "npm run build"`);
    const stateDir = this.opts.stateDir ?? path.dirname(path.resolve(this.opts.dataDir));
    lockDataDir(this.opts.dataDir); // the server's own start tightens what is inside
    // The admin exists before the server answers anything (no "admin party" window).
    await prepareEmbeddedAdmin({ stateDir, agentName: this.opts.agentName }, this.opts.dataDir);
    this.port = await this.spawnOnce();
    return this.url;
  }

  private spawnOnce(): Promise<number> {
    const log = this.opts.log || (() => undefined);
    // A larger young generation: the server allocates a lot of short-lived JSON and buffers, and
    // GC was 15-23% of its CPU (bench:lifecycle at 100k: 751 and 768 files/s with it, 680-741
    // without). The caller's nodeArgs come after it, so theirs wins.
    const nodeArgs = ['--max-semi-space-size=64', ...(this.opts.nodeArgs ?? [])];
    const args = [
      this.opts.entry,
      '--data-dir',
      this.opts.dataDir,
      '--port',
      String(this.port),
      '--host',
      this.opts.host || '127.0.0.1',
      ...settingsArgs(this.opts.settings),
    ];
    const child = spawn(process.execPath, [...nodeArgs, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: this.opts.detached === true,
    });
    this.child = child;
    const errLog = fs.createWriteStream(path.join(this.opts.dataDir, 'server-stderr.log'), { flags: 'a', mode: 0o600 });
    child.stderr!.pipe(errLog);
    return new Promise((resolve, reject) => {
      let ready = false;
      readline.createInterface({ input: child.stdout! }).on('line', (line) => {
        try {
          const msg = JSON.parse(line) as { listening?: number };
          if (msg.listening && !ready) {
            ready = true;
            resolve(msg.listening);
          }
        } catch {
          /* not ours */
        }
      });
      child.on('exit', (code, signal) => {
        if (!ready) {
          reject(
            new ServerStartError(
              code === 98
                ? `port ${this.port} is already in use${this.opts.portHint ? ` (${this.opts.portHint})` : ''}`
                : `embedded server exited (${code ?? signal}) before listening; see ${path.join(this.opts.dataDir, 'server-stderr.log')}`,
            ),
          );
          return;
        }
        if (this.stopping) return;
        this.restarts++;
        log(`embedded server exited (${code ?? signal}); restarting on port ${this.port}`);
        // A short pause lets the port's socket close; a crash loop is slowed to one start a second.
        this.restart(200 * Math.min(5, this.restarts));
      });
    });
  }

  private restart(delayMs: number): void {
    setTimeout(() => {
      if (this.stopping) return;
      this.spawnOnce().catch((err) => {
        (this.opts.log || (() => undefined))(`embedded server restart failed: ${err.message}; trying again`);
        this.restart(1000);
      });
    }, delayMs);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}
