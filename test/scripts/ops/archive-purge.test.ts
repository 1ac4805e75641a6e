/**
 * archive leaves nothing of an archived transfer in the hot database where the server can purge
 * (CouchDB: no tombstone, so not in `_changes` from 0), and a deletion where it cannot (the embedded
 * server); either way the archive holds the very revision, and pending transfers stay.
 */
import { createTestEnv, type TestEnv } from '../../support/env';
import { capabilities } from '../../../agents/platform/capabilities';
import { archive, archiveDbName } from '../../../scripts/ops/archive';
import { http } from '../../../scripts/ops/http';
import { seedTransfers } from './support';

jest.setTimeout(300_000);

let env: TestEnv;

beforeAll(async () => {
  env = await createTestEnv();
}, 120_000);

afterAll(async () => {
  await http(env.adminUrl, 'DELETE', `/${archiveDbName(env.dbs)}`).catch(() => undefined);
  await env?.cleanup();
});

it('purges the tombstones of archived transfers where the server has _purge, and only theirs', async () => {
  const caps = await capabilities(env.adminUrl);
  const admin = env.admin.use(env.dbs.transfers);
  const ids = await seedTransfers(env, 130);
  const old = new Date(Date.now() - 40 * 86_400_000).toISOString();
  // 120 of them finished 40 days ago (more than one purge request of 100 ids), 10 still pending.
  const docs = (await admin.fetch({ keys: ids.slice(0, 120) })).rows.map((r) => ({
    ...('doc' in r ? r.doc : {}),
    state: 'done',
    finished_at: old,
  }));
  expect((await admin.bulk({ docs: docs as never[] })).filter((r) => r.error)).toEqual([]);
  const revs = new Map(
    (await admin.fetch({ keys: ids.slice(0, 120) })).rows.map((r) => [r.key, 'value' in r ? r.value!.rev : '']),
  );

  const report = await archive(env.adminUrl, env.dbs);
  expect(report.deleted).toBe(120);
  expect(report.purged).toBe(caps.purge ? 120 : 0);

  for (const id of [ids[0], ids[119]])
    expect((await http(env.adminUrl, 'GET', `/${env.dbs.transfers}/${id}`)).status).toBe(404);
  const changes = await http<{ results: { id: string; deleted?: boolean }[] }>(
    env.adminUrl,
    'GET',
    `/${env.dbs.transfers}/_changes?since=0`,
  );
  const archivedInFeed = changes.body.results.filter((c) => ids.slice(0, 120).includes(c.id));
  expect(archivedInFeed.length).toBe(caps.purge ? 0 : 120);
  expect(archivedInFeed.every((c) => c.deleted)).toBe(true);
  // The pending ones are untouched; the archive has the very revisions.
  const pending = await admin.fetch({ keys: ids.slice(120) });
  expect(pending.rows.every((r) => 'doc' in r && r.doc)).toBe(true);
  const arch = await env.admin.use(archiveDbName(env.dbs)).fetch({ keys: ids.slice(0, 120) });
  expect(arch.rows.map((r) => ('value' in r ? r.value!.rev : null))).toEqual(
    ids.slice(0, 120).map((id) => revs.get(id)),
  );
  // A second run finds nothing to move or purge.
  const again = await archive(env.adminUrl, env.dbs);
  expect([again.deleted, again.purged]).toEqual([0, 0]);
});
