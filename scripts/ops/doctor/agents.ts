/**
 * The doctor's agent check: every registered agent has a fresh heartbeat
 * (`heartbeat:<agent>:<instance>`, written every 30 s: older than 3 beats is dead).
 */
import { agentStatus } from '../../../views/lib/agent-health';
import { HEARTBEAT_MS, IdPrefix, MISSED_BEATS, idRange, type HeartbeatDoc } from '../../../views/schema';
import { dbPath, http } from '../http';
import type { DoctorOptions, Finding } from './types';

export async function checkAgents(opts: DoctorOptions, now: number, add: (f: Finding) => void): Promise<void> {
  const hb = await http<{ rows: { doc?: { agent: string; instance: string; at: string } }[] }>(
    opts.url,
    'GET',
    `${dbPath(opts.dbs.transfers)}/_all_docs?include_docs=true&startkey=${encodeURIComponent(JSON.stringify(idRange(IdPrefix.heartbeat).startkey))}&endkey=${encodeURIComponent(JSON.stringify(idRange(IdPrefix.heartbeat).endkey))}`,
  );
  const beats = (hb.body.rows || []).map((r) => r.doc!).filter(Boolean) as HeartbeatDoc[];
  // The page's Agents table reads the same rule (views/lib/agent-health.ts).
  const names = new Set([...opts.agents, ...beats.flatMap((b) => b.agent.split(','))]);
  for (const a of agentStatus(names, beats, now, opts.heartbeatMs ?? HEARTBEAT_MS)) {
    // Not running: the latest instance is the subject of the message, not one of the older ones.
    const olderCount = a.status === 'ok' ? a.older : Math.max(0, a.older - 1);
    const older = olderCount ? `; ${olderCount} older instance(s) stopped or replaced` : '';
    const secs = Math.round((a.lastAgeMs ?? 0) / 1000);
    const expected = opts.agents.includes(a.agent);
    if (a.status === 'ok')
      add({ check: 'agent', subject: a.agent, level: 'ok', message: `${a.alive} instance(s) alive${older}` });
    else if (a.status === 'stopped')
      add({
        check: 'agent',
        subject: a.agent,
        level: expected ? 'problem' : 'warning',
        message: `stopped cleanly ${secs} s ago and not running since${older}`,
      });
    else if (a.status === 'dead')
      add({
        check: 'agent',
        subject: a.agent,
        level: 'problem',
        message: `no heartbeat for ${secs} s (dead after ${(MISSED_BEATS * (opts.heartbeatMs ?? HEARTBEAT_MS)) / 1000} s), and it did not say it stopped: killed, crashed or cannot write`,
      });
    else if (expected)
      add({
        check: 'agent',
        subject: a.agent,
        level: 'problem',
        message: 'never sent a heartbeat: the agent is not running',
      });
  }
}
