/**
 * The edges' outboxes (`couchstage edge`), read from their Prometheus metrics (the URLs of
 * COUCHSTAGE_EDGE_METRICS): an edge that does not answer, documents waiting long to reach
 * central, or no successful replication for a while is a problem; a backlog that drains is not.
 * With no edge configured there is nothing to check (a site with no edge works as without).
 */
import type { Finding } from './types';

/** A backlog older than this, or no successful push for this long, is a problem (a WAN outage, a refused account). */
export const EDGE_STALE_S = 600;

function gauge(text: string, name: string): number | null {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}

async function oneEdge(url: string, nowMs: number): Promise<Finding> {
  const subject = `edge ${new URL(url).host}`;
  let text: string;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    text = await res.text();
  } catch (err) {
    return {
      check: 'edge',
      subject,
      level: 'problem',
      message: `metrics not reachable at ${url}: ${(err as Error).message}`,
    };
  }
  const backlog = gauge(text, 'couchstage_edge_backlog') ?? 0;
  const oldest = gauge(text, 'couchstage_edge_oldest_waiting_seconds') ?? 0;
  const lastOk = gauge(text, 'couchstage_edge_last_replication_timestamp_seconds') ?? 0;
  const reachable = gauge(text, 'couchstage_edge_central_reachable') === 1;
  const refused = gauge(text, 'couchstage_edge_refused_total') ?? 0;
  const since = lastOk ? Math.round(nowMs / 1000 - lastOk) : null;
  const figures =
    `backlog ${backlog}, oldest waiting ${Math.round(oldest)} s, ` +
    `last successful replication ${since === null ? 'never' : `${since} s ago`}, central ${reachable ? 'reachable' : 'NOT reachable'}` +
    (refused ? `, ${refused} document(s) refused by central (see the edge's log)` : '');
  const stale = backlog > 0 && (oldest > EDGE_STALE_S || since === null || since > EDGE_STALE_S);
  const level = stale || refused > 0 ? 'problem' : reachable ? 'ok' : 'warning';
  return { check: 'edge', subject, level, message: figures };
}

export async function checkEdges(urls: readonly string[], nowMs: number, add: (f: Finding) => void): Promise<void> {
  for (const f of await Promise.all(urls.map((u) => oneEdge(u, nowMs)))) add(f);
}
