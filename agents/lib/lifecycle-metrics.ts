/**
 * Lifecycle metrics on an agent's registry (agents/platform/metrics.ts has the runner's: changes read,
 * errors by class, feed lag, pass durations). Created once per registry, so every agent in a
 * process shares them: files by state and queue depth per link (from the in-memory tracker, set
 * at each scheduler/retrier tick), transfer durations and transfer errors by class (worker).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { TransferState } from '../../views/schema';
import { linkKey, linkOfKey } from '../../views/lib/link-key';
import type { Tracker } from './tracker';

export interface LifecycleMetrics {
  readonly files: Gauge<'state'>;
  readonly queueDepth: Gauge<'source' | 'destination'>;
  readonly transferSeconds: Histogram<'outcome'>;
  readonly transferErrors: Counter<'class'>;
}

const byRegistry = new WeakMap<Registry, LifecycleMetrics>();

export function lifecycleMetrics(registry: Registry): LifecycleMetrics {
  let m = byRegistry.get(registry);
  if (!m) {
    m = {
      files: new Gauge({
        name: 'couchstage_files',
        help: 'Transfers by state, as this agent tracks them',
        labelNames: ['state'],
        registers: [registry],
      }),
      queueDepth: new Gauge({
        name: 'couchstage_queue_depth',
        help: 'Transfers waiting in new per link',
        labelNames: ['source', 'destination'],
        registers: [registry],
      }),
      // Copies take from milliseconds (small files, native) to hours (large files over the WAN).
      transferSeconds: new Histogram({
        name: 'couchstage_transfer_seconds',
        help: 'Copy duration of the transfer job a file was in, by outcome',
        labelNames: ['outcome'],
        buckets: [0.01, 0.1, 1, 10, 60, 600, 3600],
        registers: [registry],
      }),
      transferErrors: new Counter({
        name: 'couchstage_transfer_errors_total',
        help: 'Failed copy attempts by error class (transient, fatal)',
        labelNames: ['class'],
        registers: [registry],
      }),
    };
    byRegistry.set(registry, m);
  }
  return m;
}

/** Sets the state and queue gauges from the tracker (cheap: one pass over the slim copies). */
export function observeTracker(m: LifecycleMetrics, tracker: Tracker): void {
  const states = new Map<string, number>();
  const queues = new Map<string, number>();
  for (const t of tracker.transfers.values()) {
    states.set(t.state, (states.get(t.state) || 0) + 1);
    if (t.state !== TransferState.new) continue;
    const k = linkKey(t.source, t.destination);
    queues.set(k, (queues.get(k) || 0) + 1);
  }
  m.files.reset();
  for (const [s, n] of states) m.files.set({ state: s }, n);
  m.queueDepth.reset();
  for (const [k, n] of queues) {
    m.queueDepth.set(linkOfKey(k), n);
  }
}
