/**
 * One client, several nodes of one cluster: COUCHDB_URL (and every URL handed around inside the
 * project) may be a comma-separated list of node URLs. Every request goes to the list's current
 * node; a connection error or a 5xx moves the list to the next node and sends the request there,
 * each node once per request; when all fail, the last error goes to the caller, whose backoff
 * (couch.ts withRetry, the runner's) waits and tries again from the node that failed last. A
 * list string is one cluster: every client of it in a process shares its current node, so one
 * dead node costs one failed request, not one per client. Cluster answers are valid on every node
 * (a `_changes` sequence of node a resumes on node b), so nothing else changes on a failover.
 * Also counts what the metrics report (agents/platform/metrics.ts): failovers and 202 answers.
 */
import nano from 'nano';
import { bearerHeaders, bearerToken } from './token';

export { mapNodes, nodeUrls, rotateNodes } from './node-urls';
import { nodeUrls } from './node-urls';

/** What the process counted since it started (read by the metrics, and by tests). */
export const clientCounts = { failovers: 0, accepted: 0 };

/** A 202 answer: accepted by fewer nodes than the write quorum `w` (durable on at least one). */
export function noteAccepted(): void {
  clientCounts.accepted++;
}

/**
 * `412 nodedown: progress not possible`: the node that answered reaches no live copy of some
 * shard range (a `_changes` or view read needs every range). Seen on CouchDB 3.4.3 while one node
 * was stopped and another, just started again, had not opened its shards yet: every agent took it
 * for a client error and stopped. It is the cluster's state of the moment, not a bad request.
 */
export function isNodesDown(err: unknown): boolean {
  const e = err as { statusCode?: number; error?: unknown } | undefined;
  return e?.statusCode === 412 && e.error === 'nodedown';
}

/** A node that does not answer, answers 5xx or sees too few nodes is failing; any other answer is the cluster's. */
export function isNodeFailure(err: unknown): boolean {
  const status = (err as { statusCode?: number } | undefined)?.statusCode;
  return status === undefined || status >= 500 || isNodesDown(err);
}

/** The same test on an answer read whole (nodeRequest). */
function isFailedAnswer(res: { status: number; text: string }): boolean {
  return res.status >= 500 || (res.status === 412 && /"error"\s*:\s*"nodedown"/.test(res.text));
}

class NodeList {
  readonly urls: string[];
  current = 0;

  constructor(url: string) {
    this.urls = nodeUrls(url);
  }

  /**
   * `fn(i)` on the current node, then on each next one while it fails as a node; resolves the
   * first answer. `failed` marks an answer (not an error) as a node failure, e.g. a 5xx status.
   */
  async run<T>(
    fn: (i: number) => Promise<T>,
    opts: { signal?: AbortSignal; failed?: (answer: T) => boolean; from?: number } = {},
  ): Promise<T> {
    const from = opts.from ?? this.current;
    let last: { err: unknown } | { answer: T } = { err: new Error('no node URL') };
    for (let k = 0; k < this.urls.length; k++) {
      const i = (from + k) % this.urls.length;
      if (k > 0) clientCounts.failovers++;
      try {
        const answer = await fn(i);
        if (this.urls.length > 1 && opts.failed?.(answer) && !opts.signal?.aborted) {
          last = { answer };
          this.advance(i);
          continue;
        }
        return answer;
      } catch (err) {
        if (this.urls.length === 1 || !isNodeFailure(err) || opts.signal?.aborted) throw err;
        last = { err };
        this.advance(i);
      }
    }
    if ('answer' in last) return last.answer;
    throw last.err;
  }

  /** Node `i` failed: the next one becomes current, unless another request moved on already. */
  private advance(i: number): void {
    if (this.current === i) this.current = (i + 1) % this.urls.length;
  }
}

const lists = new Map<string, NodeList>();

function listOf(url: string): NodeList {
  let list = lists.get(url);
  if (!list) {
    list = new NodeList(url);
    lists.set(url, list);
  }
  return list;
}

/** Runs `fn` with one node URL of `url`, failing over to the next node as described above. */
export function onNodes<T>(
  url: string,
  fn: (nodeUrl: string) => Promise<T>,
  opts: { signal?: AbortSignal; failed?: (answer: T) => boolean } = {},
): Promise<T> {
  const list = listOf(url);
  return list.run((i) => fn(list.urls[i]), opts);
}

/** Splits `http://user:pass@host` into a credential-free URL and a Basic auth header (else a Bearer token, token.ts). */
export function authParts(url: string): { base: string; headers: Record<string, string> } {
  const u = new URL(url);
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (u.username) {
    headers.Authorization =
      'Basic ' + Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64');
  } else {
    // No credentials in the URL: a Bearer token from the environment, if one is set (token.ts).
    const token = bearerToken();
    if (token) headers.Authorization = `Bearer ${token}`;
  }
  u.username = '';
  u.password = '';
  return { base: u.toString().replace(/\/+$/, ''), headers };
}

