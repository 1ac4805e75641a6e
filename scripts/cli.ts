/**
 * The `couchstage` command. Each command lives in scripts/commands/; this file only dispatches.
 * Exit codes: 0 ok, 1 some documents refused or a command failed, 2 bad usage or input.
 */
import { loadConfig, serverUrl, ConfigError } from '../agents/lib/config';
import { describeError } from '../agents/lib/couch';
import { runAgentProcess } from '../agents/main';
import type { BackendName } from '../agents/backends/open';
import { flag, parseArgs, UsageError } from './commands/args';
import { context } from './commands/context';
import { runRequest } from './commands/requests';
import { DEFAULT_DEMO_FILES, runStart } from './commands/start';
import { runStatus } from './commands/status';
import { runCatalog } from './commands/catalog';
import { runSubmit } from './commands/submit';
import { deploy } from './deploy';
import { DEMO_USERS } from './commands/start';
import { runDelete, runReplicate, runRequestShow, runUpload } from './commands/datahandling';
import { runQuota } from './commands/quota';
import { OPS_VALUED, runOps } from './commands/ops';

export const HELP = `couchstage - asynchronous stage-out on CouchDB

Usage: couchstage <command> [options]

Commands:
  start [--no-demo] [--no-traffic] [--demo-files N]
                           run the whole system: server (embedded unless COUCHDB_URL is set),
                           agents, and with the demo storage, sites and traffic of N files
  deploy [--demo]          create databases, security, users and design documents (idempotent)
  submit [FILE|-]          submit transfer documents (JSON object, array or NDJSON) via _bulk_docs
  status [--user U] [--workflow W]   files and bytes per state
  kill ID... | --workflow W [--user U]    ask to kill pending transfers
  retry ID... | --workflow W [--user U]   ask to retry failed, killed or expired transfers
  agent NAME [--once] [--backend auto|gfal2|native|instant] [--instance ID] [--metrics-port N] [--jobs N (worker: jobs in flight)]
                           run one agent: scheduler, worker, retrier, publisher, requests, deleter or stats
  catalog QUERY [ARGS]     catalogue queries and migration (couchstage catalog help):
                           datasets, blocks, files, guid, lfn, replicas, locations, parents,
                           children, site, ls, usage, migrate --to DB|URL
  replicate (--dataset D | LFN...) --to SITE[,SITE] [--from SITE] [--wait]
                           copy catalogued files or a dataset to more sites (a request)
  upload PATH... --site SITE --dataset D [--lfn-dir DIR] [--backend auto|gfal2|native] [--wait]
                           copy local files or a directory to a site and register them as a dataset
  delete (--dataset D | LFN...) --site SITE[,SITE] [--wait]
                           remove the copies at those sites; files / datasets left without any copy
                           become invalid / DELETED
  request ID [--wait]      show a data-handling request
  quota set USER --bytes N --files N | quota show [USER]
                           per-user quota (operators set it) and the usage it is checked against
  upgrade                  staged view upgrade: build changed views in _design/<name>-staged, COPY over
                           the live doc, clean up (resumable); unchanged views are replaced directly
  migrate-db --to-prefix P [--target-url URL]
                           replicate to new databases, build their indexes, pause writes, catch up,
                           verify, switch agents to them
  compact [--every 12h]    database and view compaction and _view_cleanup, once or on a schedule
  archive [--days N]       move terminal transfers older than expiration_days to <transfers>_archive
  doctor [--agents a,b]    check server, design docs, indexes, agents' heartbeats, storage elements;
                           exit code 1 when something is wrong
  help                     this text

Options:
  --json                   machine-readable output
  --as NAME --password P   act as this CouchDB user (also COUCHSTAGE_USER / COUCHSTAGE_PASSWORD)

Environment: COUCHDB_URL (http://user:pass@host:5984; unset = embedded server),
COUCHSTAGE_DB_PREFIX, COUCHSTAGE_DATA_DIR, COUCHSTAGE_PORT. See README.md.`;

const VALUED = ['user', 'workflow', 'as', 'password', 'backend', 'instance', 'metrics-port', 'jobs', 'demo-files', 'block', 'to',
  'dataset', 'from', 'site', 'lfn-dir', 'timeout', 'bytes', 'files', ...OPS_VALUED];

export async function main(argv: readonly string[], out: (line: string) => void = console.log, err: (line: string) => void = console.error): Promise<number> {
  const [command, ...rest] = argv;
  try {
    const args = parseArgs(rest, VALUED);
    switch (command) {
      case 'start': {
        const files = flag(args, 'demo-files');
        if (files !== undefined && !/^\d+$/.test(files)) throw new UsageError('--demo-files must be a number of files');
        const demo = args.flags['no-demo'] === true ? false : args.flags.demo === true ? true : undefined;
        return await runStart({ demo, traffic: args.flags['no-traffic'] !== true, demoFiles: files === undefined ? DEFAULT_DEMO_FILES : Number(files) }, out);
      }
      case 'deploy': {
        const cfg = loadConfig();
        const report = await deploy({ url: serverUrl(cfg), dbs: cfg.dbs, users: args.flags.demo ? DEMO_USERS : [], log: args.flags.json ? undefined : out });
        if (args.flags.json) out(JSON.stringify(report, null, 2));
        return 0;
      }
      case 'submit':
        return await runSubmit(context(args, out), args.positional);
      case 'status':
        return await runStatus(context(args, out), args);
      case 'catalog':
        return await runCatalog(context(args, out), args);
      case 'kill':
      case 'retry':
        return await runRequest(context(args, out), command, args);
      case 'replicate':
        return await runReplicate(context(args, out), args);
      case 'upload':
        return await runUpload(context(args, out), args);
      case 'delete':
        return await runDelete(context(args, out), args);
      case 'request':
        return await runRequestShow(context(args, out), args);
      case 'quota':
        return await runQuota(context(args, out), args);
      case 'agent': {
        const port = flag(args, 'metrics-port');
        if (port !== undefined && !/^\d+$/.test(port)) throw new UsageError('--metrics-port must be a port number');
        const backend = (flag(args, 'backend') || 'auto') as BackendName;
        if (!['auto', 'gfal2', 'native', 'instant'].includes(backend)) throw new UsageError(`--backend must be auto, gfal2, native or instant`);
        if (!args.positional[0]) throw new UsageError('agent needs a name: scheduler, worker, retrier, publisher, requests, deleter or stats');
        const jobs = flag(args, 'jobs');
        if (jobs !== undefined && !/^[1-9]\d*$/.test(jobs)) throw new UsageError('--jobs must be a positive number');
        if (jobs !== undefined && args.positional[0] !== 'worker') throw new UsageError('--jobs is for the worker (transfer jobs in flight)');
        return await runAgentProcess(args.positional[0], { once: args.flags.once === true, backend, instance: flag(args, 'instance'), metricsPort: port === undefined ? undefined : Number(port), jobs: jobs === undefined ? undefined : Number(jobs) });
      }
      case 'upgrade':
      case 'migrate-db':
      case 'compact':
      case 'archive':
      case 'doctor':
        return await runOps(command, args, out);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        out(HELP);
        return 0;
      default:
        err(`unknown command "${command}"\n\n${HELP}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigError) {
      err(`couchstage ${command}: ${e.message}`);
      return 2;
    }
    err(`couchstage ${command}: ${describeError(e)}`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
