/**
 * `couchstage deploy`: databases, `_security` objects, users and design documents, idempotently.
 * couchdb-bootstrap creates the databases, writes `_security` and pushes users (it diffs each user
 * against the server and skips unchanged ones). Design documents go through our own step because
 * we compare content hashes (a new deploy version alone is not a change) and attachments are
 * inline: couchdb-bootstrap's `_attachments/` folder handling answers 500 on the embedded server.
 */
import { promisify } from 'util';
import { buildDesignDocs } from '../design';
import { deployVersion } from '../design/version';
import type { BuiltDesign } from '../design/types';
import { Role, type DbRole } from '../views/schema';
import { connect, statusOf, type Server } from '../agents/lib/couch';
import { projectRoot } from '../agents/lib/config';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const bootstrap = promisify(require('couchdb-bootstrap')) as (url: string, source: object, options: object) => Promise<unknown>;

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
}

export type DeployAction = 'created' | 'updated' | 'unchanged';

export interface DeployReport {
  readonly version: string;
  readonly designs: { db: string; id: string; action: DeployAction }[];
  readonly indexes: { db: string; name: string; result: string }[];
}

/** Users read everything in the three databases; writes are decided by validate_doc_update. */
export function securityObject() {
  return {
    admins: { names: [] as string[], roles: [Role.ops] },
    members: { names: [] as string[], roles: [Role.user, Role.agent, Role.ops] },
  };
}

export function userDoc(u: UserSpec) {
  return { _id: 'org.couchdb.user:' + u.name, type: 'user', name: u.name, roles: [...u.roles], password: u.password };
}

export async function pushDesign(server: Server, dbName: string, built: BuiltDesign): Promise<DeployAction> {
  const db = server.use<Record<string, unknown>>(dbName);
  type Existing = { _rev: string; couchstage?: { hash?: string } };
  let existing: Existing | null = null;
  try {
    existing = (await db.get(built.id)) as unknown as Existing;
  } catch (err) {
    if (statusOf(err) !== 404) throw err;
  }
  if (existing && existing.couchstage?.hash === built.hash) return 'unchanged';
  await db.insert({ ...built.doc, ...(existing ? { _rev: existing._rev } : {}) } as never);
  return existing ? 'updated' : 'created';
}

export async function deploy(opts: DeployOptions): Promise<DeployReport> {
  const log = opts.log || (() => undefined);
  const root = opts.root || projectRoot();
  const version = opts.version || deployVersion(root);
  const server = connect(opts.url);
  const source: Record<string, object> = {};
  for (const role of Object.keys(opts.dbs) as DbRole[]) source[opts.dbs[role]] = { _security: securityObject() };
  if (opts.users && opts.users.length) {
    source._users = Object.fromEntries(opts.users.map((u) => ['org.couchdb.user:' + u.name, userDoc(u)]));
  }
  await bootstrap(opts.url, source, { concurrency: 4 });
  log(`databases ${Object.values(opts.dbs).join(', ')}: present and secured`);
  if (opts.users?.length) log(`users ${opts.users.map((u) => u.name).join(', ')}: present`);

  const built = await buildDesignDocs(root, version);
  const designs: DeployReport['designs'] = [];
  const indexes: DeployReport['indexes'] = [];
  for (const b of built) {
    const dbName = opts.dbs[b.db];
    const action = await pushDesign(server, dbName, b);
    designs.push({ db: dbName, id: b.id, action });
    log(`${dbName}/${b.id}: ${action}`);
    for (const idx of b.indexes) {
      const res = (await server.use(dbName).createIndex({
        index: { fields: idx.fields as never, ...(idx.partial_filter_selector ? { partial_filter_selector: idx.partial_filter_selector as never } : {}) },
        ddoc: 'idx-' + idx.name,
        name: idx.name,
        type: 'json',
      })) as { result: string };
      indexes.push({ db: dbName, name: idx.name, result: res.result });
      log(`${dbName} index ${idx.name}: ${res.result}`);
    }
  }
  return { version, designs, indexes };
}
