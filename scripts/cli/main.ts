/**
 * The `couchstage` command. Each command lives in scripts/cli/commands/; this file only dispatches.
 * Exit codes: 0 ok, 1 some documents refused or a command failed, 2 bad usage or input.
 */
import { loadCertConfig, loadConfig, serverUrl, ConfigError } from '../../agents/platform/config';
import { useClientCertificate } from '../../agents/platform/client-cert';
import { GATEWAY_VALUED, runGateway } from '../gateway/cli';
import { describeError } from '../../agents/platform/couch';
import { runAgentProcess } from '../../agents/main';
import { agentList } from '../../agents/registry';
import type { BackendName } from '../../agents/backends/open';
import { flag, parseArgs, UsageError, type Args } from '../client/args';
import { context } from '../client/context';
import { runUserFlag } from './commands/user-flags';
import { DEFAULT_DEMO_FILES, runStart } from './commands/start';
import { runStatus } from './commands/status';
import { runCatalog } from './commands/catalog';
import { runSubmit } from './commands/submit';
import { deploy, type DeployOptions } from '../deploy';
import { DEMO_USERS } from './commands/start';
import { runDelete, runReplicate, runRequestShow, runUpload } from './commands/datahandling';
import { runQuota } from './commands/quota';
import { runPut } from './commands/put';
import { OPS_VALUED, runOps } from './commands/ops';
import { runFiles } from './commands/files';
import { EDGE_VALUED, runEdge } from './commands/edge';
import { commandHelp, HELP } from './commands/usage';
import { connectionFailure, unreachableMessage } from '../client/connection';

export { HELP };

/** Every option that takes a value: `--name VALUE` and `--name=VALUE` are then the same. */
export const VALUED = [
  'user',
  'workflow',
  'as',
  'user-name',
  'password',
  'backend',
  'instance',
  'metrics-port',
  'jobs',
  'demo-files',
  'block',
  'to',
  'dataset',
  'from',
  'site',
  'lfn-dir',
  'timeout',
  'bytes',
  'files',
  'state',
  'lfn',
  'random',
  'jwt-jwks',
  'jwt-issuer',
  'jwt-roles-claim',
  'jwt-ops-group',
  'jwt-user-group',
  ...OPS_VALUED,
  ...EDGE_VALUED,
  ...GATEWAY_VALUED,
];

/** One subcommand: its parsed arguments in, its exit code out. */
type Command = (args: Args, out: (line: string) => void, err: (line: string) => void) => Promise<number>;

async function startCommand(args: Args, out: (line: string) => void): Promise<number> {
  const files = flag(args, 'demo-files');
  if (files !== undefined && !/^\d+$/.test(files)) throw new UsageError('--demo-files must be a number of files');
  const demo = args.flags['no-demo'] === true ? false : args.flags.demo === true ? true : undefined;
  const demoUsers = args.flags['no-demo-users'] === true ? false : args.flags['demo-users'] === true ? true : undefined;
  return await runStart(
    {
      demo,
      demoUsers,
      traffic: args.flags['no-traffic'] !== true,
      demoFiles: files === undefined ? DEFAULT_DEMO_FILES : Number(files),
    },
    out,
  );
}

function jwtFlags(args: Args): DeployOptions['jwt'] {
  const jwksFile = flag(args, 'jwt-jwks');
  const issuer = flag(args, 'jwt-issuer');
  const rest = {
    rolesClaim: flag(args, 'jwt-roles-claim'),
    opsGroup: flag(args, 'jwt-ops-group'),
    userGroup: flag(args, 'jwt-user-group'),
  };
  if (jwksFile === undefined) {
    if (issuer !== undefined || Object.values(rest).some((v) => v !== undefined))
      throw new UsageError('--jwt-issuer, --jwt-roles-claim, --jwt-*-group need --jwt-jwks FILE');
    return undefined;
  }
  // Without an issuer CouchDB would take any iss signed by these keys.
  if (!issuer) throw new UsageError('--jwt-jwks needs --jwt-issuer ISS (the one issuer accepted)');
  return { jwksFile, issuer, ...rest };
}

async function deployCommand(args: Args, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const cfg = loadConfig();
  // --demo (the old name) only on the embedded server: accounts with known passwords on CouchDB need --demo-users
  const demoUsers = args.flags['demo-users'] === true || (args.flags.demo === true && !cfg.couchUrl);
  if (args.flags.demo === true && !demoUsers)
    err('deploy: demo users not created on CouchDB (known passwords); --demo-users creates them');
  const report = await deploy({
    url: serverUrl(cfg),
    dbs: cfg.dbs,
    users: demoUsers ? DEMO_USERS : [],
    log: args.flags.json ? undefined : out,
    jwt: jwtFlags(args),
    proxySecretFile: loadCertConfig().proxySecretFile,
  });
  if (args.flags.json) out(JSON.stringify(report, null, 2));
  return 0;
}

