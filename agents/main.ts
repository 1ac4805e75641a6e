/**
 * Agent processes: `couchstage agent <scheduler|worker|retrier> [--once] [--backend B]
 * [--instance ID] [--metrics-port N]`. SIGTERM/SIGINT finish the item in hand, checkpoint and
 * exit; a second signal exits at once.
 */
import { agentUrl, loadConfig } from './lib/config';
import { createLogger } from './lib/log';
import { createMetrics, serveMetrics } from './lib/metrics';
import { runAgent, type Agent } from './lib/runner';
import { retrierAgent } from './retrier';
import { schedulerAgent } from './scheduler';
import { workerAgent } from './worker';
import { openBackend, type BackendName } from './backends/open';

export const AGENTS = ['scheduler', 'worker', 'retrier'] as const;
export type AgentName = (typeof AGENTS)[number];

export interface AgentArgs {
  readonly once: boolean;
  readonly backend: BackendName;
  readonly instance?: string;
  readonly metricsPort?: number;
}

export async function runAgentProcess(name: string, args: AgentArgs): Promise<number> {
  if (!(AGENTS as readonly string[]).includes(name)) throw new Error(`unknown agent "${name}" (one of ${AGENTS.join(', ')})`);
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
  const backend = name === 'worker' ? await openBackend(args.backend, log) : null;
  const agent: Agent = name === 'scheduler' ? schedulerAgent() : name === 'worker' ? workerAgent(backend!) : retrierAgent();
  try {
    await runAgent(agent, { url: agentUrl(cfg), dbs: cfg.dbs, log, metrics, signal: controller.signal }, { once: args.once, instance: args.instance });
    return 0;
  } finally {
    await backend?.close();
    metricsServer?.close();
  }
}
