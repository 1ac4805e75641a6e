/**
 * `couchstage deploy`: databases, `_security` objects, users and design documents, idempotently.
 * couchdb-bootstrap creates the databases, writes `_security` and pushes users (it diffs each user
 * against the server and skips unchanged ones); on a cluster the databases are created first, with
 * the shard counts of ops/shards.ts, and bootstrap finds them. Design documents go through our own step because
 * we compare content hashes (a new deploy version alone is not a change) and attachments are
 * inline: couchdb-bootstrap's `_attachments/` folder handling answers 500 on the embedded server.
 * A design document is replaced when its content differs from what this code builds, even when its
 * version stamp matches (design/content-hash.ts): the stamp is part of the document it vouches for.
 */
import { promisify } from 'util';
import { buildDesignDocs } from '../design';
import { designIsCurrent } from '../design/content-hash';
import { deployVersion } from '../design/version';
import type { BuiltDesign } from '../design/types';
import { Role, type DbRole } from '../views/schema';
import { onNodes } from '../agents/platform/nodes';
import { connect, type Server } from '../agents/platform/couch';
import { update, type RawDoc } from '../agents/platform/docs';
import { projectRoot } from '../agents/platform/config';
import { configureServer, type ServerConfigReport } from './ops/server-config';
import { configureProxyAuth } from './ops/proxy-auth';
import { placeDatabases, type Placement } from './ops/shards';
import { configureTokens, type JwtDeploy } from './ops/jwt-config';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- couchdb-bootstrap ships no type declarations
const bootstrap = promisify(require('couchdb-bootstrap')) as (
  url: string,
  source: object,
  options: object,
) => Promise<unknown>;

export interface UserSpec {
  readonly name: string;
  readonly password: string;
  readonly roles: readonly string[];
}

export interface DeployOptions {
  /** Server URL with admin credentials. */
  readonly url: string;
  readonly dbs: Record<DbRole, string>;
  readonly users?: readonly UserSpec[];
  readonly root?: string;
  readonly version?: string;
  readonly log?: (line: string) => void;
  /** Bearer tokens of one issuer (ops/jwt-config.ts); groups named here get couchstage's roles. */
  readonly jwt?: JwtDeploy & TokenGroups;
  /** The TLS gateway's proxy secret (COUCHSTAGE_PROXY_SECRET_FILE): configure proxy authentication with it. */
  readonly proxySecretFile?: string | null;
}

/**
 * Token groups given couchstage's rights through `_security`, which both engines apply natively:
 * CouchDB cannot rename a role, and validation already treats a database admin role as ops.
 */
export interface TokenGroups {
  /** e.g. `/cms/couchstage-ops`: database admin, so ops (views/lib/vdu.ts actorOf). */
  readonly opsGroup?: string;
  /** e.g. `/cms`: a member of transfers, catalog and config, so a user. */
  readonly userGroup?: string;
}

export type DeployAction = 'created' | 'updated' | 'unchanged';

export interface DeployReport {
  readonly version: string;
  readonly designs: { db: string; id: string; action: DeployAction }[];
  /** Server settings the page needs (CSP for attachments, the Basic challenge): see ops/server-config.ts. */
  readonly server: ServerConfigReport;
  /** Token settings changed, `[section] key: old -> new` (empty without --jwt-jwks). */
  readonly tokens?: string[];
  /** On a cluster only: each database's q and n (scripts/ops/shards.ts). */
  readonly placement?: Placement;
}

/**
 * Users read everything in transfers, catalog and config; writes are decided by
 * validate_doc_update. The service database (the agents' checkpoints, `_local` documents no
 * validation function sees) admits the agent role alone, and operators as its admins.
 */
export function securityObject(role?: DbRole, groups: TokenGroups = {}) {
  const ops = groups.opsGroup ? [groups.opsGroup] : [];
  const users = groups.userGroup && role !== 'service' ? [groups.userGroup] : [];
  return {
    admins: { names: [] as string[], roles: [Role.ops, ...ops] },
    members: { names: [] as string[], roles: [...membersOf(role), ...users] },
  };
}

/** An edge account forwards transfers only: it is a member of `transfers` and of nothing else. */
function membersOf(role?: DbRole): string[] {
  if (role === 'service') return [Role.agent];
  if (role === 'transfers') return [Role.user, Role.agent, Role.ops, Role.edge];
  return [Role.user, Role.agent, Role.ops];
}

export function userDoc(u: UserSpec) {
  return { _id: 'org.couchdb.user:' + u.name, type: 'user', name: u.name, roles: [...u.roles], password: u.password };
}

export async function pushDesign(server: Server, dbName: string, built: BuiltDesign): Promise<DeployAction> {
  let existed = false;
  // One write: a 409 means another deploy changed it meanwhile, and is an error.
  const written = await update<RawDoc>(
    server.use(dbName),
    built.id,
    (existing) => {
      existed = !!existing;
      return designIsCurrent(existing, built) ? null : { ...built.doc, _id: built.id };
    },
    { attempts: 1, attachments: true },
  );
  if (!written) return 'unchanged';
  return existed ? 'updated' : 'created';
}

export async function deploy(opts: DeployOptions): Promise<DeployReport> {
  const log = opts.log || (() => undefined);
  const root = opts.root || projectRoot();
  const version = opts.version || deployVersion(root);
  const server = connect(opts.url);
  const source: Record<string, object> = {};
  for (const role of Object.keys(opts.dbs) as DbRole[])
    source[opts.dbs[role]] = { _security: securityObject(role, opts.jwt) };
  if (opts.users && opts.users.length) {
    source._users = Object.fromEntries(opts.users.map((u) => ['org.couchdb.user:' + u.name, userDoc(u)]));
  }
  // First, so that a caller without server-admin rights reads what to set before the rest fails.
  const serverSettings = await configureServer(opts.url, log);
  const tokens = opts.jwt ? await configureTokens(opts.url, opts.jwt, log) : undefined;
  if (opts.proxySecretFile) await configureProxyAuth(opts.url, opts.proxySecretFile, log);
  // On a cluster the databases are created here with chosen shard counts; bootstrap then finds them.
  const placement = await placeDatabases(opts.url, opts.dbs, log);
  // couchdb-bootstrap has its own nano (callbacks, one URL): one node of a list, the next if it fails.
  await onNodes(opts.url, (node) => bootstrap(node, source, { concurrency: 4 }));
  log(`databases ${Object.values(opts.dbs).join(', ')}: present and secured`);
  if (opts.users?.length) log(`users ${opts.users.map((u) => u.name).join(', ')}: present`);

  const built = await buildDesignDocs(root, version);
  const designs: DeployReport['designs'] = [];
  for (const b of built) {
    const dbName = opts.dbs[b.db];
    const action = await pushDesign(server, dbName, b);
    designs.push({ db: dbName, id: b.id, action });
    log(`${dbName}/${b.id}: ${action}`);
  }
  return {
    version,
    designs,
    server: serverSettings,
    ...(tokens ? { tokens } : {}),
    ...(placement ? { placement } : {}),
  };
}
