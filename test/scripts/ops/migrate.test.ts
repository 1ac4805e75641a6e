/**
 * migrate-db while agents process transfers and a job keeps submitting: the agents follow the
 * move by themselves, the job follows the read-only marker; afterwards every document of the old
 * databases is in the new ones (same or later revision), every submitted file reached a terminal
 * state exactly once, and the old databases refuse writes.
 */
import * as fs from 'fs';
import { dbNames } from '../../../views/schema';
import { statusOf } from '../../../agents/platform/couch';
import {
  configure,
  makeStorage,
  startAgent,
  submitFiles,
  writeSourceFile,
  type AgentProcess,
  type Storage,
} from '../../support/agents';
import { createTestEnv, transferFixture, type TestEnv } from '../../support/env';
import { migrateDb, missingRevisions } from '../../../scripts/ops/migrate';
import { getReadonly } from '../../../scripts/ops/readonly';
import { http } from '../../../scripts/ops/http';
import { until } from './support';
import type { TransferDoc } from '../../../views/schema';

jest.setTimeout(600_000);

describe('couchstage migrate-db', () => {
  let env: TestEnv;
  let storage: Storage;
  let agents: AgentProcess[] = [];
  let newPrefix: string;

  beforeAll(async () => {
    env = await createTestEnv();
    newPrefix = env.prefix + 'v2_';
    storage = makeStorage(['T2_CH_CERN', 'T2_IT_Pisa']);
    await configure(env, storage, { max_files_per_transfer: 10 });
    agents = [
      startAgent(env, 'scheduler'),
      startAgent(env, 'worker', ['--backend', 'native']),
      startAgent(env, 'retrier'),
    ];
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    if (process.env.COUCHSTAGE_TEST_DUMP)
      for (const a of agents) fs.writeFileSync(`/tmp/i6-migrate-${a.name}.log`, a.output.join(''));
    for (const db of Object.values(dbNames(newPrefix || 'none_')))
      await env?.admin.db.destroy(db).catch((e) => {
        if (statusOf(e) !== 404) throw e;
      });
    await env?.cleanup();
    storage?.cleanup();
  });

  it('moves every document to the new databases while agents work; every file ends exactly once', async () => {
    const first = await submitFiles(env, storage, 200);
    // A job that keeps submitting, and follows the move when its writes are refused.
    const job = { prefix: env.prefix, ids: [] as string[], refusedForMove: 0, errors: [] as string[], stop: false };
    const submitter = (async () => {
      let i = 0;
      while (!job.stop) {
        const lfn = `/store/temp/user/${env.names.owner}/live/out_${i}.root`;
        const f = writeSourceFile(storage, 'T2_CH_CERN', lfn, 2048 + i);
        const doc = transferFixture(env.names.owner, {
          workflow: 'live',
          source: 'T2_CH_CERN',
          destination: 'T2_IT_Pisa',
          source_lfn: lfn,
          destination_lfn: lfn.replace('/temp/user/', '/user/'),
          size: f.size,
          checksums: { adler32: f.adler32 },
          created_at: new Date().toISOString(),
        });
        for (;;) {
          const a = await http(env.urlAs('owner'), 'PUT', `/${dbNames(job.prefix).transfers}/${doc._id}`, {
            body: doc,
          });
          if (a.status === 201 || a.status === 202) break;
          if (a.status === 403) {
            job.refusedForMove++;
            const ro = await getReadonly(env.urlAs('owner'), dbNames(job.prefix).transfers);
            if (ro?.reason === 'moved') job.prefix = ro.moved_to_prefix!;
            await new Promise((r) => setTimeout(r, 200));
            continue;
          }
          job.errors.push(`${a.status} ${JSON.stringify(a.body)}`);
          break;
        }
        job.ids.push(doc._id as string);
        i++;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    const lines: string[] = [];
    const report = await migrateDb({
      sourceUrl: env.adminUrl,
      fromPrefix: env.prefix,
      toPrefix: newPrefix,
      log: (l) => {
        lines.push(l);
        if (process.env.COUCHSTAGE_TEST_DUMP) fs.appendFileSync('/tmp/i6-migrate-lines.log', l + '\n');
      },
      pollMs: 500,
    });
    // Keep the job submitting against the new databases for a moment, then stop it.
    await until('submissions to the new databases', () => job.prefix === newPrefix && job.ids.length > 0, 60_000);
    const n = job.ids.length;
    await until('a few more submissions', () => job.ids.length >= n + 5, 60_000);
    job.stop = true;
    await submitter;
    expect(job.errors).toEqual([]);

    expect(report.dbs.map((d) => d.sourceDocs === d.targetDocs)).toEqual(Object.keys(env.dbs).map(() => true));
    expect(report.dbs.every((d) => d.sourceSeqAtPause === d.sourceSeqAtSwitch)).toBe(true);
    const newDbs = dbNames(newPrefix);
    // Nothing written before or during the migration is missing from the new databases.
    for (const role of ['transfers', 'catalog', 'config'] as const) {
      const oldDocs = await env.admin.use(env.dbs[role]).list();
      const ids = oldDocs.rows.map((r) => r.id).filter((id) => !id.startsWith('_design/'));
      if (!ids.length) continue;
      // POST (fetchRevs): a GET with a few hundred ids in the URL is refused with 431.
      const newDocs = await env.admin.use(newDbs[role]).fetchRevs({ keys: ids });
      expect(newDocs.rows.filter((r) => !('value' in r) || !r.value).map((r) => r.key)).toEqual([]);
      for (const r of newDocs.rows as { id: string; key: string; value: { rev: string } }[]) {
        const oldRev = oldDocs.rows.find((o) => o.id === r.id)!.value.rev;
        expect(parseInt((r as { value: { rev: string } }).value.rev, 10)).toBeGreaterThanOrEqual(parseInt(oldRev, 10));
      }
    }
    // The old databases refuse writes now, with a reason.
    const refused = await http<{ reason?: string }>(env.urlAs('owner'), 'PUT', `/${env.dbs.transfers}/x${Date.now()}`, {
      body: transferFixture(env.names.owner),
    });
    expect(refused.status).toBe(403);

    // Every file (before, during and after the switch) reaches a terminal state exactly once, in the new db.
    const all = [...first.map((d) => d._id), ...job.ids];
    const newDb = env.admin.use(newDbs.transfers);
    const docs = await until(
      'every file terminal in the new databases',
      async () => {
        const res = await newDb.fetch({ keys: all });
        const ds = res.rows.map((r) => ('doc' in r ? r.doc : null)) as unknown as (TransferDoc | null)[];
        return ds.every((d) => d && ['done', 'failed', 'killed', 'expired'].includes(d.state))
          ? (ds as TransferDoc[])
          : undefined;
      },
      180_000,
      1000,
    );
    expect(docs.map((d) => d.state)).toEqual(docs.map(() => 'done'));
    for (const d of docs) expect((d.attempts || []).filter((a) => !a.error)).toHaveLength(1);
    // The agents run on the new databases: their checkpoints and heartbeats are there.
    expect(await missingRevisions(env.adminUrl, env.dbs.transfers, env.adminUrl, newDbs.transfers)).toBe(0);
    const beats = await newDb.list({ startkey: 'heartbeat:', endkey: 'heartbeat;' });
    expect(beats.rows.length).toBeGreaterThan(0);
    expect(job.refusedForMove).toBeGreaterThanOrEqual(0);

    // Running it again finds the move done and changes nothing.
    const again = await migrateDb({ sourceUrl: env.adminUrl, fromPrefix: env.prefix, toPrefix: newPrefix });
    expect(again.alreadyMoved).toBe(true);
  });
});
