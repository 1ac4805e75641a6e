/**
 * What each command takes, in one table: `couchstage help` lists it, and `couchstage <command>
 * --help` (or `-h`, or `couchstage help <command>`) prints one entry and does nothing else, so
 * asking how a command works never runs it.
 */
import { AGENT_NAMES, AGENT_REGISTRY, agentList } from '../../../agents/registry';
import { CATALOG_HELP } from './catalog';
import { GATEWAY_DETAILS } from '../../gateway/cli';

export interface CommandUsage {
  readonly name: string;
  /** The command line after `couchstage`. */
  readonly synopsis: string;
  /** What it does, in the list of `couchstage help` (lines of at most ~70 characters). */
  readonly summary: readonly string[];
  /** Options and output, shown by `couchstage <command> --help` only. */
  readonly details?: readonly string[];
}

export const COMMANDS: readonly CommandUsage[] = [
  {
    name: 'start',
    synopsis: 'start [--no-demo] [--no-demo-users] [--no-traffic] [--demo-files N]',
    summary: [
      'run the whole system: server (embedded unless COUCHDB_URL is set),',
      'agents, and with the demo storage, sites and traffic of N files; the',
      'demo users (known passwords) only on the embedded server or with',
      '--demo-users; --no-demo-users removes any that still have them',
    ],
  },
  {
    name: 'deploy',
    synopsis:
      'deploy [--demo-users] [--jwt-jwks FILE --jwt-issuer ISS [--jwt-roles-claim PATH] [--jwt-ops-group G] [--jwt-user-group G]]',
    summary: ['create databases, security, users and design documents (idempotent)'],
    details: [
      "--jwt-jwks FILE        accept Bearer tokens signed by this JWKS's keys (RSA, EC; by kid)",
      '--jwt-issuer ISS       the one issuer accepted (iss); required with --jwt-jwks',
      '--jwt-roles-claim P    where the groups are (default wlcg\\.groups; `.` nests, `\\.` is a dot)',
      '--jwt-ops-group G      token group that is couchstage-ops (database admin)',
      '--jwt-user-group G     token group that is a couchstage user (member)',
    ],
  },
  {
    name: 'put',
    synopsis: 'put (LOCAL_FILE | --random BYTES) --lfn LFN --site SITE [--backend auto|gfal2|native] [--shell]',
    summary: [
      "put a job's output file at the site's PFN for LFN (the demo storage too)",
      'and print the size and adler32 its transfer document declares',
    ],
    details: [
      'LFN must be in your own source area (/store/temp/user/<you>/ unless the site says otherwise).',
      '--random BYTES  random bytes instead of a local file',
      '--shell         print SIZE=... ADLER32=... PFN=... for eval',
      '--json          one JSON object',
    ],
  },
  {
    name: 'submit',
    synopsis: 'submit [FILE|-]',
    summary: ['submit transfer documents (JSON object, array or NDJSON) via _bulk_docs'],
    details: ['FILE or - (stdin, the default). Every document is checked first; if one is malformed nothing is sent.'],
  },
  {
    name: 'status',
    synopsis: 'status [--all | --user U] [--workflow W] [--json]',
    summary: ['files and sizes per state, of your own workflows by default'],
    details: [
      "--all           every user's workflows",
      "--user U        that user's workflows",
      '--workflow W    one workflow (of yours, or of --user U)',
      '--json          one JSON object; sizes in bytes',
    ],
  },
  {
    name: 'files',
    synopsis: 'files --workflow W [--state S] [--user U] [--json]',
    summary: ['the files of one of your workflows: state, size, LFN, failure reason'],
    details: [
      '--workflow W    the workflow (required)',
      '--state S       only files in this state (new, acquired, submitted, retry, done, failed, killed, expired)',
      "--user U        another user's workflow (operators only: failure reasons reach only their owner)",
      '--json          JSON lines: one object per file (id, state, size in bytes, LFNs, failure_reason, attempts)',
    ],
  },
  {
    name: 'kill',
    synopsis: 'kill ID... | --workflow W [--user U]',
    summary: ['ask to kill pending transfers'],
    details: [
      'Prints each transfer it asked to kill (or could not), and one line counting the ones left as they were.',
      '--json prints every outcome.',
    ],
  },
  {
    name: 'retry',
    synopsis: 'retry ID... | --workflow W [--user U]',
    summary: ['ask to retry failed, killed or expired transfers'],
    details: [
      'Prints each transfer it asked to retry (or could not), and one line counting the ones left as they were.',
      '--json prints every outcome.',
    ],
  },
  {
    name: 'agent',
    synopsis:
      'agent NAME [--once] [--backend auto|gfal2|native|instant] [--instance ID] [--metrics-port N] [--jobs N (worker: jobs in flight)]',
    summary: [`run one agent: ${agentList()}`],
    details: [
      ...AGENT_REGISTRY.map((a) => `${a.name.padEnd(16)}${a.help}${a.needsBackend ? ' (--backend)' : ''}`),
      'NAME,NAME       several agents over one feed (scheduler,retrier share their tracker)',
    ],
  },
  {
    name: 'catalog',
    synopsis: 'catalog QUERY [ARGS]',
    summary: [
      'catalogue queries and migration (couchstage catalog help):',
      'datasets, blocks, files, guid, lfn, replicas, locations, parents,',
      'children, site, ls, usage, migrate --to DB|URL',
    ],
  },
  {
    name: 'replicate',
    synopsis: 'replicate (--dataset D | LFN...) --to SITE[,SITE] [--from SITE] [--wait]',
    summary: ['copy catalogued files or a dataset to more sites (a request)'],
  },
  {
    name: 'upload',
    synopsis: 'upload PATH... --site SITE --dataset D [--lfn-dir DIR] [--backend auto|gfal2|native] [--wait]',
    summary: ['copy local files or a directory to a site and register them as a dataset'],
  },
  {
    name: 'delete',
    synopsis: 'delete (--dataset D | LFN...) --site SITE[,SITE] [--wait]',
    summary: ['remove the copies at those sites; files / datasets left without any copy', 'become invalid / DELETED'],
  },
  { name: 'request', synopsis: 'request ID [--wait]', summary: ['show a data-handling request'] },
  {
    name: 'quota',
    synopsis: 'quota set USER --bytes N --files N | quota show [USER]',
    summary: ['per-user quota (operators set it) and the usage it is checked against'],
  },
  {
    name: 'upgrade',
    synopsis: 'upgrade',
    summary: [
      'staged view upgrade: build changed views in _design/<name>-staged, COPY over',
      'the live doc, clean up (resumable); unchanged views are replaced directly',
    ],
  },
  {
    name: 'migrate-db',
    synopsis: 'migrate-db --to-prefix P [--target-url URL]',
    summary: [
      'replicate to new databases, build their indexes, pause writes, catch up,',
      'verify, switch agents to them',
    ],
  },
  {
    name: 'compact',
    synopsis: 'compact [--every 12h]',
    summary: ['database and view compaction and _view_cleanup, once or on a schedule'],
  },
  {
    name: 'archive',
    synopsis: 'archive [--days N]',
    summary: ['move terminal transfers older than expiration_days to <transfers>_archive'],
  },
  {
    name: 'doctor',
    synopsis: 'doctor [--agents a,b]',
    summary: [
      "check server, design docs, indexes, agents' heartbeats, storage elements;",
      'exit code 1 when something is wrong',
    ],
    details: [`--agents a,b    only these agents must be alive (default: all of them, ${AGENT_NAMES.join(',')})`],
  },
  {
    name: 'edge',
    synopsis: 'edge [status] --site SITE[,SITE] [--local URL] [--port N] [--host H] [--metrics-port N]',
    summary: [
      "a site's outbox: a local store jobs PUT to as they would centrally,",
      'replicated to central (push) and back for its sites (pull); status',
      'prints the backlog, the oldest waiting document, the last replication',
    ],
    details: [
      'COUCHSTAGE_EDGE_CENTRAL_URL (or --central URL): central, as the edge account',
      '  (roles couchstage-edge and couchstage-edge-site-<SITE> for each site)',
      "--local URL      the site's CouchDB (admin credentials; or COUCHSTAGE_EDGE_LOCAL_URL);",
      '                 default: the embedded server under <data>/edge on --port (5986), --host',
      "--local-prefix P the local databases' prefix (default COUCHSTAGE_DB_PREFIX, as central)",
      'COUCHSTAGE_EDGE_USERS_FROM: central as a server admin, to copy the user accounts',
      '--metrics-port N Prometheus metrics (default 9470); --interval S backlog measured every S s (5)',
    ],
  },
  {
    name: 'gateway',
    synopsis: 'gateway --cert F --key F --map FILE [--ca-dir DIR] [--listen H:P]',
    summary: [
      'TLS front for certificate holders (grid jobs): verifies client',
      'certificates and proxies against the CA directory, maps the DN to a',
      'user and forwards with CouchDB proxy authentication',
    ],
    details: GATEWAY_DETAILS,
  },
  { name: 'help', synopsis: 'help [COMMAND]', summary: ["this text, or one command's usage"] },
];

