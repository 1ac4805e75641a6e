/**
 * Agent processes: `couchstage agent NAME[,NAME...] [--once] [--backend B] [--instance ID]
 * [--metrics-port N] [--jobs N]`, NAME one of agents/registry.ts. SIGTERM/SIGINT finish the item in
 * hand, checkpoint and exit; a repeat 2 s or more after the first exits at once
 * (agents/platform/signals.ts).
 */
import { agentUrl, loadConfig } from './platform/config';
import { createLogger } from './platform/log';
import { createMetrics, serveMetrics } from './platform/metrics';
import { runAgent, type Agent } from './lib/runner';
import { openBackend, type BackendName } from './backends/open';
import type { TransferBackend } from './backends/types';
import { combineAgents } from './lib/combine';
import { Tracker } from './lib/tracker';
import { DatabaseMovedError, followMoves, isMovedOrPaused } from './lib/moved';
import { instanceId } from './lib/runner';
import { statusOf } from './platform/couch';
import { stopSignals } from './platform/signals';

import { AGENT_NAMES, agentSpec } from './registry';

export interface AgentArgs {
  readonly once: boolean;
  readonly backend: BackendName;
  readonly instance?: string;
  readonly metricsPort?: number;
  /** Worker: transfer jobs in flight at once (default 1). */
  readonly jobs?: number;
}

/** Builds the named agents; scheduler and retrier in one process share their tracker. */
export function buildAgents(
  names: readonly string[],
  backend: TransferBackend | null,
  opts: { jobs?: number } = {},
): Agent {
  const build = { tracker: new Tracker(), backend, jobs: opts.jobs };
  return combineAgents(
    names.map((n) => {
      const spec = agentSpec(n);
      if (!spec) throw new Error(`unknown agent "${n}" (one of ${AGENT_NAMES.join(', ')})`);
      return spec.build(build);
    }),
  );
}

/** `name` is one agent or a comma-separated list run over one feed (e.g. scheduler,retrier). */
export async function runAgentProcess(name: string, args: AgentArgs): Promise<number> {
  const names = name.split(',');
  const unknown = names.filter((n) => !agentSpec(n));
  if (unknown.length || new Set(names).size !== names.length)
    throw new Error(`unknown or repeated agent in "${name}" (one or more of ${AGENT_NAMES.join(', ')})`);
  const alone = names.find((n) => agentSpec(n)!.ownProcess);
  if (alone && names.length > 1)
    throw new Error(`the ${alone} runs in a process of its own (it reads the feed without documents)`);
  const cfg = loadConfig();
  const log = createLogger({ agent: name });
  const metrics = createMetrics();
  const controller = new AbortController();
  const signals = stopSignals({ signals: ['SIGTERM', 'SIGINT'] });
  void signals.requested.then((sig) => {
    log.info('stopping', { signal: sig });
    controller.abort();
  });
  // Every effect is idempotent and every state is recoverable (a killed agent leaves nothing
  // lost), so exiting without finishing the item in hand is safe when someone insists.
  signals.onHurry((sig) => {
    log.info('exiting at once', { signal: sig });
    process.exit(130);
  });
  const metricsServer = args.metricsPort !== undefined ? await serveMetrics(metrics.registry, args.metricsPort) : null;
  if (metricsServer) {
    const addr = metricsServer.address();
    log.info('metrics', {
      url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : args.metricsPort}/metrics`,
    });
  }
  const backend = names.some((n) => agentSpec(n)!.needsBackend) ? await openBackend(args.backend, log) : null;
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
        await runAgent(
          buildAgents(names, backend, { jobs: args.jobs }),
          { ...where, log, metrics, signal: AbortSignal.any([controller.signal, run.signal]) },
          { once: args.once, instance },
        );
        return 0;
      } catch (err) {
        run.abort();
        // Writes refused (403) because migrate-db paused the database also mean "follow".
        if (
          !(err instanceof DatabaseMovedError) &&
          !(statusOf(err) === 403 && (await isMovedOrPaused(where.url, where.dbs.transfers)))
        )
          throw err;
        log.info('databases are read-only: following them', { error: (err as Error).message });
      }
    }
  } finally {
    await backend?.close();
    metricsServer?.close();
  }
}
