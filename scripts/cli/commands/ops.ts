/**
 * Operations commands: upgrade, migrate-db, compact, archive, doctor (scripts/ops/). They act as
 * the server admin of COUCHDB_URL (or the running embedded server) on the configured databases.
 */
import { loadConfig, loadEdgeConfig, serverUrl } from '../../../agents/platform/config';
import { AGENT_NAMES, agentSpec } from '../../../agents/registry';
import { flag, UsageError, type Args } from '../../client/args';
import { upgrade } from '../../ops/upgrade';
import { compactEvery, compactOnce } from '../../ops/compact';
import { archive } from '../../ops/archive';
import { doctor, formatFindings } from '../../ops/doctor';
import { migrateDb } from '../../ops/migrate';
import { parseDuration } from '../../ops/http';
import { stopSignals } from '../../../agents/platform/signals';

export const OPS_VALUED = ['every', 'days', 'agents', 'to-prefix', 'target-url'];

function stopSignal(): AbortSignal {
  const c = new AbortController();
  const signals = stopSignals({ signals: ['SIGINT', 'SIGTERM'] });
  void signals.requested.then(() => c.abort());
  signals.onHurry(() => process.exit(130));
  return c.signal;
}

export async function runOps(command: string, args: Args, out: (l: string) => void): Promise<number> {
  const cfg = loadConfig();
  const url = serverUrl(cfg);
  const json = args.flags.json === true;
  const log = json ? undefined : out;
  switch (command) {
    case 'upgrade': {
      const steps = await upgrade({ url, dbs: cfg.dbs, log, signal: stopSignal() });
      if (json) out(JSON.stringify(steps, null, 2));
      return 0;
    }
    case 'compact': {
      const every = flag(args, 'every');
      if (every !== undefined) {
        let ms: number;
        try {
          ms = parseDuration(every);
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
        if (ms < 1000) throw new UsageError('--every must be at least 1s');
        out(`compacting now and every ${every}; Ctrl-C stops`);
        await compactEvery(url, cfg.dbs, ms, stopSignal(), out);
        return 0;
      }
      const steps = await compactOnce(url, cfg.dbs, log);
      if (json) out(JSON.stringify(steps, null, 2));
      return 0;
    }
    case 'archive': {
      const days = flag(args, 'days');
      if (days !== undefined && !/^\d+(\.\d+)?$/.test(days)) throw new UsageError('--days must be a number of days');
      const report = await archive(url, cfg.dbs, { days: days === undefined ? undefined : Number(days), log });
      if (json) out(JSON.stringify(report, null, 2));
      return 0;
    }
    case 'doctor': {
      const agents = flag(args, 'agents');
      const names =
        agents === undefined
          ? [...AGENT_NAMES]
          : agents
              .split(',')
              .map((a) => a.trim())
              .filter(Boolean);
      // A misspelt name would only ever be reported as "no heartbeat": say what it is instead.
      const unknown = names.filter((a) => !agentSpec(a));
      if (unknown.length)
        throw new UsageError(`--agents: unknown agent ${unknown.join(', ')}; the agents are ${AGENT_NAMES.join(', ')}`);
      if (!names.length) throw new UsageError(`--agents needs agent names: ${AGENT_NAMES.join(', ')}`);
      const findings = await doctor({ url, dbs: cfg.dbs, agents: names, edges: loadEdgeConfig().metrics });
      if (json) out(JSON.stringify({ ok: !findings.some((f) => f.level === 'problem'), findings }, null, 2));
      else for (const l of formatFindings(findings)) out(l);
      return findings.some((f) => f.level === 'problem') ? 1 : 0;
    }
    case 'migrate-db': {
      const toPrefix = flag(args, 'to-prefix');
      if (!toPrefix)
        throw new UsageError('migrate-db needs --to-prefix P (the new databases are P{transfers,catalog,config})');
      const report = await migrateDb({
        sourceUrl: url,
        fromPrefix: cfg.dbPrefix,
        toPrefix,
        targetUrl: flag(args, 'target-url'),
        log,
        signal: stopSignal(),
      });
      if (json) out(JSON.stringify(report, null, 2));
      return 0;
    }
    default:
      throw new UsageError(`unknown operations command ${command}`);
  }
}
