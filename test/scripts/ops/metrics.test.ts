/**
 * Lifecycle metrics: a scheduler exposes files by state and queue depth per link; a worker
 * exposes transfer durations and transfer errors by class (with the runner's errors by class and
 * feed lag, agents/platform/metrics.ts).
 */
import {
  configure,
  makeStorage,
  startAgent,
  submitFiles,
  waitFor,
  type AgentProcess,
  type Storage,
} from '../../support/agents';
import { createTestEnv, type TestEnv } from '../../support/env';
import { until } from './support';

function metricsUrl(a: AgentProcess): string | undefined {
  for (const line of a.output.join('').split('\n')) {
    if (!line.startsWith('{')) continue;
    const e = JSON.parse(line) as { msg?: string; url?: string };
    if (e.msg === 'metrics') return e.url;
  }
  return undefined;
}

describe('lifecycle metrics', () => {
  let env: TestEnv;
  let storage: Storage;
  let agents: AgentProcess[] = [];
  beforeAll(async () => {
    env = await createTestEnv();
    storage = makeStorage(['T2_CH_CERN', 'T2_IT_Pisa', 'T1_US_FNAL']);
    await configure(env, storage, { max_retry: 1 }, [
      { source: 'T2_CH_CERN', destination: 'T1_US_FNAL', max_active: 0 },
    ]);
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await env?.cleanup();
    storage?.cleanup();
  });

  it('scheduler: files by state and queue depth per link; worker: durations and errors by class', async () => {
    const held = await submitFiles(env, storage, 7, { source: 'T2_CH_CERN', destination: 'T1_US_FNAL' });
    const moved = await submitFiles(env, storage, 5, { source: 'T2_CH_CERN', destination: 'T2_IT_Pisa' });
    const bad = await submitFiles(env, storage, 1, {
      source: 'T2_CH_CERN',
      destination: 'T2_IT_Pisa',
      over: () => ({ checksums: { adler32: '00000001' } }),
    });
    agents = [
      startAgent(env, 'scheduler', ['--metrics-port', '0']),
      startAgent(env, 'worker', ['--backend', 'native', '--metrics-port', '0']),
      startAgent(env, 'retrier'),
    ];
    await waitFor(
      env,
      [...moved, ...bad].map((d) => d._id),
    );
    expect(held.length).toBe(7);
    const sched = await until('scheduler metrics URL', () => metricsUrl(agents[0]));
    const text = await until('queue depth of the held link', async () => {
      const t = await (await fetch(sched)).text();
      return /couchstage_queue_depth\{source="T2_CH_CERN",destination="T1_US_FNAL"\} 7/.test(t) &&
        /couchstage_files\{state="done"\} 5/.test(t)
        ? t
        : undefined;
    });
    expect(text).toMatch(/couchstage_files\{state="new"\} 7/);
    expect(text).toMatch(/couchstage_feed_lag\{agent="scheduler"\}/);
    const worker = await until('worker metrics URL', () => metricsUrl(agents[1]));
    const w = await (await fetch(worker)).text();
    expect(w).toMatch(/couchstage_transfer_seconds_count\{outcome="done"\} 5/);
    expect(w).toMatch(/couchstage_transfer_errors_total\{class="transient"\} [1-9]/);
    expect(w).toMatch(/couchstage_errors_total|couchstage_changes_total/);
  });
});
