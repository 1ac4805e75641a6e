/**
 * Nothing a plain user writes steers the service's own state, on real agent processes: the
 * agents' checkpoints live in the service database (users can neither read nor write it), so a
 * user's forged `_local/scheduler` with a huge sequence in the transfers database is not where a
 * restarted scheduler resumes; an older version's checkpoint there is never trusted (the feed is
 * replayed from 0 once) and is removed; the roll-up the page shows is a validated document users
 * cannot write; leader locks, heartbeats and transfer jobs are refused from users, replicated
 * writes (`new_edits: false`) included.
 */
import { createTestEnv, type TestEnv } from '../support/env';
import { configure, makeStorage, startAgent, submitFiles, waitFor, type Storage } from '../support/agents';
import { forgeSeq } from '../support/forge-seq';
import { http } from '../../scripts/ops/http';
import { MONITOR_STATS_ID, type MonitorStatsDoc } from '../../views/schema';

let env: TestEnv;
let storage: Storage;

/** One request as a test actor: status and body, never throwing. */
function as(actor: 'owner' | 'agent' | 'admin', method: string, path: string, body?: unknown) {
  return http<Record<string, unknown> & { error?: string }>(
    env.urlAs(actor),
    method,
    path,
    body === undefined ? {} : { body },
  );
}

async function transfersSeq(): Promise<string | number> {
  return ((await as('admin', 'GET', `/${env.dbs.transfers}`)).body as { update_seq: string | number }).update_seq;
}

async function once(agent: string): Promise<string> {
  const p = startAgent(env, agent, ['--once']);
  expect(await p.exited).toBe(0);
  return p.output.join('');
}

beforeAll(async () => {
  env = await createTestEnv();
  storage = makeStorage(['T2_A', 'T2_B']);
  await configure(env, storage);
});
afterAll(async () => {
  await env?.cleanup();
  storage?.cleanup();
});

describe('the service database', () => {
  it('is closed to plain users: they can neither read nor write a checkpoint there', async () => {
    await once('scheduler');
    const cp = `/${env.dbs.service}/_local/scheduler`;
    expect((await as('agent', 'GET', cp)).status).toBe(200);
    // CouchDB answers an authenticated non-member 403; the embedded server 401. Both refuse.
    expect([401, 403]).toContain((await as('owner', 'GET', cp)).status);
    expect([401, 403]).toContain((await as('owner', 'PUT', `/${env.dbs.service}/_local/forged`, { seq: 1 })).status);
    expect([401, 403]).toContain((await as('owner', 'GET', `/${env.dbs.service}/_all_docs`)).status);
    expect((await as('admin', 'GET', `/${env.dbs.service}/_local/forged`)).status).toBe(404);
  });

  it("a user's forged _local/scheduler with a huge seq does not make a restarted scheduler skip new transfers", async () => {
    const id = `/${env.dbs.transfers}/_local/scheduler`;
    const forged = forgeSeq(await transfersSeq());
    const cur = await as('owner', 'GET', id);
    // Any member may write a _local document, on CouchDB too: the attack itself succeeds.
    const put = await as('owner', 'PUT', id, {
      ...(cur.status === 200 ? { _rev: cur.body._rev } : {}),
      seq: forged,
      db: env.dbs.transfers,
      updated_at: new Date().toISOString(),
    });
    expect(put.status).toBe(201);
    const p = startAgent(env, 'scheduler');
    try {
      for (const until = Date.now() + 30_000; !p.output.join('').includes('agent started') && Date.now() < until;)
        await new Promise((r) => setTimeout(r, 100));
      expect(p.output.join('')).not.toContain(`"since":${JSON.stringify(forged)}`);
      // Submitted after the restart: the scheduler sees them only through its feed.
      const docs = await submitFiles(env, storage, 3);
      const seen = await waitFor(
        env,
        docs.map((d) => d._id),
        { ms: 60_000, until: (ds) => ds.length === 3 && ds.every((d) => d.state !== 'new') },
      );
      expect(seen.map((d) => d.state).sort()).not.toContain('new');
    } finally {
      expect(await p.stop()).toBe(0);
    }
  });

  it("an older version's checkpoint in the feed database is not trusted: one replay from 0, then it is removed", async () => {
    const id = `/${env.dbs.transfers}/_local/stats`;
    expect(
      (await as('owner', 'PUT', id, { seq: forgeSeq(await transfersSeq()), updated_at: new Date().toISOString() }))
        .status,
    ).toBe(201);
    const out = await once('stats');
    expect(out).toContain('"since":0');
    expect(out).toContain('old checkpoint in the feed database ignored');
    expect((await as('admin', 'GET', id)).status).toBe(404);
    const cp = await as('agent', 'GET', `/${env.dbs.service}/_local/stats`);
    expect(cp.body).toMatchObject({ db: env.dbs.transfers });
    // A second run resumes from the new checkpoint.
    const again = await once('stats');
    expect(again).toContain(`"since":${JSON.stringify(cp.body.seq)}`);
  });
});

