/**
 * <data>/run.json: what a `couchstage start` runs (its pid, the server, the agents with their
 * pids, metrics URLs and logs, the storage), rewritten whenever a pid changes and marked
 * `stopped_at` on a clean stop. The next start reads it to reuse the agents' metrics ports, to
 * refuse to run beside a live start on the same data, and to stop what a killed start left.
 */
import * as fs from 'fs';
import * as path from 'path';
import { freePort } from '../se/xrootd';
import type { AgentFleet, AgentInfo } from './agents';
import { portFree, type DemoStorage } from './storage';

export interface RunRecord {
  readonly pid: number;
  readonly started_at: string;
  readonly stopped_at?: string;
  readonly server: { readonly url: string; readonly pid: number | null };
  readonly agents: readonly AgentInfo[];
  readonly storage: {
    readonly mode: string;
    readonly sites: readonly { name: string; endpoint: string; pid: number | null }[];
  } | null;
}

const startedAt = new Date(Date.now() - process.uptime() * 1000).toISOString();

export function readRunFile(file: string): RunRecord | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as RunRecord;
  } catch {
    return null;
  }
}

export function writeRunFile(
  file: string,
  s: {
    server: { url: string; supervisor: { pid?: number } | null };
    fleet: AgentFleet | null;
    storage: DemoStorage | null;
    stopped?: boolean;
  },
): void {
  const record: RunRecord = {
    pid: process.pid,
    started_at: startedAt,
    ...(s.stopped ? { stopped_at: new Date().toISOString() } : {}),
    server: { url: s.server.url, pid: s.server.supervisor?.pid ?? null },
    agents: s.fleet?.info ?? [],
    storage: s.storage && {
      mode: s.storage.mode,
      sites: s.storage.sites.map((x) => ({ name: x.name, endpoint: x.endpoint, pid: x.se?.pid ?? null })),
    },
  };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(record, null, 2) + '\n');
}

/** The process's command line, NUL-separated ('' when it is gone or not ours to read). */
function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

export function isAgentProcess(pid: number | null, entry: string): boolean {
  const cmd = pid ? cmdline(pid) : '';
  return cmd.includes(entry + '\0agent\0');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Refuses to start beside a live start on the same data; stops what a start that was killed left
 * running (its agents, and its embedded server if `serverEntry` is given): SIGTERM, SIGKILL after 10 s.
 */
export async function stopLeftovers(
  prev: RunRecord | null,
  entry: string,
  serverEntry: string | null,
  log: (line: string) => void,
): Promise<void> {
  if (!prev || prev.stopped_at) return;
  if (prev.pid !== process.pid && /cli\.js\0start(\0|$)/.test(cmdline(prev.pid))) {
    throw new Error(`another couchstage start (pid ${prev.pid}) is running on this data directory; stop it first`);
  }
  const left = prev.agents.map((a) => ({
    what: a.name,
    pid: a.pid,
    ours: (pid: number | null) => isAgentProcess(pid, entry),
  }));
  if (serverEntry)
    left.push({
      what: 'embedded server',
      pid: prev.server.pid,
      ours: (pid) => !!pid && cmdline(pid).startsWith(process.execPath + '\0' + serverEntry + '\0'),
    });
  const stale = left.filter((p) => p.ours(p.pid));
  if (!stale.length) return;
  log(`stopping what an earlier start left running: ${stale.map((p) => `${p.what} (pid ${p.pid})`).join(', ')}`);
  for (const p of stale) process.kill(p.pid!, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (stale.some((p) => p.ours(p.pid)) && Date.now() < deadline) await sleep(100);
  for (const p of stale) if (p.ours(p.pid)) process.kill(p.pid!, 'SIGKILL');
}

/** A metrics port per agent: the one it had last time if still free, else a free one. */
export async function agentPorts(prev: RunRecord | null, names: readonly string[]): Promise<Record<string, number>> {
  const ports: Record<string, number> = {};
  const taken = new Set<number>();
  for (const name of names) {
    const before = Number(prev?.agents.find((a) => a.name === name)?.metrics_url.match(/:(\d+)\//)?.[1]);
    let port = before && !taken.has(before) && (await portFree(before)) ? before : 0;
    while (!port || taken.has(port)) port = await freePort();
    taken.add(port);
    ports[name] = port;
  }
  return ports;
}
