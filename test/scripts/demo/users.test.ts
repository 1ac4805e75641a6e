/**
 * scripts/demo/users.ts on the real server: it recognises a password from the hash the server itself
 * stored (sha1 pbkdf2 on the embedded server, sha256 with 600000 iterations on CouchDB 3.4), removes
 * an account that still has its demo password only when asked, and leaves one with another password.
 */
import { connect, statusOf } from '../../../agents/platform/couch';
import { userDoc } from '../../../scripts/deploy';
import { hasPassword, retireDemoUsers } from '../../../scripts/demo/users';
import { Role } from '../../../views/schema';
import { adminUrl, randomName } from '../../support/env';

describe('demo users that still have their known password', () => {
  const url = adminUrl();
  const users = connect(url).use<Record<string, unknown>>('_users');
  const demo = { name: randomName('demo_'), password: 'demo-known', roles: [Role.user] };
  const real = { name: randomName('demo_'), password: 'someone-s-own', roles: [Role.user] };
  const exists = async (name: string) => {
    try {
      await users.get('org.couchdb.user:' + name);
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw err;
    }
  };

  beforeAll(async () => {
    for (const u of [demo, real]) await users.insert(userDoc(u) as never); // the server hashes the password
  });
  afterAll(async () => {
    for (const u of [demo, real]) {
      try {
        const doc = await users.get('org.couchdb.user:' + u.name);
        await users.destroy(doc._id, doc._rev as string);
      } catch {
        /* gone already */
      }
    }
  });

  it('checks a password against the hash the server stored', async () => {
    const doc = (await users.get('org.couchdb.user:' + demo.name)) as never;
    expect(hasPassword(doc, demo.password)).toBe(true);
    expect(hasPassword(doc, demo.password + 'x')).toBe(false);
    expect(hasPassword(doc, '')).toBe(false);
    expect(hasPassword({ ...(doc as object), iterations: 1e9 } as never, demo.password)).toBe(false); // no hour-long hash
  });

  it('warns without being asked, removes when asked, and leaves another password alone', async () => {
    const lines: string[] = [];
    const asDemo = [demo, { ...real, password: 'what-the-demo-would-use' }];
    expect(await retireDemoUsers(url, asDemo, false, (l) => lines.push(l))).toEqual([demo.name]);
    expect(lines).toEqual([
      `demo users: warning: ${demo.name} still has its demo password ${demo.password}; --no-demo-users removes it`,
    ]);
    expect([await exists(demo.name), await exists(real.name)]).toEqual([true, true]);
    expect(await retireDemoUsers(url, asDemo, true, (l) => lines.push(l))).toEqual([demo.name]);
    expect(lines[1]).toBe(`demo users: removed ${demo.name}, which still had its demo password`);
    expect([await exists(demo.name), await exists(real.name)]).toEqual([false, true]);
    expect(await retireDemoUsers(url, asDemo, true, (l) => lines.push(l))).toEqual([]);
  });
});
