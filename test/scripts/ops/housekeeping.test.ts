/**
 * compact, archive and doctor on a real server: compaction is accepted for every database (view
 * compaction where the server has it) and clean-up runs; archive moves exactly the old terminal
 * transfers, verified before deleting, and a re-run or a crashed half-run changes nothing more;
 * doctor says in plain words what is wrong and exits non-zero, and is quiet when all is well.
 */
import * as fs from 'fs';
import { createTestEnv, type TestEnv } from '../../support/env';
import { configure, makeStorage, startAgent, type AgentProcess, type Storage } from '../../support/agents';
import { compactOnce } from '../../../scripts/ops/compact';
import { archive, archiveDbName } from '../../../scripts/ops/archive';
import { doctor } from '../../../scripts/ops/doctor';
import { http } from '../../../scripts/ops/http';
import { main as cli } from '../../../scripts/cli/main';
import { seedTransfers, until } from './support';

jest.setTimeout(600_000);

describe('compact, archive, doctor', () => {
  let env: TestEnv;
  let storage: Storage;
  let agents: AgentProcess[] = [];
  beforeAll(async () => {
    env = await createTestEnv();
    storage = makeStorage(['T2_CH_CERN', 'T2_IT_Pisa']);
    await configure(env, storage);
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await http(env.adminUrl, 'DELETE', `/${archiveDbName(env.dbs)}`).catch(() => undefined);
    await env?.cleanup();
    storage?.cleanup();
  });

  it('CLI: upgrade on a current deployment changes nothing; bad input is refused with exit code 2', async () => {
    const out: string[] = [];
    const saved = { url: process.env.COUCHDB_URL, prefix: process.env.COUCHSTAGE_DB_PREFIX };
    process.env.COUCHDB_URL = env.adminUrl;
    process.env.COUCHSTAGE_DB_PREFIX = env.prefix;
    try {
      expect(
        await cli(
          ['upgrade', '--json'],
          (l) => out.push(l),
          (l) => out.push(l),
        ),
      ).toBe(0);
      const steps = JSON.parse(out.join('\n')) as { action: string }[];
      expect(steps.length).toBeGreaterThan(0);
      expect(steps.map((s) => s.action)).toEqual(steps.map(() => 'unchanged'));
      const err: string[] = [];
      expect(
        await cli(
          ['compact', '--every', 'often'],
          () => undefined,
          (l) => err.push(l),
        ),
      ).toBe(2);
      expect(
        await cli(
          ['migrate-db'],
          () => undefined,
          (l) => err.push(l),
        ),
      ).toBe(2);
      expect(
        await cli(
          ['archive', '--days', '-3'],
          () => undefined,
          (l) => err.push(l),
        ),
      ).toBe(2);
      expect(err.join('\n')).toMatch(/not a duration/);
      expect(err.join('\n')).toMatch(/--to-prefix/);
      expect(err.join('\n')).toMatch(/--days must be a number/);
    } finally {
      process.env.COUCHDB_URL = saved.url;
      process.env.COUCHSTAGE_DB_PREFIX = saved.prefix;
    }
  });

  it('compacts every database and cleans up unused indexes', async () => {
    const steps = await compactOnce(env.adminUrl, env.dbs);
    for (const db of Object.values(env.dbs)) {
      expect(steps.filter((s) => s.db === db && s.what === 'database').map((s) => s.result)).toEqual(['started']);
      expect(steps.filter((s) => s.db === db && s.what === 'view cleanup').map((s) => s.result)).toEqual(['done']);
    }
    const views = steps.filter((s) => s.what.startsWith('views of'));
    expect(views.map((s) => s.what)).toContain('views of _design/monitor');
    for (const v of views) expect(['started', 'not supported by this server']).toContain(v.result);
  });

  it('archives old terminal transfers only, verified, and a re-run moves nothing more', async () => {
    const old = new Date(Date.now() - 40 * 86_400_000).toISOString();
    const recent = new Date(Date.now() - 2 * 86_400_000).toISOString();
    // Operators may write any well-formed state: finished transfers of 40 and 2 days ago, and pending ones.
    const oldDone = await seedTransfers(env, 120, () => ({}));
    const admin = env.admin.use(env.dbs.transfers);
    const setState = async (ids: string[], state: string, finished: string | null) => {
      const res = await admin.fetch({ keys: ids });
      const docs = res.rows.map((r) => ({ ...('doc' in r ? r.doc : {}), state, finished_at: finished }));
      const out = await admin.bulk({ docs: docs as never[] });
      expect(out.filter((r) => r.error)).toEqual([]);
    };
    await setState(oldDone.slice(0, 100), 'done', old);
    await setState(oldDone.slice(100), 'failed', recent);
    const pending = await seedTransfers(env, 30);
    // A crash after the copy, before the delete: a copy is already in the archive.
    const crashed = (await admin.get(oldDone[0])) as unknown as Record<string, unknown>;
    await http(env.adminUrl, 'PUT', `/${archiveDbName(env.dbs)}`);
    const pre = await http<unknown[]>(env.adminUrl, 'POST', `/${archiveDbName(env.dbs)}/_bulk_docs`, {
      body: { docs: [crashed], new_edits: false },
    });
    expect(pre.status).toBe(201);

    const out: string[] = [];
    const saved = { url: process.env.COUCHDB_URL, prefix: process.env.COUCHSTAGE_DB_PREFIX };
    process.env.COUCHDB_URL = env.adminUrl;
    process.env.COUCHSTAGE_DB_PREFIX = env.prefix;
    try {
      expect(
        await cli(
          ['archive', '--json'],
          (l) => out.push(l),
          (l) => out.push(l),
        ),
      ).toBe(0);
    } finally {
      process.env.COUCHDB_URL = saved.url;
      process.env.COUCHSTAGE_DB_PREFIX = saved.prefix;
    }
    const report = JSON.parse(out.join('\n'));
    expect(report.deleted).toBe(100);
    const hot = await admin.fetch({ keys: [...oldDone, ...pending] });
    const present = hot.rows.filter((r) => 'doc' in r && r.doc).map((r) => r.key);
    expect(present.sort()).toEqual([...oldDone.slice(100), ...pending].sort());
    const arch = await env.admin.use(archiveDbName(env.dbs)).fetch({ keys: oldDone.slice(0, 100) });
    expect(
      arch.rows.every((r) => 'doc' in r && r.doc && (r.doc as unknown as { state: string }).state === 'done'),
    ).toBe(true);
    // Users cannot write into the archive.
    const refused = await http(env.urlAs('owner'), 'PUT', `/${archiveDbName(env.dbs)}/x`, {
      body: { type: 'transfer' },
    });
    expect(refused.status).toBe(403);
    const again = await archive(env.adminUrl, env.dbs);
    expect(again.deleted).toBe(0);
    expect(again.copied).toBe(0);
  });

  it('doctor names what is wrong, exits non-zero, and is quiet when all is well', async () => {
    // Nothing runs yet, the storage of one site is gone, and a staged copy was left behind.
    fs.rmSync(storage.sites.T2_IT_Pisa, { recursive: true, force: true });
    await http(env.adminUrl, 'PUT', `/${env.dbs.transfers}/_design/monitor-staged`, {
      body: { views: { x: { map: 'function (doc) { emit(doc._id, null); }' } } },
    });
    const findings = await doctor({
      url: env.adminUrl,
      dbs: env.dbs,
      agents: ['scheduler', 'worker', 'retrier'],
      designs: undefined,
    });
    const problems = findings.filter((f) => f.level === 'problem');
    expect(problems.map((p) => `${p.check} ${p.subject}`).sort()).toEqual(
      [
        'agent retrier',
        'agent scheduler',
        'agent worker',
        `storage T2_IT_Pisa file://${storage.sites.T2_IT_Pisa}`,
      ].sort(),
    );
    expect(problems.find((p) => p.check === 'agent')!.message).toMatch(/not running/);
    expect(findings.find((f) => f.subject.endsWith('monitor-staged'))!.level).toBe('warning');
    expect(findings.filter((f) => f.check === 'design').every((f) => f.level !== 'problem')).toBe(true);
    const out: string[] = [];
    const saved = { url: process.env.COUCHDB_URL, prefix: process.env.COUCHSTAGE_DB_PREFIX };
    process.env.COUCHDB_URL = env.adminUrl;
    process.env.COUCHSTAGE_DB_PREFIX = env.prefix;
    try {
      expect(
        await cli(
          ['doctor'],
          (l) => out.push(l),
          (l) => out.push(l),
        ),
      ).toBe(1);
      expect(out.join('\n')).toMatch(/PROBLEM agent +worker: never sent a heartbeat/);
      expect(out.join('\n')).toMatch(/storage element unreachable/);

      // Fix everything: storage back, staged copy removed, agents running.
      fs.mkdirSync(storage.sites.T2_IT_Pisa, { recursive: true });
      const st = await http<{ _rev: string }>(env.adminUrl, 'GET', `/${env.dbs.transfers}/_design/monitor-staged`);
      await http(env.adminUrl, 'DELETE', `/${env.dbs.transfers}/_design/monitor-staged?rev=${st.body._rev}`);
      agents = [
        startAgent(env, 'scheduler'),
        startAgent(env, 'worker', ['--backend', 'native']),
        startAgent(env, 'retrier'),
      ];
      await until(
        'heartbeats of the three agents',
        async () => {
          const hb = await env.admin.use(env.dbs.transfers).list({ startkey: 'heartbeat:', endkey: 'heartbeat;' });
          return new Set(hb.rows.map((r) => r.id.split(':')[1])).size === 3;
        },
        60_000,
        500,
      );
      out.length = 0;
      // Only these three run here; by default doctor expects every registered agent.
      const code = await cli(
        ['doctor', '--json', '--agents', 'scheduler,worker,retrier'],
        (l) => out.push(l),
        (l) => out.push(l),
      );
      const res = JSON.parse(out.join('\n'));
      expect(res.findings.filter((f: { level: string }) => f.level === 'problem')).toEqual([]);
      expect(code).toBe(0);
      expect(res.ok).toBe(true);

      // A design doc that differs from this code is named, and upgrade puts it right.
      const cfgDb = env.admin.use(env.dbs.config);
      const v = (await cfgDb.get('_design/validate')) as unknown as Record<string, unknown>;
      await cfgDb.insert({ ...v, couchstage: { version: 'old', hash: 'stale' } } as never);
      const stale = await doctor({ url: env.adminUrl, dbs: env.dbs, agents: [] });
      expect(stale.filter((f) => f.level === 'problem').map((f) => f.subject)).toEqual([
        `${env.dbs.config}/_design/validate`,
      ]);
      expect(stale.find((f) => f.level === 'problem')!.message).toMatch(/out of date.*couchstage upgrade/);
      out.length = 0;
      expect(
        await cli(
          ['upgrade', '--json'],
          (l) => out.push(l),
          (l) => out.push(l),
        ),
      ).toBe(0);
      expect(
        (JSON.parse(out.join('\n')) as { id: string; db: string; action: string }[])
          .filter((s) => s.action !== 'unchanged')
          .map((s) => `${s.db}/${s.id} ${s.action}`),
      ).toEqual([`${env.dbs.config}/_design/validate replaced`]);
      expect(
        (await doctor({ url: env.adminUrl, dbs: env.dbs, agents: [] })).filter((f) => f.level === 'problem'),
      ).toEqual([]);
    } finally {
      process.env.COUCHDB_URL = saved.url;
      process.env.COUCHSTAGE_DB_PREFIX = saved.prefix;
    }
  });
});
