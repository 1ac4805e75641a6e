/**
 * Prometheus metrics per agent process (prom-client), served on `--metrics-port`. Every agent
 * gets the runner's metrics; agents add their own to the same registry.
 */
import * as http from 'http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface RunnerMetrics {
  readonly registry: Registry;
  readonly changes: Counter<'agent'>;
  readonly errors: Counter<'agent' | 'class'>;
  readonly feedLag: Gauge<'agent'>;
  readonly passSeconds: Histogram<'agent'>;
}

export function createMetrics(): RunnerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
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
