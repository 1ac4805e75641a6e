/**
 * migrate-db's replication on either server: the target server's own replicator where it has
 * one (watched in `_scheduler/jobs`), else PouchDB from this process. Either way every document
 * but the design documents arrives, and a document the target's validate_doc_update refuses is
 * reported (the replicator's write-failure count, or a log line), not lost in silence.
 */
import { createTestEnv, type TestEnv } from '../../support/env';
import { capabilities } from '../../../agents/platform/capabilities';
import { startReplication, type Replication } from '../../../scripts/ops/replication';
import { http } from '../../../scripts/ops/http';
import { until } from './support';

jest.setTimeout(300_000);

let env: TestEnv;
let rep: Replication | undefined;
const names = () => ({ src: env.prefix + 'rsrc', tgt: env.prefix + 'rtgt' });

beforeAll(async () => {
  env = await createTestEnv();
}, 120_000);

afterAll(async () => {
  await rep?.cancel();
  for (const db of Object.values(names())) await http(env.adminUrl, 'DELETE', '/' + db).catch(() => undefined);
  await env?.cleanup();
});

it('copies every document but design documents, and reports what the target refuses', async () => {
  const caps = await capabilities(env.adminUrl);
  const { src, tgt } = names();
  for (const db of [src, tgt]) expect((await http(env.adminUrl, 'PUT', '/' + db)).status).toBe(201);
  const guard = 'function (doc) { if (doc.bad) throw({ forbidden: "bad: refused here" }); }';
  expect(
    (await http(env.adminUrl, 'PUT', `/${tgt}/_design/guard`, { body: { validate_doc_update: guard } })).status,
  ).toBe(201);
  const docs = Array.from({ length: 20 }, (_, i) => ({ _id: `doc${String(i).padStart(2, '0')}`, n: i }));
  const put = await http<unknown[]>(env.adminUrl, 'POST', `/${src}/_bulk_docs`, {
    body: { docs: [...docs, { _id: 'refused', bad: true }, { _id: '_design/src-only', views: {} }] },
  });
  expect(put.status).toBe(201);

  const lines: string[] = [];
  const base = env.adminUrl.replace(/\/+$/, '');
  rep = await startReplication(`${base}/${src}`, `${base}/${tgt}`, env.adminUrl, (l) => lines.push(l));
  expect(rep.by).toBe(caps.schedulerJobs && caps.selectorFilter ? 'server' : 'client');
  await until(
    'the 20 documents in the target',
    async () => {
      const a = await http<{ rows: { id: string }[] }>(env.adminUrl, 'GET', `/${tgt}/_all_docs`);
      return a.body.rows.filter((r) => r.id.startsWith('doc')).length === 20;
    },
    120_000,
    250,
  );
  const ids = (await http<{ rows: { id: string }[] }>(env.adminUrl, 'GET', `/${tgt}/_all_docs`)).body.rows.map(
    (r) => r.id,
  );
  expect(ids).not.toContain('_design/src-only');
  expect(ids).not.toContain('refused');

  if (rep.by === 'server') {
    const st = await until(
      'the replicator to count its writes',
      async () => {
        const s = await rep!.status();
        return s && s.docsWritten >= 20 && s.writeFailures >= 1 ? s : undefined;
      },
      120_000,
      500,
    );
    expect(st.writeFailures).toBe(1);
    expect(st.state).not.toBe('crashed');
  } else {
    expect(await rep.status()).toBeNull();
    await until(
      'the refusal in the log',
      () => lines.some((l) => /REFUSED by the target.*refused/.test(l)),
      60_000,
      250,
    );
  }
  await rep.cancel();
  // Cancelled for good: the server lists the job no more (client replication has no job).
  expect(await until('the job to go', async () => (await rep!.status()) === null, 60_000, 250)).toBe(true);
  rep = undefined;
});
