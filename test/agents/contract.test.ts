/**
 * The contract every agent of agents/registry.ts keeps, checked on real processes: it fails fast and
 * clearly when its database is missing, `--once` does one pass and checkpoints the feed in
 * `_local/<agent>` of the service database, a restart resumes from that checkpoint, SIGTERM stops it cleanly, and it
 * writes a heartbeat.
 */
import { createTestEnv, type TestEnv } from '../support/env';
import { configure, makeStorage, startAgent, type Storage } from '../support/agents';
import { AGENT_REGISTRY } from '../../agents/registry';

describe.each(AGENT_REGISTRY.map((a) => [a.name, a.needsBackend] as const))('agent %s', (name, needsBackend) => {
  let env: TestEnv;
  let storage: Storage;
  const args = needsBackend ? ['--backend', 'native'] : [];

  beforeAll(async () => {
    env = await createTestEnv();
    storage = makeStorage(['T2_A', 'T2_B']);
    await configure(env, storage);
  });
  afterAll(async () => {
    await env?.cleanup();
    storage?.cleanup();
  });

  it('fails fast with a clear message when its database does not exist', async () => {
    const p = startAgent({ ...env, prefix: 'test_nosuchdb_' } as TestEnv, name, ['--once', ...args]);
    const code = await Promise.race([p.exited, new Promise((r) => setTimeout(() => r('hung'), 30_000))]);
    expect(code).not.toBe(0);
    expect(code).not.toBe('hung');
    expect(p.output.join('')).toMatch(/not_found|Database does not exist|missing/i);
  });

  it('--once does one pass, checkpoints the feed and writes a heartbeat', async () => {
    const p = startAgent(env, name, ['--once', ...args]);
    expect(await p.exited).toBe(0);
    const db = env.admin.use<{ seq: unknown; db: unknown }>(env.dbs.service);
    const checkpoint = await db.get('_local/' + name);
    expect(checkpoint.db).toBe(env.dbs.transfers);
    expect(parseInt(String(checkpoint.seq), 10)).toBeGreaterThan(0); // past the design documents
    const beats = await env.admin
      .use(env.dbs.transfers)
      .list({ startkey: `heartbeat:${name}:`, endkey: `heartbeat:${name}:\ufff0` });
    expect(beats.rows.length).toBeGreaterThanOrEqual(1);
  });

  it('resumes from its checkpoint after a restart', async () => {
    const db = env.admin.use<{ seq: unknown }>(env.dbs.service);
    const before = await db.get('_local/' + name);
    await env.admin.use(env.dbs.transfers).insert({
      _id: 'heartbeat:probe:' + name,
      type: 'heartbeat',
      agent: 'probe',
      instance: 'x',
      at: new Date().toISOString(),
    } as never);
    const p = startAgent(env, name, ['--once', ...args]);
    expect(await p.exited).toBe(0);
    const after = await db.get('_local/' + name);
    expect(parseInt(String(after.seq), 10)).toBeGreaterThan(parseInt(String(before.seq), 10));
    expect(p.output.join('')).toContain(`"since":${JSON.stringify(before.seq)}`);
  });

  it('stops cleanly on SIGTERM', async () => {
    const p = startAgent(env, name, args);
    // Until its handlers are installed a signal kills the process (128): wait for it to start
    // (a fixed 1.5 s was too short on a loaded machine).
    for (const until = Date.now() + 30_000; !p.output.join('').includes('agent started') && Date.now() < until;)
      await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    expect(await p.stop('SIGTERM')).toBe(0);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(p.output.join('')).toContain('agent stopped');
  });
});
