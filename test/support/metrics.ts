/**
 * Reading an agent process's Prometheus metrics in tests: the agent (started with
 * `--metrics-port 0`) logs the URL it serves; a counter's value is the sum over its label sets.
 * The cluster tests print the conflicts resolved, the failovers and the 202 answers from here.
 */
import type { AgentProcess } from './agents';

/** The metrics URL the agent logged, or undefined while it has not logged one. */
export function metricsUrl(agent: AgentProcess): string | undefined {
  for (const line of agent.output.join('').split('\n')) {
    if (!line.startsWith('{') || !line.includes('"msg":"metrics"')) continue;
    const entry = JSON.parse(line) as { msg?: string; url?: string };
    if (entry.msg === 'metrics' && entry.url) return entry.url;
  }
  return undefined;
}

/** Sum of every sample of each named counter, 0 for a counter the agent does not have. */
export async function counters(agent: AgentProcess, names: readonly string[]): Promise<Record<string, number>> {
  const url = metricsUrl(agent);
  if (!url) throw new Error(`${agent.name} logged no metrics URL: start it with --metrics-port 0`);
  const text = await (await fetch(url, { signal: AbortSignal.timeout(10_000) })).text();
  const out: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (m && m[1] in out) out[m[1]] += Number(m[2]);
  }
  return out;
}

/** The same counters summed over agents. */
export async function sumCounters(
  agents: readonly AgentProcess[],
  names: readonly string[],
): Promise<Record<string, number>> {
  const each = await Promise.all(agents.map((a) => counters(a, names)));
  return Object.fromEntries(names.map((n) => [n, each.reduce((s, c) => s + c[n], 0)]));
}
