/**
 * Stop signals, handled the same way by every long-running couchstage process (agents, `start`,
 * the ops loops). The handlers stay installed: a process without one dies of the signal and
 * orphans whatever it started. The first signal asks for a clean stop. Repeats are common and
 * mostly mean nothing new: Ctrl-C under `npm start` reaches a process from the terminal (the
 * whole process group) and again forwarded by npm or by `start`; systemd's default control-group
 * stop signals every process at once while `start` signals its agents too. So a repeat within
 * `sameRequestMs` of the first is the same request; a later one (someone pressing Ctrl-C again)
 * calls `hurry`, once.
 */
export const SAME_REQUEST_MS = 2_000;

export interface StopSignals {
  /** Resolves with the first signal's name. */
  readonly requested: Promise<NodeJS.Signals>;
  /** What a later repeat does (replaces the previous choice). */
  onHurry(hurry: (sig: NodeJS.Signals) => void): void;
  /** Removes the handlers (tests; a process that ends removes nothing). */
  dispose(): void;
}

/**
 * Where signals arrive: the process; an emitter in the unit test (jest's sandboxed `process`
 * receives no real signals).
 */
export interface SignalTarget {
  on(sig: NodeJS.Signals, h: () => void): unknown;
  off(sig: NodeJS.Signals, h: () => void): unknown;
}

export function stopSignals(
  opts: { signals?: readonly NodeJS.Signals[]; sameRequestMs?: number; now?: () => number; target?: SignalTarget } = {},
): StopSignals {
  const signals = opts.signals ?? ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const same = opts.sameRequestMs ?? SAME_REQUEST_MS;
  const now = opts.now ?? Date.now;
  const target: SignalTarget = opts.target ?? process;
  let first = 0;
  let hurry: ((sig: NodeJS.Signals) => void) | null = null;
  let hurried = false;
  let resolve!: (sig: NodeJS.Signals) => void;
  const requested = new Promise<NodeJS.Signals>((r) => (resolve = r));
  const handlers = signals.map((sig) => {
    const h = () => {
      if (!first) {
        first = now();
        resolve(sig);
      } else if (!hurried && now() - first >= same && hurry) {
        hurried = true;
        hurry(sig);
      }
    };
    target.on(sig, h);
    return [sig, h] as const;
  });
  return {
    requested,
    onHurry: (h) => (hurry = h),
    dispose: () => {
      for (const [sig, h] of handlers) target.off(sig, h);
    },
  };
}