/**
 * `fetch(<node> + path)` with the node's credentials, failing over on a network error or a 5xx
 * (the last node's 5xx answer is returned). A caller's abort is never a node failure.
 */
export function nodeFetch(url: string, path: string, init: RequestInit = {}): Promise<Response> {
  const signal = init.signal ?? undefined;
  return onNodes(
    url,
    async (node) => {
      const { base, headers } = authParts(node);
      try {
        return await fetch(base + path, { ...init, headers: { ...headers, ...(init.headers as object) } });
      } catch (err) {
        if (signal?.aborted) throw err;
        throw Object.assign(new Error(`${base}: ${(err as Error).message}`), { statusCode: undefined, cause: err });
      }
    },
    { signal, failed: (res) => res.status >= 500 },
  );
}

/** An answer read whole: its status, headers and body text. */
export interface NodeAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

/**
 * Like nodeFetch, but the body is read inside the failover: a node killed while it sends an
 * answer cuts the body off ("terminated"), which is a node failure like a refused connection.
 */
export function nodeRequest(url: string, path: string, init: RequestInit = {}): Promise<NodeAnswer> {
  const signal = init.signal ?? undefined;
  return onNodes(
    url,
    async (node) => {
      const { base, headers } = authParts(node);
      try {
        const res = await fetch(base + path, { ...init, headers: { ...headers, ...(init.headers as object) } });
        return { status: res.status, headers: res.headers, text: await res.text() };
      } catch (err) {
        if (signal?.aborted) throw err;
        throw Object.assign(new Error(`${base}: ${(err as Error).message}`), { statusCode: undefined, cause: err });
      }
    },
    { signal, failed: isFailedAnswer },
  );
}

/**
 * nano resolves a JSON answer whose body was cut off (a node killed mid-answer) as '' instead of
 * failing: seen as "rows is not iterable" in agents when a node was SIGKILLed. No CouchDB JSON
 * answer is empty, so '' is a node failure; attachments (which may be empty text) are left alone.
 */
function checkWhole(value: unknown, path: readonly Step[]): unknown {
  if (value === '' && !path.some(([prop]) => prop === 'attachment'))
    throw Object.assign(new Error('the answer was cut off (the node went away while answering)'), {
      statusCode: undefined,
    });
  return value;
}

type Step = readonly [PropertyKey, readonly unknown[] | null];

function isPlainObject(v: unknown): v is Record<PropertyKey, unknown> {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

function isPromise(v: unknown): v is Promise<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/**
 * A nano scope (the server, a database, `server.db`, ...) that sends each call to the list's
 * current node. `path` is how the scope is reached from a node's nano (e.g. `use('transfers')`),
 * replayed on whichever node a call goes to; plain-object results (scopes) are wrapped the same
 * way, promises fail over, anything else (streams, the changes reader) is the current node's.
 */
function scopeOver<T extends object>(list: NodeList, roots: readonly object[], path: readonly Step[]): T {
  const resolved: (Record<PropertyKey, unknown> | undefined)[] = [];
  const at = (i: number): Record<PropertyKey, unknown> => {
    let obj = resolved[i];
    if (!obj) {
      let o = roots[i] as Record<PropertyKey, unknown>;
      for (const [prop, args] of path) {
        const v = o[prop];
        o = (args ? (v as (...a: unknown[]) => unknown).apply(o, [...args]) : v) as Record<PropertyKey, unknown>;
      }
      obj = o;
      resolved[i] = obj;
    }
    return obj;
  };
  const handler: ProxyHandler<T> = {
    get(_target, prop) {
      const value = at(list.current)[prop];
      if (typeof value !== 'function')
        return isPlainObject(value) ? scopeOver(list, roots, [...path, [prop, null]]) : value;
      return (...args: unknown[]) => {
        const first = list.current;
        const call = (i: number) => (at(i)[prop] as (...a: unknown[]) => unknown).apply(at(i), args);
        const whole = (p: unknown) => Promise.resolve(p).then((v) => checkWhole(v, path));
        const r = call(first);
        if (isPromise(r)) return list.run((i) => whole(i === first ? r : call(i)), { from: first });
        return isPlainObject(r) ? scopeOver(list, roots, [...path, [prop, args]]) : r;
      };
    },
  };
  return new Proxy(at(list.current) as T, handler);
}

/** nano for a single URL or a node list (a list of one gets the same checks); 202 answers are counted. */
export function nanoOver(url: string): nano.ServerScope {
  // nano 11 calls `log` with one object per request and per answer (its type still says (id, args)).
  const log = (event: string | { headers?: { statusCode?: number } } | null) => {
    if (typeof event === 'object' && event?.headers?.statusCode === 202) noteAccepted();
  };
  const list = listOf(url);
  // Without credentials in a node's URL, a Bearer token from the environment if set (token.ts).
  const roots = list.urls.map((u) => {
    const headers = new URL(u).username ? null : bearerHeaders();
    return nano(headers ? { url: u, log, headers } : { url: u, log });
  });
  return scopeOver<nano.ServerScope>(list, roots, []);
}