const COLUMN = 27;

const GLOBAL = `Options:
  --json                   machine-readable output
  --as NAME --password P   act as this CouchDB user (also COUCHSTAGE_USER / COUCHSTAGE_PASSWORD;
                           --user-name NAME is the same as --as NAME)
  --help, -h               a command's usage (nothing is run)`;

const ENVIRONMENT = `Environment: COUCHDB_URL (http://user:pass@host:5984; unset = embedded server),
COUCHSTAGE_DB_PREFIX, COUCHSTAGE_DATA_DIR, COUCHSTAGE_PORT. See README.md.`;

function listing(c: CommandUsage): string[] {
  const indent = ' '.repeat(COLUMN);
  // A synopsis that leaves room puts the summary beside it, else below it.
  if (c.synopsis.length + 2 + 2 <= COLUMN)
    return [`  ${c.synopsis.padEnd(COLUMN - 2)}${c.summary[0]}`, ...c.summary.slice(1).map((l) => indent + l)];
  return [`  ${c.synopsis}`, ...c.summary.map((l) => indent + l)];
}

export const HELP = `couchstage - asynchronous stage-out on CouchDB

Usage: couchstage <command> [options]

Commands:
${COMMANDS.flatMap(listing).join('\n')}

${GLOBAL}

${ENVIRONMENT}`;

/** One command's usage, or undefined for a command that does not exist. */
export function commandHelp(name: string): string | undefined {
  if (name === 'catalog') return CATALOG_HELP;
  const c = COMMANDS.find((x) => x.name === name);
  if (!c) return undefined;
  const lines = [`Usage: couchstage ${c.synopsis}`, '', ...c.summary];
  if (c.details) lines.push('', ...c.details.map((l) => '  ' + l));
  return `${lines.join('\n')}\n\n${GLOBAL}`;
}
