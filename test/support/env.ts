/**
 * A fresh, deployed set of databases per test file on the real server (embedded or CouchDB 3.x),
 * with its own users for every role, removed again in afterAll.
 */
import { createHash, randomBytes } from 'crypto';
import { loadConfig, withCredentials, withoutCredentials } from '../../agents/platform/config';
import { connect, statusOf, type Server } from '../../agents/platform/couch';
import { dbNames, GROUP_ROLE_PREFIX, Role, type DbRole } from '../../views/schema';
import { deploy, type DeployReport, type TokenGroups, type UserSpec } from '../../scripts/deploy';
import { jwksFile, TEST_ISSUER } from './issuer';

/** owner, other and member are plain users; member also holds the group role of `group`. */
export type Actor = 'owner' | 'other' | 'member' | 'agent' | 'ops' | 'admin' | 'anonymous';

export interface TestEnv {
  readonly adminUrl: string;
  readonly baseUrl: string;
  readonly prefix: string;
  readonly dbs: Record<DbRole, string>;
  readonly admin: Server;
  /** User names by actor (owner and other are plain users). */
  readonly names: Record<Exclude<Actor, 'anonymous' | 'admin'>, string>;
  /** The group whose role (couchstage-group-<group>) member holds. */
  readonly group: string;
  readonly password: string;
  readonly deployReport: DeployReport;
  /** A server handle acting as one of the test users. */
  as(actor: Actor): Server;
  urlAs(actor: Actor): string;
  cleanup(): Promise<void>;
}

export function adminUrl(): string {
  const url = loadConfig().couchUrl;
  if (!url) throw new Error('COUCHDB_URL is not set: run the tests through jest (test/support/global-setup.ts)');
  return url.replace(/\/+$/, '');
}

export function randomName(prefix: string): string {
  return `${prefix}${randomBytes(5).toString('hex')}`;
}

/** `tokenGroups`: token groups given couchstage's roles in this env's `_security` (deploy --jwt-*-group). */
export async function createTestEnv(opts: { version?: string; tokenGroups?: TokenGroups } = {}): Promise<TestEnv> {
  const url = adminUrl();
  const prefix = randomName('test_') + '_';
  const dbs = dbNames(prefix);
  const tag = prefix.slice(5, 15);
  const password = 'pw-' + randomBytes(6).toString('hex');
  const names = {
    owner: `alice_${tag}`,
    other: `bob_${tag}`,
    member: `carol_${tag}`,
    agent: `agent_${tag}`,
    ops: `ops_${tag}`,
  };
  const group = `higgs_${tag}`;
  const users: UserSpec[] = [
    { name: names.owner, password, roles: [Role.user] },
    { name: names.other, password, roles: [Role.user] },
    { name: names.member, password, roles: [Role.user, GROUP_ROLE_PREFIX + group] },
    { name: names.agent, password, roles: [Role.agent] },
    { name: names.ops, password, roles: [Role.ops] },
  ];
  const jwt = opts.tokenGroups ? { jwksFile: jwksFile(), issuer: TEST_ISSUER, ...opts.tokenGroups } : undefined;
  const deployReport = await deploy({ url, dbs, users, version: opts.version || 'test', jwt });
  const baseUrl = withoutCredentials(url);
  const urlAs = (actor: Actor) =>
    actor === 'admin' ? url : actor === 'anonymous' ? baseUrl : withCredentials(baseUrl, names[actor], password);
  const admin = connect(url);
  return {
    adminUrl: url,
    baseUrl,
    prefix,
    dbs,
    admin,
    names,
    group,
    password,
    deployReport,
    urlAs,
    as: (actor) => connect(urlAs(actor)),
    cleanup: async () => {
      for (const name of Object.values(dbs)) {
        try {
          await admin.db.destroy(name);
        } catch (err) {
          if (statusOf(err) !== 404) throw err;
        }
      }
      const usersDb = admin.use<{ _rev: string }>('_users');
      for (const name of Object.values(names)) {
        try {
          const doc = await usersDb.get('org.couchdb.user:' + name);
          await usersDb.destroy(doc._id, doc._rev);
        } catch (err) {
          if (statusOf(err) !== 404) throw err;
        }
      }
    },
  };
}

/** A valid transfer document as a job would PUT it (id = sha224(source_lfn)). */
const FIXTURE_TIME = new Date().toISOString();

export function transferFixture(user: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const source_lfn =
    (overrides.source_lfn as string) || `/store/temp/user/${user}/wf1/${randomBytes(6).toString('hex')}.root`;
  return {
    _id: createHash('sha224').update(source_lfn).digest('hex'),
    type: 'transfer',
    user,
    workflow: 'wf1',
    jobid: '1',
    job_retry_count: 0,
    file_type: 'output',
    source: 'T2_CH_CERN',
    destination: 'T2_IT_Pisa',
    source_lfn,
    destination_lfn: source_lfn.replace('/store/temp/user/', '/store/user/'),
    size: 1234,
    checksums: { adler32: '0badcafe' },
    publish: false,
    priority: 3,
    state: 'new',
    // When this test file loaded, not a fixed date: the retrier expires a transfer that waited
    // more than max_waiting_time (7 days) since created_at, so a fixed date turned every agent
    // test into an expiry test a week later. One time for every fixture of the file, not each
    // call's own: created_at is immutable, and two fixtures standing for revisions of one document
    // (test/agents/lib/conflicts.test.ts) differed by a millisecond on a loaded machine.
    created_at: FIXTURE_TIME,
    ...overrides,
  };
}
