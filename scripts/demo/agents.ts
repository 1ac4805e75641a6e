/**
 * The agents `couchstage start` runs: one child process each (`node dist/cli.js agent <name>`),
 * in its own process group so that a terminal's Ctrl-C reaches only `start`, which then stops them
 * in order. An agent that exits while we are not stopping is started again after 1 s (so at most
 * once a second), with a one-line notice. Its stdout and stderr lines go, prefixed with its name,
 * to <logDir>/<name>.log. stop(): SIGTERM, up to `graceMs` for the item in hand, then SIGKILL.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as readline from 'readline';

export interface AgentSpec {
  readonly name: string;
  readonly metricsPort: number;
  /** Extra arguments, e.g. ['--backend', 'gfal2']. */
  readonly args?: readonly string[];
}

export interface AgentInfo {
  readonly name: string;
  readonly pid: number | null;
  readonly metrics_url: string;
  readonly log: string;
  readonly restarts: number;
}

export interface FleetOptions {
  /** dist/cli.js */
  readonly entry: string;
  readonly env: NodeJS.ProcessEnv;
  readonly logDir: string;
  /** One-line notices (restarts). */
  readonly notice: (line: string) => void;
  /** Called whenever a pid changes (start, restart, exit). */
  readonly onChange?: () => void;
  readonly restartDelayMs?: number;
}

interface Running {
  readonly spec: AgentSpec;
  readonly logFile: string;
  readonly log: fs.WriteStream;
  child: ChildProcess | null;
  exited: Promise<void>;
  restarts: number;
  timer: NodeJS.Timeout | null;
}

export class AgentFleet {
  private readonly agents: Running[] = [];
  private stopping = false;

  constructor(private readonly opts: FleetOptions) {
    fs.mkdirSync(opts.logDir, { recursive: true });
  }

  start(specs: readonly AgentSpec[]): void {
    for (const spec of specs) {
      const logFile = path.join(this.opts.logDir, `${spec.name}.log`);
      const a: Running = {
        spec,
        logFile,
        log: fs.createWriteStream(logFile, { flags: 'a' }),
        child: null,
        exited: Promise.resolve(),
        restarts: 0,
        timer: null,
      };
      this.agents.push(a);
      this.spawn(a);
    }
  }

  get info(): AgentInfo[] {
    return this.agents.map((a) => ({
      name: a.spec.name,
      pid: a.child?.pid ?? null,
      metrics_url: `http://127.0.0.1:${a.spec.metricsPort}/metrics`,
      log: a.logFile,
      restarts: a.restarts,
    }));
  }

  private spawn(a: Running): void {
    const { name, metricsPort, args = [] } = a.spec;
    const child = spawn(
      process.execPath,
      [this.opts.entry, 'agent', name, '--metrics-port', String(metricsPort), ...args],
      {
        env: this.opts.env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    a.child = child;
    const prefix = (line: string) => void (a.log.writableEnded || a.log.write(`${name} ${line}\n`));
    readline.createInterface({ input: child.stdout! }).on('line', prefix);
    readline.createInterface({ input: child.stderr! }).on('line', prefix);
    a.exited = new Promise((resolve) => {
      let done = false;
      const ended = (why: string) => {
        if (done) return;
        done = true;
        resolve();
        this.opts.onChange?.();
        if (this.stopping) return;
        a.restarts++;
        const delay = this.opts.restartDelayMs ?? 1000;
        prefix(`[couchstage start] ${why}; restarting in ${delay} ms`);
        this.opts.notice(
          `agent ${name} ${why}; restarting in ${delay / 1000} s (restart ${a.restarts}, log ${a.logFile})`,
        );
        a.timer = setTimeout(() => {
          a.timer = null;
          if (!this.stopping) this.spawn(a);
        }, delay);
      };
      // 'close', not 'exit': by then every line the agent wrote is in its log.
      child.once('close', (code, signal) => ended(`exited (${signal ?? `code ${code}`})`));
      child.once('error', (err) => ended(`could not run (${err.message})`));
    });
    this.opts.onChange?.();
  }

  private running(): Running[] {
    return this.agents.filter(
      (a) => a.child && a.child.exitCode === null && a.child.signalCode === null && a.child.pid,
    );
  }

  /** SIGTERM every agent, SIGKILL what is still running after `graceMs`; resolves when all exited. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    for (const a of this.agents) if (a.timer) clearTimeout(a.timer);
    const running = this.running();
    for (const a of running) a.child!.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const all = Promise.all(running.map((a) => a.exited));
    const late = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs))),
    ]);
    clearTimeout(timer);
    if (late) {
      for (const a of this.running()) {
        this.opts.notice(`agent ${a.spec.name} did not stop within ${graceMs / 1000} s; killing it`);
        a.child!.kill('SIGKILL');
      }
      await all;
    }
    await Promise.all(this.agents.map((a) => new Promise<void>((r) => a.log.end(() => r()))));
  }

  /** No agent that exits from now on is restarted (the system is stopping). */
  holdRestarts(): void {
    this.stopping = true;
    for (const a of this.agents) if (a.timer) clearTimeout(a.timer);
  }

  /** Last resort from a process 'exit' hook (synchronous): ask whatever still runs to stop. */
  signalAll(signal: NodeJS.Signals = 'SIGTERM'): void {
    this.stopping = true;
    for (const a of this.running()) a.child!.kill(signal);
  }
}
