/**
 * The contract every agent keeps (STYLE 21), checked on real processes: it fails fast and
 * clearly when its database is missing, `--once` does one pass and checkpoints the feed in
 * `_local/<agent>`, a restart resumes from that checkpoint, SIGTERM stops it cleanly, and it
 * writes a heartbeat.
 */
import { createTestEnv, type TestEnv } from '../support/env';
import { configure, makeStorage, startAgent, type Storage } from '../support/agents';
import { AGENTS } from '../../agents/main';

describe.each(AGENTS.map((a) => [a]))('agent %s', (name) => {
  let env: TestEnv;
  let storage: Storage;
  const args = name === 'worker' ? ['--backend', 'native'] : [];

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
    const db = env.admin.use<{ seq: unknown }>(env.dbs.transfers);
    const checkpoint = await db.get('_local/' + name);
    expect(parseInt(String(checkpoint.seq), 10)).toBeGreaterThan(0); // past the design documents
    const beats = await env.admin.use(env.dbs.transfers).list({ startkey: `heartbeat:${name}:`, endkey: `heartbeat:${name}:\ufff0` });
    expect(beats.rows.length).toBeGreaterThanOrEqual(1);
  });

  it('resumes from its checkpoint after a restart', async () => {
    const db = env.admin.use<{ seq: unknown }>(env.dbs.transfers);
    const before = await db.get('_local/' + name);
    await env.admin.use(env.dbs.transfers).insert({ _id: 'heartbeat:probe:' + name, type: 'heartbeat', agent: 'probe', instance: 'x', at: new Date().toISOString() } as never);
    const p = startAgent(env, name, ['--once', ...args]);
    expect(await p.exited).toBe(0);
    const after = await db.get('_local/' + name);
    expect(parseInt(String(after.seq), 10)).toBeGreaterThan(parseInt(String(before.seq), 10));
    expect(p.output.join('')).toContain(`"since":${JSON.stringify(before.seq)}`);
  });

  it('stops cleanly on SIGTERM', async () => {
    const p = startAgent(env, name, args);
    // Signal it once it runs (its handlers are installed): on a loaded machine loading takes > 1.5 s.
    for (let t = Date.now(); !p.output.join('').includes('agent started') && Date.now() - t < 30_000;) await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    expect(await p.stop('SIGTERM')).toBe(0);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(p.output.join('')).toContain('agent stopped');
  });
});