async function agentCommand(args: Args): Promise<number> {
  const port = flag(args, 'metrics-port');
  if (port !== undefined && !/^\d+$/.test(port)) throw new UsageError('--metrics-port must be a port number');
  const backend = (flag(args, 'backend') || 'auto') as BackendName;
  if (!['auto', 'gfal2', 'native', 'instant'].includes(backend))
    throw new UsageError(`--backend must be auto, gfal2, native or instant`);
  if (!args.positional[0]) throw new UsageError(`agent needs a name: ${agentList()}`);
  const jobs = flag(args, 'jobs');
  if (jobs !== undefined && !/^[1-9]\d*$/.test(jobs)) throw new UsageError('--jobs must be a positive number');
  if (jobs !== undefined && args.positional[0] !== 'worker')
    throw new UsageError('--jobs is for the worker (transfer jobs in flight)');
  return await runAgentProcess(args.positional[0], {
    once: args.flags.once === true,
    backend,
    instance: flag(args, 'instance'),
    metricsPort: port === undefined ? undefined : Number(port),
    jobs: jobs === undefined ? undefined : Number(jobs),
  });
}

async function helpCommand(args: Args, out: (line: string) => void): Promise<number> {
  const topic = args.positional[0];
  if (topic === undefined) {
    out(HELP);
    return 0;
  }
  const usage = commandHelp(topic);
  if (usage === undefined) throw new UsageError(`no command "${topic}"\n\n${HELP}`);
  out(usage);
  return 0;
}

async function overallHelp(_args: Args, out: (line: string) => void): Promise<number> {
  out(HELP);
  return 0;
}

/** Commands of the operator tools (scripts/cli/commands/ops.ts), which read their own configuration. */
const opsCommand =
  (name: string): Command =>
  (args, out) =>
    runOps(name, args, out);

/** Every subcommand by name; no name (or only --help) prints the overview. */
const COMMANDS: ReadonlyMap<string | undefined, Command> = new Map<string | undefined, Command>([
  ['start', startCommand],
  ['deploy', deployCommand],
  ['submit', (args, out) => runSubmit(context(args, out), args.positional)],
  ['status', (args, out) => runStatus(context(args, out), args)],
  ['files', (args, out) => runFiles(context(args, out), args)],
  ['catalog', (args, out) => runCatalog(context(args, out), args)],
  ['kill', (args, out) => runUserFlag(context(args, out), 'kill', args)],
  ['retry', (args, out) => runUserFlag(context(args, out), 'retry', args)],
  ['replicate', (args, out) => runReplicate(context(args, out), args)],
  ['upload', (args, out) => runUpload(context(args, out), args)],
  ['put', (args, out) => runPut(context(args, out), args)],
  ['delete', (args, out) => runDelete(context(args, out), args)],
  ['request', (args, out) => runRequestShow(context(args, out), args)],
  ['quota', (args, out) => runQuota(context(args, out), args)],
  ['agent', agentCommand],
  ['edge', (args, out) => runEdge(args, out)],
  ['upgrade', opsCommand('upgrade')],
  ['migrate-db', opsCommand('migrate-db')],
  ['compact', opsCommand('compact')],
  ['archive', opsCommand('archive')],
  ['doctor', opsCommand('doctor')],
  ['gateway', (args, out) => runGateway(args, out)],
  ['help', helpCommand],
  [undefined, overallHelp],
  ['--help', overallHelp],
  ['-h', overallHelp],
]);

export async function main(
  argv: readonly string[],
  out: (line: string) => void = console.log,
  err: (line: string) => void = console.error,
): Promise<number> {
  const [command, ...rest] = argv;
  // Asking how a command works never runs it, whatever else is on the line.
  if (
    command !== undefined &&
    (rest.includes('--help') || rest.includes('-h') || (command === 'catalog' && rest[0] === 'help'))
  ) {
    const usage = commandHelp(command);
    if (usage === undefined) {
      err(`unknown command "${command}"\n\n${HELP}`);
      return 2;
    }
    out(usage);
    return 0;
  }
  try {
    const args = parseArgs(rest, VALUED);
    const run = COMMANDS.get(command);
    if (!run) {
      err(`unknown command "${command}"\n\n${HELP}`);
      return 2;
    }
    // Through the TLS gateway by certificate: every request of this process presents it.
    if (command !== 'gateway') useClientCertificate(loadCertConfig(), loadConfig().couchUrl);
    return await run(args, out, err);
  } catch (e) {
    return failed(command, e, err);
  }
}

/** A command that threw: bad usage or configuration is exit 2, anything else (an unreachable server too) 1. */
function failed(command: string | undefined, e: unknown, err: (line: string) => void): number {
  if (e instanceof UsageError || e instanceof ConfigError) {
    err(`couchstage ${command}: ${e.message}`);
    return 2;
  }
  const failure = connectionFailure(e);
  if (failure) {
    err(`couchstage ${command}: ${unreachableMessage(configuredUrl(), failure)}`);
    return 1;
  }
  err(`couchstage ${command}: ${describeError(e)}`);
  return 1;
}

/** The server this process talks to, for messages (null when the configuration names none). */
function configuredUrl(): string | null {
  try {
    return serverUrl(loadConfig());
  } catch {
    return null;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
