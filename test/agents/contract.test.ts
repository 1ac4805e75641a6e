/**
 * The contract every agent of agents/registry.ts keeps, checked on real processes: it fails fast and
 * clearly when its database is missing, `--once` does one pass and checkpoints the feed in
 * `_local/<agent>` of the service database, a restart resumes from that checkpoint, SIGTERM stops it cleanly, and it
 * writes a heartbeat.
 */
import { createTestEnv, type TestEnv } from '../support/env';
import { configure, makeStorage, startAgent, type Storage } from '../support/agents';
import { AGENT_REGISTRY } from '../../agents/registry';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Role } from '../../views/schema';
import { claimsFor, sign, tokenFor } from '../support/issuer';

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

/**
 * The same contract with a token instead of a password: COUCHDB_URL without credentials and
 * COUCHSTAGE_TOKEN_FILE holding a token of the test issuer (agents/platform/token.ts); the
 * token's sub is the agent's name and its groups carry the agent role.
 */
describe.each(AGENT_REGISTRY.map((a) => [a.name, a.needsBackend] as const))(
  'agent %s by token',
  (name, needsBackend) => {
    let env: TestEnv;
    let storage: Storage;
    let dir: string;
    const args = needsBackend ? ['--backend', 'native'] : [];
    const tokenEnv = (file: string) => ({ COUCHDB_URL: env.baseUrl, COUCHSTAGE_TOKEN_FILE: file });

    beforeAll(async () => {
      env = await createTestEnv();
      storage = makeStorage(['T2_A', 'T2_B']);
      await configure(env, storage);
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-token-'));
    });
    afterAll(async () => {
      await env?.cleanup();
      storage?.cleanup();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('--once does one pass and checkpoints the feed, signed in by its token', async () => {
      const file = path.join(dir, 'token');
      fs.writeFileSync(file, await tokenFor(env.names.agent, [Role.agent]), { mode: 0o600 });
      const p = startAgent(env, name, ['--once', ...args], tokenEnv(file));
      expect(await p.exited).toBe(0);
      const checkpoint = await env.admin.use<{ seq: unknown }>(env.dbs.service).get('_local/' + name);
      expect(parseInt(String(checkpoint.seq), 10)).toBeGreaterThan(0);
    });

    it('an expired token fails with the server’s reason', async () => {
      const file = path.join(dir, 'expired');
      const claims = { ...claimsFor(env.names.agent, [Role.agent]), exp: Math.floor(Date.now() / 1000) - 60 };
      fs.writeFileSync(file, await sign(claims), { mode: 0o600 });
      const p = startAgent(env, name, ['--once', ...args], tokenEnv(file));
      const code = await Promise.race([p.exited, new Promise((r) => setTimeout(() => r('hung'), 30_000))]);
      expect(code).not.toBe(0);
      expect(code).not.toBe('hung');
      expect(p.output.join('')).toMatch(/exp not in future/);
    });
  },
);
