/**
 * Agent health from heartbeat documents, one rule for the page's Agents table and for `doctor`,
 * so that the two always agree. Every agent instance (one process: `<agent>@<host>:<pid>:<rand>`)
 * writes `heartbeat:<agent>:<instance>` every 30 s and, when it stops cleanly, a last one with
 * `stopped_at`. Each restart is a new instance, so old instances pile up; what they mean:
 *   alive     beating (last beat within 3 intervals)
 *   stopped   said it stopped (a clean SIGTERM, `--once` finished)
 *   replaced  stopped beating without saying so (killed, crashed), and every agent it ran has an
 *             alive instance now: the restart took over; not a problem
 *   dead      stopped beating without saying so and nothing took over: the problem to show
 * Stopped and replaced instances leave the table an hour after their last beat; dead ones stay
 * until an instance of the agent is alive again.
 */
import { HEARTBEAT_MS, MISSED_BEATS, type HeartbeatDoc } from '../schema';
/** How long a stopped or replaced instance stays listed. */
export const AGE_OUT_MS = 3_600_000;

export type InstanceStatus = 'alive' | 'stopped' | 'replaced' | 'dead';

export interface InstanceHealth {
  readonly id: string;
  /** As written: one agent, or a comma-separated list run in one process (`scheduler,retrier`). */
  readonly agent: string;
  readonly instance: string;
  readonly at: string;
  readonly ageMs: number;
  readonly status: InstanceStatus;
  /** Listed on the page (false: aged out). */
  readonly shown: boolean;
}

export interface AgentStatus {
  readonly agent: string;
  /**
   * ok: an instance is alive; stopped: the latest instance stopped cleanly; dead: it stopped
   * beating; missing: never beat.
   */
  readonly status: 'ok' | 'stopped' | 'dead' | 'missing';
  readonly alive: number;
  /** Instances that are not alive (stopped, replaced or dead), listed or not. */
  readonly older: number;
  /** Milliseconds since the latest beat of any instance (null: none). */
  readonly lastAgeMs: number | null;
}

const parts = (agent: string) => agent.split(',');

export function instanceHealth(
  beats: readonly HeartbeatDoc[],
  now: number,
  heartbeatMs = HEARTBEAT_MS,
): InstanceHealth[] {
  const deadAfter = MISSED_BEATS * heartbeatMs;
  const age = (b: HeartbeatDoc) => Math.max(0, now - Date.parse(b.at));
  const beating = (b: HeartbeatDoc) => !b.stopped_at && age(b) <= deadAfter;
  const aliveAgents = new Set(beats.filter(beating).flatMap((b) => parts(b.agent)));
  return beats
    .map((b) => {
      const ageMs = age(b);
      const status: InstanceStatus = b.stopped_at
        ? 'stopped'
        : ageMs <= deadAfter
          ? 'alive'
          : parts(b.agent).every((a) => aliveAgents.has(a))
            ? 'replaced'
            : 'dead';
      const shown = status === 'alive' || status === 'dead' || ageMs < AGE_OUT_MS;
      return { id: b._id, agent: b.agent, instance: b.instance, at: b.at, ageMs, status, shown };
    })
    .sort((a, b) => a.agent.localeCompare(b.agent) || a.ageMs - b.ageMs);
}

/** One line per agent name (the names of combined processes counted for each of them). */
export function agentStatus(
  names: Iterable<string>,
  beats: readonly HeartbeatDoc[],
  now: number,
  heartbeatMs = HEARTBEAT_MS,
): AgentStatus[] {
  const all = instanceHealth(beats, now, heartbeatMs);
  return [...new Set(names)].sort().map((agent) => {
    const mine = all.filter((i) => parts(i.agent).includes(agent));
    const alive = mine.filter((i) => i.status === 'alive').length;
    const latest = mine[0] ? mine.reduce((a, b) => (b.ageMs < a.ageMs ? b : a)) : null;
    const status = alive ? 'ok' : !latest ? 'missing' : latest.status === 'stopped' ? 'stopped' : 'dead';
    return { agent, status, alive, older: mine.length - alive, lastAgeMs: latest ? latest.ageMs : null };
  });
}
