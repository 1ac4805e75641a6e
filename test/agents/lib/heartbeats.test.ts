/**
 * An agent instance says when it stops cleanly (its last heartbeat carries `stopped_at`), and one
 * that is killed does not: `doctor` tells the two apart, and a restarted agent's old instance is
 * not a problem. Real agent processes against the test server.
 */
import { startAgent, type AgentProcess } from '../../support/agents';
import { createTestEnv, type TestEnv } from '../../support/env';
import { doctor } from '../../../scripts/ops/doctor';
import { until } from '../../scripts/ops/support';
import type { HeartbeatDoc } from '../../../views/schema';

jest.setTimeout(120_000);

describe('heartbeats across an agent restart', () => {
  let env: TestEnv;
  const agents: AgentProcess[] = [];
  beforeAll(async () => {
    env = await createTestEnv();
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop('SIGKILL')));
    await env?.cleanup();
  });

  const beats = async (): Promise<HeartbeatDoc[]> => {
    const res = await env.admin
      .use(env.dbs.transfers)
      .list({ startkey: 'heartbeat:retrier:', endkey: 'heartbeat:retrier;', include_docs: true });
    return res.rows.map((r) => r.doc as unknown as HeartbeatDoc);
  };
  const retrierFinding = async () =>
    (await doctor({ url: env.adminUrl, dbs: env.dbs, agents: ['retrier'] })).find(
      (f) => f.check === 'agent' && f.subject === 'retrier',
    )!;

  it('a clean stop is written down; doctor says stopped cleanly, not dead', async () => {
    const a = startAgent(env, 'retrier', ['--instance', 'r-first']);
    agents.push(a);
    await until('the first heartbeat', async () => (await beats()).length === 1 || undefined, 60_000, 200);
    expect((await beats())[0].stopped_at).toBeUndefined();
    expect(await retrierFinding()).toMatchObject({ level: 'ok', message: '1 instance(s) alive' });
    expect(await a.stop('SIGTERM')).toBe(0);
    const [b] = await beats();
    expect(b.instance).toBe('r-first');
    expect(Date.parse(b.stopped_at!)).toBeGreaterThanOrEqual(Date.parse(b.at) - 1);
    expect(await retrierFinding()).toMatchObject({
      level: 'problem',
      message: expect.stringMatching(/^stopped cleanly \d+ s ago and not running since$/),
    });
  });

  it('after a restart the old instance is counted as older, not as a problem; a killed one leaves no stopped_at', async () => {
    const a = startAgent(env, 'retrier', ['--instance', 'r-second']);
    agents.push(a);
    await until(
      'the second instance beating',
      async () => (await beats()).some((b) => b.instance === 'r-second') || undefined,
      60_000,
      200,
    );
    expect(await retrierFinding()).toMatchObject({
      level: 'ok',
      message: '1 instance(s) alive; 1 older instance(s) stopped or replaced',
    });
    await a.stop('SIGKILL');
    const killed = (await beats()).find((b) => b.instance === 'r-second')!;
    expect(killed.stopped_at).toBeUndefined();
  });
});
