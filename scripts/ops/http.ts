/**
 * Plain HTTP for the operations commands (upgrade, migrate-db, compact, archive, doctor): the
 * few routes nano has no helper for (COPY, _active_tasks, _view_cleanup, _compact/<ddoc>), with
 * the credentials of the URL. Answers are returned with their status; callers decide.
 */
import { nodeRequest } from '../../agents/platform/nodes';

export interface HttpAnswer<T = Record<string, unknown>> {
  readonly status: number;
  readonly body: T;
}

export async function http<T = Record<string, unknown>>(
  url: string,
  method: string,
  path: string,
  opts: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<HttpAnswer<T>> {
  const res = await nodeRequest(url, path, {
    method,
    headers: {
      ...(opts.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...(opts.headers || {}),
    },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: opts.signal,
  });
  const text = res.text;
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    /* not JSON: keep the text */
  }
  return { status: res.status, body: body as T };
}

/** Throws a readable error unless the status is one of `ok`. */
export function expectStatus<T>(
  a: HttpAnswer<T>,
  what: string,
  ok: readonly number[] = [200, 201, 202],
): HttpAnswer<T> {
  if (!ok.includes(a.status)) {
    const b = a.body as unknown as { error?: string; reason?: string };
    throw Object.assign(
      new Error(`${what}: ${a.status} ${b && b.error ? `${b.error}: ${b.reason}` : JSON.stringify(a.body)}`),
      { statusCode: a.status, error: b && b.error },
    );
  }
  return a;
}

export function dbPath(db: string): string {
  return '/' + encodeURIComponent(db);
}

/** `_design/<name>` as a path; the slash is kept (CouchDB's canonical form). */
export function ddocPath(db: string, id: string): string {
  return dbPath(db) + '/_design/' + encodeURIComponent(id.replace(/^_design\//, ''));
}

/** Human figures for progress lines. */
export function formatSeconds(s: number): string {
  if (!isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

/** "10s", "5m", "2h", "1d" -> milliseconds; throws on anything else. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) throw new Error(`not a duration: "${text}" (use e.g. 30s, 10m, 12h, 1d)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Math.round(Number(m[1]) * unit);
}
