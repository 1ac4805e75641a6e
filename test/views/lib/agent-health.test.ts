/**
 * views/lib/agent-health.ts, the one rule the page's Agents table and `doctor` read: what old
 * instances of restarted agents mean, and when they leave the table. Pure; the clock is a number.
 */
import { agentStatus, AGE_OUT_MS, instanceHealth } from '../../../views/lib/agent-health';
import type { HeartbeatDoc } from '../../../views/schema';

const NOW = Date.parse('2026-12-03T12:00:00Z');
const beat = (agent: string, instance: string, agoMs: number, stopped = false): HeartbeatDoc => {
  const at = new Date(NOW - agoMs).toISOString();
  return {
    _id: `heartbeat:${agent}:${instance}`,
    type: 'heartbeat',
    agent,
    instance,
    at,
    ...(stopped ? { stopped_at: at } : {}),
  };
};
const statusOf = (beats: HeartbeatDoc[]) =>
  Object.fromEntries(instanceHealth(beats, NOW).map((i) => [i.instance, [i.status, i.shown]]));

describe('agent health', () => {
  it('a restart: the old instances stopped cleanly, a killed one was replaced; nothing is a problem', () => {
    const beats = [
      beat('scheduler', 'old', 5 * 60_000, true),
      beat('scheduler', 'new', 10_000),
      beat('worker', 'killed', 4 * 60_000),
      beat('worker', 'restarted', 5_000),
    ];
    expect(statusOf(beats)).toEqual({
      old: ['stopped', true],
      new: ['alive', true],
      killed: ['replaced', true],
      restarted: ['alive', true],
    });
    expect(agentStatus(['scheduler', 'worker'], beats, NOW).map((a) => [a.agent, a.status, a.alive, a.older])).toEqual([
      ['scheduler', 'ok', 1, 1],
      ['worker', 'ok', 1, 1],
    ]);
  });

  it('an agent that stopped beating without saying so, with nothing in its place, is dead and stays listed', () => {
    const beats = [beat('publisher', 'p1', 2 * AGE_OUT_MS)];
    expect(statusOf(beats)).toEqual({ p1: ['dead', true] });
    expect(agentStatus(['publisher'], beats, NOW)[0]).toMatchObject({
      status: 'dead',
      alive: 0,
      lastAgeMs: 2 * AGE_OUT_MS,
    });
  });

  it('beats within three intervals are alive; at the fourth missed one the instance is gone', () => {
    expect(statusOf([beat('stats', 's', 90_000)])).toEqual({ s: ['alive', true] });
    expect(statusOf([beat('stats', 's', 90_001)])).toEqual({ s: ['dead', true] });
  });

  it('stopped and replaced instances leave the table an hour after their last beat', () => {
    const beats = [
      beat('retrier', 'r0', AGE_OUT_MS + 1, true),
      beat('retrier', 'r1', AGE_OUT_MS - 1_000, true),
      beat('retrier', 'r2', AGE_OUT_MS + 5),
      beat('retrier', 'r3', 1_000),
    ];
    expect(statusOf(beats)).toEqual({
      r0: ['stopped', false],
      r1: ['stopped', true],
      r2: ['replaced', false],
      r3: ['alive', true],
    });
  });

  it('the latest instance stopped cleanly: the agent is stopped, not dead; never beating: missing', () => {
    const beats = [beat('deleter', 'd0', 600_000), beat('deleter', 'd1', 60_000, true)];
    expect(agentStatus(['deleter', 'requests'], beats, NOW).map((a) => [a.agent, a.status])).toEqual([
      ['deleter', 'stopped'],
      ['requests', 'missing'],
    ]);
  });

  it('a combined process counts for each agent it runs; replaced only when all of them run again', () => {
    const beats = [beat('scheduler,retrier', 'a', 300_000), beat('scheduler', 'b', 1_000)];
    // The retrier has no alive instance: the combined one is dead, not replaced.
    expect(statusOf(beats)).toEqual({ a: ['dead', true], b: ['alive', true] });
    expect(agentStatus(['scheduler', 'retrier'], beats, NOW).map((a) => [a.agent, a.status])).toEqual([
      ['retrier', 'dead'],
      ['scheduler', 'ok'],
    ]);
    expect(statusOf([...beats, beat('retrier', 'c', 1_000)]).a).toEqual(['replaced', true]);
  });
});
