/**
 * `couchstage edge`: a site-local outbox for job outputs. A local store with the same `transfers`
 * contract as central (the same deploy: design documents, validate_doc_update, security), either
 * the embedded server (supervised, on its own data directory) or a site's CouchDB given by URL;
 * the continuous push and pull of replicate.ts; the backlog figures of figures.ts, kept up to date
 * and served as Prometheus metrics (monitor.ts). No agent runs here: state changes come from central by the pull.
 */
import * as path from 'path';
import type { Server } from 'http';
import { projectRoot, withCredentials } from '../../agents/platform/config';
import { serveMetrics } from '../../agents/platform/metrics';
import { dbNames } from '../../views/schema';
import { deploy } from '../deploy';
import { embeddedServerOptions } from '../embedded-env';
import { ensureEmbeddedAdmin, Supervisor } from '../server';
import { readState, type EdgeEnds, type EdgeFigures } from './figures';
import { EdgeMonitor } from './monitor';
import { replicateTransfers, where, type Replication } from './replicate';
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
  /** The embedded server's port (0: a free one); its address and the metrics' (`--host`). */
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
  let metricsServer: Server | null = null;
  const reps: Replication[] = [];
  try {
    await deploy({ url: adminUrl, dbs: dbNames(o.localPrefix), users: [], log: (l) => o.log('deploy: ' + l) });
    if (o.usersFrom) {
      const u = await syncUsers(o.usersFrom, adminUrl);
      o.log(`users: ${u.written} written, ${u.removed} removed (copied from central _users)`);
    }
    const ends = edgeEnds(o, adminUrl);
    const monitor = new EdgeMonitor(ends, await readState(ends), o.log);
    const central = { server: o.centralUrl, db: ends.central.transfers };
    const local = { server: adminUrl, db: ends.local.transfers };
    reps.push(await replicateTransfers(local, central, o.sites, monitor.events('push')));
    reps.push(await replicateTransfers(central, local, o.sites, monitor.events('pull')));
    o.log(`replicating ${where(local)} <-> ${where(central)} (transfers from ${o.sites.join(', ')})`);
    let stopped = false;
    const loop = (async () => {
      while (!stopped) {
        await monitor.refresh().catch((err) => o.log(`measuring the backlog: ${(err as Error).message}`));
        await new Promise((r) => setTimeout(r, o.intervalMs));
      }
    })();
    if (o.metricsPort !== null) metricsServer = await serveMetrics(monitor.metrics.registry, o.metricsPort, o.host);
    const port = metricsServer ? Number((metricsServer.address() as { port: number }).port) : null;
    return {
      localAdminUrl: adminUrl,
      localUrl: new URL(adminUrl).origin,
      metricsPort: port,
      figures: () => monitor.current,
      refresh: () => monitor.refresh(),
      stop: async () => {
        stopped = true;
        for (const r of reps) r.cancel();
        await loop;
        await monitor.save().catch(() => undefined);
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
