/**
 * `couchstage edge` (runs the site's outbox until stopped) and `couchstage edge status` (prints
 * its backlog figures from the local store, whether or not the edge process runs). Options and
 * environment in usage.ts; the edge itself in scripts/edge/.
 */
import * as path from 'path';
import { loadConfig, loadEdgeConfig, readEmbeddedState, withCredentials } from '../../../agents/platform/config';
import { stopSignals } from '../../../agents/platform/signals';
import { dbNames } from '../../../views/schema';
import { flag, UsageError, type Args } from '../../client/args';
import { formatSeconds } from '../../ops/http';
import { measure, readState, type EdgeFigures } from '../../edge/figures';
import { edgeEnds, startEdge, type EdgeOptions } from '../../edge/run';

export const EDGE_VALUED = ['central', 'local', 'local-prefix', 'port', 'host', 'interval'];

function number(args: Args, name: string, dflt: number): number {
  const v = flag(args, name);
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a number`);
  return Number(v);
}

function options(args: Args, log: (l: string) => void): EdgeOptions {
  const cfg = loadConfig();
  const edge = loadEdgeConfig();
  const sites = (flag(args, 'site') || '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!sites.length) throw new UsageError('edge needs --site SITE[,SITE] (the sites whose jobs submit here)');
  const centralUrl = flag(args, 'central') || edge.centralUrl;
  if (!centralUrl)
    throw new UsageError('edge needs central: COUCHSTAGE_EDGE_CENTRAL_URL (with the edge account) or --central URL');
  const metrics = flag(args, 'metrics-port');
  return {
    sites,
    centralUrl,
    centralPrefix: cfg.dbPrefix,
    localUrl: flag(args, 'local') || edge.localUrl,
    localPrefix: flag(args, 'local-prefix') ?? cfg.dbPrefix,
    dataDir: path.join(cfg.dataDir, 'edge'),
    port: number(args, 'port', 5986),
    host: flag(args, 'host') || '127.0.0.1',
    usersFrom: edge.usersFrom,
    metricsPort: metrics === undefined ? 9470 : number(args, 'metrics-port', 9470),
    intervalMs: number(args, 'interval', 5) * 1000,
    log,
  };
}

export function formatFigures(f: EdgeFigures): string[] {
  return [
    `backlog: ${f.backlog} document(s) not yet on central`,
    `oldest waiting: ${f.oldestWaitingSeconds === null ? '-' : formatSeconds(Math.round(f.oldestWaitingSeconds))}`,
    `last successful replication: ${f.lastOkAt || 'never'}`,
    `central: ${f.centralReachable ? 'reachable' : 'NOT reachable'}`,
  ];
}

async function status(o: EdgeOptions, json: boolean, out: (l: string) => void): Promise<number> {
  let local = o.localUrl;
  if (!local) {
    const state = readEmbeddedState({ dataDir: o.dataDir });
    if (!state) throw new UsageError(`no edge store under ${o.dataDir}: run "couchstage edge" first, or give --local`);
    local = withCredentials(state.url, state.admin.name, state.admin.password);
  }
  const ends = edgeEnds(o, local);
  const { figures } = await measure(ends, await readState(ends));
  if (json) out(JSON.stringify(figures, null, 2));
  else for (const l of formatFigures(figures)) out(l);
  return 0;
}

const NETWORK_CODES = ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH'];

/**
 * A connection reset that escapes PouchDB's request code (seen once under a load average of 90,
 * the link cut mid-request) must not end the outbox: the replication retries by itself. Anything
 * else still ends the process.
 */
function surviveNetworkErrors(out: (l: string) => void): void {
  const onError = (err: unknown) => {
    const code = (err as { code?: string } | null)?.code;
    if (!code || !NETWORK_CODES.includes(code)) throw err;
    out(`edge: ${code} outside a request (the replication retries)`);
  };
  process.on('unhandledRejection', onError);
  process.on('uncaughtException', onError);
}

export async function runEdge(args: Args, out: (l: string) => void): Promise<number> {
  const o = options(args, out);
  if (args.positional[0] === 'status') return status(o, args.flags.json === true, out);
  if (args.positional[0] !== undefined) throw new UsageError(`edge: unknown subcommand "${args.positional[0]}"`);
  const signals = stopSignals();
  surviveNetworkErrors(out);
  const edge = await startEdge(o);
  out(
    `couchstage edge for ${o.sites.join(', ')}: jobs PUT to ${edge.localUrl}/${dbNames(o.localPrefix).transfers}/<id>`,
  );
  if (edge.metricsPort !== null) out(`  metrics: http://127.0.0.1:${edge.metricsPort}/metrics`);
  const keepAlive = setInterval(() => undefined, 60_000);
  const sig = await signals.requested;
  clearInterval(keepAlive);
  out(`stopping (${sig})`);
  const figures = edge.figures();
  if (figures) for (const l of formatFigures(figures)) out('  ' + l);
  await edge.stop();
  return 0;
}
