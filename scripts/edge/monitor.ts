/**
 * What the edge process knows of its replications, for operators: the figures of figures.ts,
 * measured every interval (and on demand), with the push's and pull's events, as Prometheus metrics; the state
 * kept in the edge's store (confirmed sequence, last success). Apart from run.ts, which starts
 * and stops the parts, so the bookkeeping reads in one place.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import { measure, writeState, type EdgeEnds, type EdgeFigures, type EdgeState } from './figures';
import type { ReplicationEvents } from './replicate';

export interface EdgeMetrics {
  readonly registry: Registry;
  readonly backlog: Gauge;
  readonly oldest: Gauge;
  readonly lastOk: Gauge;
  readonly reachable: Gauge;
  readonly docs: Counter<'direction'>;
  readonly refused: Counter;
}

function edgeMetrics(): EdgeMetrics {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    backlog: new Gauge({ name: 'couchstage_edge_backlog', help: 'Documents not yet on central', registers }),
    oldest: new Gauge({
      name: 'couchstage_edge_oldest_waiting_seconds',
      help: 'Age of the oldest document not yet on central (0: none waits)',
      registers,
    }),
    lastOk: new Gauge({
      name: 'couchstage_edge_last_replication_timestamp_seconds',
      help: 'When the push last succeeded (unix time; 0: never)',
      registers,
    }),
    reachable: new Gauge({ name: 'couchstage_edge_central_reachable', help: '1 when central answers', registers }),
    docs: new Counter({
      name: 'couchstage_edge_docs_total',
      help: 'Documents replicated, by direction (push, pull)',
      labelNames: ['direction'],
      registers,
    }),
    refused: new Counter({ name: 'couchstage_edge_refused_total', help: 'Documents central refused', registers }),
  };
}

function later(a: string | null, b: string | null): string | null {
  if (!a || !b) return a || b;
  return a > b ? a : b;
}

type Direction = 'push' | 'pull';

export class EdgeMonitor {
  readonly metrics = edgeMetrics();
  current: EdgeFigures | null = null;
  /** A failure is logged once until the replication works again (PouchDB retries every few seconds). */
  private readonly failing: Record<Direction, boolean> = { push: false, pull: false };

  constructor(
    private readonly ends: EdgeEnds,
    private state: EdgeState,
    private readonly log: (line: string) => void,
  ) {
    if (state.last_ok_at) this.metrics.lastOk.set(Date.parse(state.last_ok_at) / 1000);
  }

  private working(direction: Direction): void {
    if (this.failing[direction]) this.log(`${direction}: working again`);
    this.failing[direction] = false;
    if (direction !== 'push') return;
    this.state = { ...this.state, last_ok_at: new Date().toISOString() };
    this.metrics.lastOk.set(Date.parse(this.state.last_ok_at!) / 1000);
  }

  events(direction: Direction): ReplicationEvents {
    const m = this.metrics;
    return {
      written: (n) => {
        m.docs.inc({ direction }, n);
        this.working(direction);
      },
      caughtUp: () => this.working(direction),
      refused: (id, reason) => {
        if (direction === 'push') m.refused.inc();
        this.log(`${direction}: ${id} REFUSED: ${reason}`);
      },
      failed: (message) => {
        if (!this.failing[direction]) this.log(`${direction}: ${message} (retrying until it works)`);
        this.failing[direction] = true;
      },
    };
  }

  /** Measures the backlog, updates the gauges, and keeps the state when it moved. */
  async refresh(): Promise<EdgeFigures> {
    const r = await measure(this.ends, this.state);
    const changed = JSON.stringify(r.state) !== JSON.stringify(this.state);
    // The push may have succeeded while this measured: keep the later of the two times.
    this.state = { ...r.state, last_ok_at: later(r.state.last_ok_at, this.state.last_ok_at) };
    const f: EdgeFigures = { ...r.figures, lastOkAt: this.state.last_ok_at };
    this.current = f;
    const m = this.metrics;
    m.backlog.set(f.backlog);
    m.oldest.set(f.oldestWaitingSeconds ?? 0);
    m.reachable.set(f.centralReachable ? 1 : 0);
    if (f.lastOkAt) m.lastOk.set(Date.parse(f.lastOkAt) / 1000);
    if (changed) await this.save();
    return f;
  }

  save(): Promise<void> {
    return writeState(this.ends, this.state);
  }
}
