/**
 * `couchstage edge`: a site-local outbox for job outputs. A local store with the same `transfers`
 * contract as central (the same deploy: design documents, validate_doc_update, security), either
 * the embedded server (supervised, on its own data directory) or a site's CouchDB given by URL;
 * the continuous push and pull of replicate.ts; the backlog figures of figures.ts, kept up to date
 * and served as Prometheus metrics. No agent runs here: state changes come from central by the pull.
 */
import * as path from 'path';
import type { Server } from 'http';
import { Counter, Gauge, Registry } from 'prom-client';
import { projectRoot, withCredentials } from '../../agents/platform/config';
import { serveMetrics } from '../../agents/platform/metrics';
import { dbNames } from '../../views/schema';
import { deploy } from '../deploy';
import { embeddedServerOptions } from '../embedded-env';
import { ensureEmbeddedAdmin, Supervisor } from '../server';
import { measure, readState, writeState, type EdgeEnds, type EdgeFigures, type EdgeState } from './figures';
import { replicateTransfers, where, type Replication, type ReplicationEvents } from './replicate';
import { syncUsers } from './users';

export interface EdgeOptions {
  /** The sites whose transfers this edge forwards (the edge account's site roles must name them). */
  readonly sites: readonly string[];
  /** Central, with the edge account's credentials. */
  readonly centralUrl: string;
  readonly centralPrefix: string;
  /** A site's CouchDB with its admin's credentials; null: the embedded server under `dataDir`. */
  readonly localUrl: string | null;
  readonly localPrefix: string;
  readonly dataDir: string;
  /** The embedded server's port and address (0: a free one). */
  readonly port: number;
  readonly host: string;
  /** Central with a server admin's credentials, to copy the user accounts from (users.ts); null: not copied. */
  readonly usersFrom: string | null;
  readonly metricsPort: number | null;
  /** How often the backlog is measured. */
  readonly intervalMs: number;
  readonly log: (line: string) => void;
}

export interface Edge {
  /** The local store, admin credentials included; and without them, for jobs. */
  readonly localAdminUrl: string;
  readonly localUrl: string;
  readonly metricsPort: number | null;
  figures(): EdgeFigures | null;
  /** Measures now (the loop does so every intervalMs). */
  refresh(): Promise<EdgeFigures>;
  stop(): Promise<void>;
}

interface EdgeMetrics {
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

/** The local store: the site's CouchDB as given, or the embedded server, started and supervised. */
async function localStore(o: EdgeOptions): Promise<{ adminUrl: string; supervisor: Supervisor | null }> {
  if (o.localUrl) return { adminUrl: o.localUrl, supervisor: null };
  const supervisor = new Supervisor({
    dataDir: path.join(o.dataDir, 'couchdb'),
    port: o.port,
    host: o.host,
    entry: path.join(projectRoot(), 'dist', 'server.js'),
    log: o.log,
    stateDir: o.dataDir,
    ...embeddedServerOptions(),
  });
  const base = await supervisor.start();
  const state = await ensureEmbeddedAdmin({ stateDir: o.dataDir }, base).catch(async (err) => {
    await supervisor.stop();
    throw err;
  });
  return { adminUrl: withCredentials(base, state.admin.name, state.admin.password), supervisor };
}

export function edgeEnds(
  o: Pick<EdgeOptions, 'sites' | 'centralUrl' | 'centralPrefix' | 'localPrefix'>,
  local: string,
) {
  const l = dbNames(o.localPrefix);
  return {
    local: { url: local, transfers: l.transfers, service: l.service },
    central: { url: o.centralUrl, transfers: dbNames(o.centralPrefix).transfers },
    sites: o.sites,
  } satisfies EdgeEnds;
}

export async function startEdge(o: EdgeOptions): Promise<Edge> {
  const { adminUrl, supervisor } = await localStore(o);
  const m = edgeMetrics();
  let metricsServer: Server | null = null;
  const reps: Replication[] = [];
  try {
    await deploy({ url: adminUrl, dbs: dbNames(o.localPrefix), users: [], log: (l) => o.log('deploy: ' + l) });
    if (o.usersFrom) {
      const u = await syncUsers(o.usersFrom, adminUrl);
      o.log(`users: ${u.written} written, ${u.removed} removed (copied from central _users)`);
    }
    const ends = edgeEnds(o, adminUrl);
    let state: EdgeState = await readState(ends);
    let current: EdgeFigures | null = null;
    const setOk = () => {
      state = { ...state, last_ok_at: new Date().toISOString() };
      m.lastOk.set(Date.parse(state.last_ok_at!) / 1000);
    };
    // A failure is logged once until the replication works again (PouchDB retries every few seconds).
    const failing = { push: false, pull: false };
    const working = (direction: 'push' | 'pull') => {
      if (failing[direction]) o.log(`${direction}: working again`);
      failing[direction] = false;
      if (direction === 'push') setOk();
    };
    const events = (direction: 'push' | 'pull'): ReplicationEvents => ({
      written: (n) => {
        m.docs.inc({ direction }, n);
        working(direction);
      },
      caughtUp: () => working(direction),
      refused: (id, reason) => {
        if (direction === 'push') m.refused.inc();
        o.log(`${direction}: ${id} REFUSED: ${reason}`);
      },
      failed: (message) => {
        if (!failing[direction]) o.log(`${direction}: ${message} (retrying until it works)`);
        failing[direction] = true;
      },
    });
    const central = { server: o.centralUrl, db: ends.central.transfers };
    const local = { server: adminUrl, db: ends.local.transfers };
    reps.push(await replicateTransfers(local, central, o.sites, events('push')));
    reps.push(await replicateTransfers(central, local, o.sites, events('pull')));
    o.log(`replicating ${where(local)} <-> ${where(central)} (transfers from ${o.sites.join(', ')})`);
    const refresh = async (): Promise<EdgeFigures> => {
      const r = await measure(ends, state);
      const changed = JSON.stringify(r.state) !== JSON.stringify(state);
      // The push may have succeeded while this measured: keep the later of the two times.
      state = { ...r.state, last_ok_at: later(r.state.last_ok_at, state.last_ok_at) };
      current = { ...r.figures, lastOkAt: state.last_ok_at };
      m.backlog.set(current.backlog);
      m.oldest.set(current.oldestWaitingSeconds ?? 0);
      m.reachable.set(current.centralReachable ? 1 : 0);
      if (state.last_ok_at) m.lastOk.set(Date.parse(state.last_ok_at) / 1000);
      if (changed) await writeState(ends, state);
      return current;
    };
    let stopped = false;
    const loop = (async () => {
      while (!stopped) {
        await refresh().catch((err) => o.log(`measuring the backlog: ${(err as Error).message}`));
        await new Promise((r) => setTimeout(r, o.intervalMs));
      }
    })();
    if (o.metricsPort !== null) metricsServer = await serveMetrics(m.registry, o.metricsPort);
    const port = metricsServer ? Number((metricsServer.address() as { port: number }).port) : null;
    return {
      localAdminUrl: adminUrl,
      localUrl: new URL(adminUrl).origin,
      metricsPort: port,
      figures: () => current,
      refresh,
      stop: async () => {
        stopped = true;
        for (const r of reps) r.cancel();
        await loop;
        await writeState(ends, state).catch(() => undefined);
        await new Promise((r) => (metricsServer ? metricsServer.close(r) : r(null)));
        await supervisor?.stop();
      },
    };
  } catch (err) {
    for (const r of reps) r.cancel();
    metricsServer?.close();
    await supervisor?.stop();
    throw err;
  }
}
