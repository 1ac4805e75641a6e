/**
 * Prometheus metrics of an agent process: `--metrics-port 0` picks a free port, the agent logs
 * the URL, and GET on it answers prom-client's text format with the runner's counters, which
 * count what the agent reads from its feed.
 */
import { startAgent, type AgentProcess } from '../../support/agents';
import { createTestEnv, transferFixture, type TestEnv } from '../../support/env';

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('agent metrics', () => {
  let env: TestEnv;
  let agent: AgentProcess | undefined;

  beforeAll(async () => {
    env = await createTestEnv();
  });
  afterAll(async () => {
    await agent?.stop();
    await env?.cleanup();
  });

  it('serves prom-client text on the URL it logs, counting the changes it reads', async () => {
    agent = startAgent(env, 'retrier', ['--metrics-port', '0']);
    const a = agent;
    const url = await until('the metrics URL in the log', () => {
      for (const line of a.output.join('').split('\n')) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'metrics') return entry.url;
      }
      return undefined;
    });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(url).not.toMatch(/:0\/metrics$/); // the port actually bound, not the one asked for

    const changes = async (): Promise<number | undefined> => {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      const text = await res.text();
      expect(text).toMatch(/^# HELP couchstage_changes_total /m);
      expect(text).toMatch(/^# TYPE couchstage_changes_total counter$/m);
      const m = /^couchstage_changes_total\{agent="retrier"\} (\d+)$/m.exec(text);
      return m ? Number(m[1]) : undefined;
    };
    const before = await until('a first feed read', changes);

    // One more document on the feed: the counter follows.
    await env
      .as('owner')
      .use(env.dbs.transfers)
      .insert(transferFixture(env.names.owner, { created_at: new Date().toISOString() }) as never);
    await until('the counter to count the new change', async () => {
      const n = await changes();
      return n !== undefined && n > before ? n : undefined;
    });

    expect((await fetch(url.replace(/\/metrics$/, '/other'))).status).toBe(404);
  });
});
