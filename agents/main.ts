/**
 * Agent processes: `couchstage agent <scheduler|worker|retrier|publisher> [--once] [--backend B]
 * [--instance ID] [--metrics-port N]`. SIGTERM/SIGINT finish the item in hand, checkpoint and
 * exit; a second signal exits at once.
 */
import { agentUrl, loadConfig } from './lib/config';
import { createLogger } from './lib/log';
import { createMetrics, serveMetrics } from './lib/metrics';
import { runAgent, type Agent } from './lib/runner';
import { publisherAgent } from './publisher';
import { retrierAgent } from './retrier';
import { schedulerAgent } from './scheduler';
import { statsAgent } from './stats';
import { workerAgent } from './worker';
import { openBackend, type BackendName } from './backends/open';
import type { TransferBackend } from './backends/types';
import { combineAgents } from './lib/combine';
import { Tracker } from './lib/tracker';
import { requestsAgent } from './requests';
import { deleterAgent } from './deleter';
import { DatabaseMovedError, followMoves, isMovedOrPaused } from './lib/moved';
import { instanceId } from './lib/runner';
import { statusOf } from './lib/couch';

export const AGENTS = ['scheduler', 'worker', 'retrier', 'publisher', 'requests', 'deleter', 'stats'] as const;
/** Agents that need a storage backend (`--backend`). */
export const BACKEND_AGENTS: readonly string[] = ['worker', 'requests', 'deleter'];
export type AgentName = (typeof AGENTS)[number];

export interface AgentArgs {
  readonly once: boolean;
  readonly backend: BackendName;
  readonly instance?: string;
  readonly metricsPort?: number;
  /** Worker: transfer jobs in flight at once (default 1). */
  readonly jobs?: number;
}

/** Builds the named agents; scheduler and retrier in one process share their tracker. */
export function buildAgents(names: readonly string[], backend: TransferBackend | null, opts: { jobs?: number } = {}): Agent {
  const shared = new Tracker();
  return combineAgents(names.map((n) => n === 'scheduler' ? schedulerAgent(shared) : n === 'retrier' ? retrierAgent(shared)
    : n === 'publisher' ? publisherAgent() : n === 'requests' ? requestsAgent(backend!) : n === 'deleter' ? deleterAgent(backend!)
    : n === 'stats' ? statsAgent() : workerAgent(backend!, { jobs: opts.jobs })));
}

/** `name` is one agent or a comma-separated list run over one feed (e.g. scheduler,retrier). */
export async function runAgentProcess(name: string, args: AgentArgs): Promise<number> {
  const names = name.split(',');
  const unknown = names.filter((n) => !(AGENTS as readonly string[]).includes(n));
  if (unknown.length || new Set(names).size !== names.length) throw new Error(`unknown or repeated agent in "${name}" (one or more of ${AGENTS.join(', ')})`);
  if (names.includes('worker') && names.length > 1) throw new Error('the worker runs in a process of its own (it reads the feed without documents)');
  const cfg = loadConfig();
  const log = createLogger({ agent: name });
  const metrics = createMetrics();
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: string) => {
    signals++;
    if (signals > 1) process.exit(130);
    log.info('stopping', { signal: sig });
    controller.abort();
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  const metricsServer = args.metricsPort !== undefined ? await serveMetrics(metrics.registry, args.metricsPort) : null;
  if (metricsServer) {
    const addr = metricsServer.address();
    log.info('metrics', { url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : args.metricsPort}/metrics` });
  }
  const backend = names.some((n) => BACKEND_AGENTS.includes(n)) ? await openBackend(args.backend, log) : null;
  // One identity across database moves: the leases this process holds stay its own.
  const instance = args.instance || instanceId(name);
  let where = { url: agentUrl(cfg), dbs: cfg.dbs };
  try {
    // Runs until stopped; when migrate-db moves the databases (agents/lib/moved.ts), starts over
    // on the new ones with a fresh in-memory state and checkpoint.
    for (;;) {
      where = await followMoves(where.url, where.dbs, log, controller.signal);
      const run = new AbortController();
      try {
        await runAgent(buildAgents(names, backend, { jobs: args.jobs }), { ...where, log, metrics, signal: AbortSignal.any([controller.signal, run.signal]) }, { once: args.once, instance });
        return 0;
      } catch (err) {
        run.abort();
        // Writes refused (403) because migrate-db paused the database also mean "follow".
        if (!(err instanceof DatabaseMovedError) && !(statusOf(err) === 403 && await isMovedOrPaused(where.url, where.dbs.transfers))) throw err;
        log.info('databases are read-only: following them', { error: (err as Error).message });
      }
    }
  } finally {
    await backend?.close();
    metricsServer?.close();
  }
}
