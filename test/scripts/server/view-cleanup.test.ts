/**
 * A member's `_local/mrviews` cannot make an admin's `_view_cleanup` destroy other databases.
 * The embedded server's view engine keeps the names of its index databases in that local
 * document and destroys the ones it no longer needs; CouchDB keeps view indexes elsewhere, so
 * there the document is inert. Either way the victim database must survive.
 */
import { createTestEnv, randomName, type TestEnv } from '../../support/env';

describe('_view_cleanup and _local/mrviews', () => {
  let env: TestEnv;
  let victim: string;
  beforeAll(async () => {
    env = await createTestEnv();
    victim = randomName('test_victim_');
    await env.admin.db.create(victim);
    await env.admin.use(victim).insert({ _id: 'precious', v: 1 } as never);
  });
  afterAll(async () => {
    await env.admin.db.destroy(victim).catch(() => undefined);
    await env?.cleanup();
  });

  it("destroys only the database's own view indexes, whatever a member lists", async () => {
    const db = env.dbs.transfers;
    const user = env.as('owner').use(db);
    const forged = { views: { 'gone/x': { [victim]: true, _users: true, [env.dbs.catalog]: true } } };
    // A member may or may not be allowed to write the document (CouchDB allows it, as any _local
    // document); what matters is what the cleanup does with it.
    await user.insert({ _id: '_local/mrviews', ...forged } as never).catch(() => undefined);
    const res = await fetch(`${env.baseUrl}/${db}/_view_cleanup`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Authorization:
          'Basic ' +
          Buffer.from(
            new URL(env.adminUrl).username + ':' + decodeURIComponent(new URL(env.adminUrl).password),
          ).toString('base64'),
      },
    });
    expect(res.status).toBeLessThan(300);
    // The cleanup runs in the background on CouchDB; give it time to have done any harm.
    await new Promise((r) => setTimeout(r, 1500));
    const dbs = (await env.admin.db.list()) as string[];
    expect(dbs).toEqual(expect.arrayContaining([victim, '_users', env.dbs.catalog]));
    expect(((await env.admin.use(victim).get('precious')) as unknown as { v: number }).v).toBe(1);
  });
});