describe('the roll-up', () => {
  async function rollup(actor: 'owner' | 'admin'): Promise<MonitorStatsDoc & { _rev: string }> {
    const a = await as(actor, 'GET', `/${env.dbs.transfers}/${MONITOR_STATS_ID}`);
    expect(a.status).toBe(200);
    return a.body as unknown as MonitorStatsDoc & { _rev: string };
  }

  it("cannot be forged by a user: every way of writing it is refused, and the page's read shows the agent's figures", async () => {
    await once('stats');
    const real = await rollup('owner');
    const transfers = (await as('admin', 'GET', `/${env.dbs.transfers}/_design/monitor/_view/totals?group_level=0`))
      .body as { rows: { value: { count: number } }[] };
    expect(real.transfers).toBe(transfers.rows[0]?.value.count || 0);
    const fake = { ...real, transfers: 999_999, states: { done: [999_999, 1] }, updated_at: new Date().toISOString() };
    const base = `/${env.dbs.transfers}`;
    const put = await as('owner', 'PUT', `${base}/${MONITOR_STATS_ID}`, fake);
    expect(put.status).toBe(403);
    expect(put.body.error).toBe('forbidden');
    expect((await as('owner', 'DELETE', `${base}/${MONITOR_STATS_ID}?rev=${real._rev}`)).status).toBe(403);
    const bulk = await as('owner', 'POST', `${base}/_bulk_docs`, { docs: [fake] });
    expect((bulk.body as unknown as { error?: string }[])[0].error).toBe('forbidden');
    const replicated = await as('owner', 'POST', `${base}/_bulk_docs`, {
      new_edits: false,
      docs: [{ ...fake, _rev: '999-' + 'f'.repeat(32) }],
    });
    expect(JSON.stringify(replicated.body)).toContain('forbidden');
    // The old place: still writable by any member, read by nothing any more.
    expect(
      (await as('owner', 'PUT', `${base}/_local/monitor-stats`, { ...fake, _id: undefined, _rev: undefined })).status,
    ).toBe(201);
    const after = await rollup('owner');
    expect({ rev: after._rev, transfers: after.transfers }).toEqual({ rev: real._rev, transfers: real.transfers });
    // Nor did the replicated write leave a branch of its own beside the agent's revision.
    expect(
      ((await as('admin', 'GET', `${base}/${MONITOR_STATS_ID}?open_revs=all`)).body as unknown as unknown[]).length,
    ).toBe(1);
  });
});

describe('leader locks, heartbeats and transfer jobs', () => {
  it('are refused from a plain user: created, changed, deleted or replicated', async () => {
    const base = `/${env.dbs.transfers}`;
    await once('scheduler'); // takes the leader lease and writes a heartbeat
    const lock = await as('admin', 'GET', `${base}/lock:scheduler`);
    expect(lock.status).toBe(200);
    const beats = (
      await as(
        'admin',
        'GET',
        `${base}/_all_docs?include_docs=true&startkey=${encodeURIComponent('"heartbeat:"')}&endkey=${encodeURIComponent('"heartbeat;"')}`,
      )
    ).body as { rows: { doc: Record<string, unknown> }[] };
    const beat = beats.rows[0].doc;
    const mine = { owner: 'attacker', expires_at: '2999-01-01T00:00:00Z' };
    const attempts: Array<[string, string, unknown]> = [
      ['PUT', `${base}/lock:scheduler`, { ...lock.body, lease: mine }],
      ['PUT', `${base}/lock:worker`, { type: 'lock', lease: mine }],
      ['DELETE', `${base}/lock:scheduler?rev=${lock.body._rev}`, undefined],
      ['PUT', `${base}/${beat._id}`, { ...beat, at: '2999-01-01T00:00:00Z' }],
      [
        'PUT',
        `${base}/heartbeat:scheduler:forged`,
        { type: 'heartbeat', agent: 'scheduler', instance: 'forged', at: new Date().toISOString() },
      ],
      ['DELETE', `${base}/${beat._id}?rev=${beat._rev}`, undefined],
      [
        'PUT',
        `${base}/tj-forged`,
        {
          type: 'transfer_job',
          user: env.names.owner,
          source: 'T2_A',
          destination: 'T2_B',
          protocol: 'file',
          mode: 'stream',
          files: [],
          state: 'queued',
          created_at: new Date().toISOString(),
        },
      ],
    ];
    for (const [method, path, body] of attempts) {
      const a = await as('owner', method, path, body);
      expect({ method, path, status: a.status, error: a.body.error }).toEqual({
        method,
        path,
        status: 403,
        error: 'forbidden',
      });
    }
    const replicated = await as('owner', 'POST', `${base}/_bulk_docs`, {
      new_edits: false,
      docs: [
        { ...lock.body, _rev: '999-' + 'a'.repeat(32), lease: mine },
        { _id: 'lock:retrier', _rev: '1-' + 'b'.repeat(32), type: 'lock', lease: mine },
      ],
    });
    expect((replicated.body as unknown as { error?: string }[]).map((r) => r.error)).toEqual([
      'forbidden',
      'forbidden',
    ]);
    expect((await as('admin', 'GET', `${base}/lock:scheduler`)).body).toEqual(lock.body);
    expect((await as('admin', 'GET', `${base}/${beat._id}`)).body).toEqual(beat);
    for (const id of ['lock:worker', 'lock:retrier', 'heartbeat:scheduler:forged', 'tj-forged'])
      expect((await as('admin', 'GET', `${base}/${id}`)).status).toBe(404);
  });
});
