/**
 * Prometheus metrics per agent process (prom-client), served on `--metrics-port`. Every agent
 * gets the runner's metrics; agents add their own to the same registry.
 */
import * as http from 'http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { clientCounts } from './nodes';

export interface RunnerMetrics {
  readonly registry: Registry;
  readonly changes: Counter<'agent'>;
  readonly errors: Counter<'agent' | 'class'>;
  readonly feedLag: Gauge<'agent'>;
  readonly passSeconds: Histogram<'agent'>;
  /** Conflicted documents this process resolved (agents/lib/conflict-effects.ts), by database role. */
  readonly conflictsResolved: Counter<'db'>;
}

/** The client's own counts (agents/platform/nodes.ts), read at each scrape: one client per process. */
function clientCounters(registry: Registry): void {
  new Counter({
    name: 'couchstage_node_failovers_total',
    help: 'Requests sent to the next node of COUCHDB_URL after a connection error or a 5xx',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(clientCounts.failovers);
    },
  });
  new Counter({
    name: 'couchstage_writes_accepted_total',
    help: 'Write answers 202: accepted by fewer nodes than the quorum w, kept as written',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(clientCounts.accepted);
    },
  });
}

export function createMetrics(): RunnerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  clientCounters(registry);
  return {
    registry,
    changes: new Counter({
      name: 'couchstage_changes_total',
      help: 'Changes read from the feed',
      labelNames: ['agent'],
      registers: [registry],
    }),
    errors: new Counter({
      name: 'couchstage_errors_total',
      help: 'Errors by class (transient, permanent, conflict)',
      labelNames: ['agent', 'class'],
      registers: [registry],
    }),
    feedLag: new Gauge({
      name: 'couchstage_feed_lag',
      help: 'Changes pending behind the checkpoint',
      labelNames: ['agent'],
      registers: [registry],
    }),
    passSeconds: new Histogram({
      name: 'couchstage_pass_seconds',
      help: 'Duration of one agent pass',
      labelNames: ['agent'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers: [registry],
    }),
    conflictsResolved: new Counter({
      name: 'couchstage_conflicts_resolved_total',
      help: 'Documents whose conflict revisions this process resolved, by database',
      labelNames: ['db'],
      registers: [registry],
    }),
  };
}

/** Serves /metrics on loopback; port 0 picks a free one. Resolves with the bound port. */
export function serveMetrics(registry: Registry, port: number, host = '127.0.0.1'): Promise<http.Server> {
  const server = http.createServer(async (req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': registry.contentType });
    res.end(await registry.metrics());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
