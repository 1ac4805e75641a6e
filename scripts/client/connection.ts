/**
 * A server that does not answer, told in words a user can act on. nano reports it as "error
 * happened in your connection. Reason: ..." and fetch as "fetch failed" with the cause inside;
 * neither says which server or what to check. The CLI asks this once, where every command's
 * error ends up (scripts/cli/main.ts), instead of each command guessing.
 */
import { answerTimeoutSeconds, withoutCredentials } from '../../agents/platform/config';

/** Network failures: nothing answered at that address, in time or at all. */
const CODES = [
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
];
const CODE_RE = new RegExp(`\\b(${CODES.join('|')})\\b`);

const NO_ANSWER_RE = /no answer within (\d+(?:\.\d+)?) s/;

/**
 * Bounds the wait for every answer of this process (a CLI command): a server that accepts the
 * connection and never answers (a stopped process whose port is still open, a stuck proxy) held
 * `couchstage status` with no answer and no message (still waiting after 40 s): neither nano nor
 * this code set a timeout of their own. Only the wait for the answer's headers is bounded, not
 * reading a long body. nano has no hook for it (it calls the global fetch), so the global fetch of
 * this short-lived process is wrapped, once; the agents and the servers, which hold longpolls,
 * never call this. COUCHSTAGE_ANSWER_TIMEOUT (seconds) replaces the default; 0 waits without bound.
 */
export function boundAnswers(): void {
  const g = globalThis as { fetch: typeof fetch; __couchstageBounded?: boolean };
  if (g.__couchstageBounded) return;
  g.__couchstageBounded = true;
  const original = g.fetch.bind(globalThis);
  g.fetch = (async (input: Parameters<typeof fetch>[0], init: RequestInit = {}) => {
    const seconds = answerTimeoutSeconds();
    if (!(seconds > 0)) return original(input, init);
    const ctl = new AbortController();
    const timer = setTimeout(
      () => ctl.abort(Object.assign(new Error(`no answer within ${seconds} s`), { name: 'TimeoutError' })),
      seconds * 1000,
    );
    const outer = init.signal;
    if (outer) {
      if (outer.aborted) ctl.abort(outer.reason);
      else outer.addEventListener('abort', () => ctl.abort(outer.reason), { once: true });
    }
    try {
      return await original(input, { ...init, signal: ctl.signal });
    } finally {
      clearTimeout(timer);
    }
  }) as typeof fetch;
}

/** The failure's code (ECONNREFUSED, ENOTFOUND, a timeout...) when `err` is one, else null. */
export function connectionFailure(err: unknown): string | null {
  // Walks the causes: fetch wraps the socket's error, and commands wrap what they got.
  for (
    let e = err as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0;
    e && depth < 5;
    e = e.cause as typeof e, depth++
  ) {
    if (typeof e.code === 'string' && CODES.includes(e.code)) return e.code;
    const waited = typeof e.message === 'string' ? NO_ANSWER_RE.exec(e.message) : null;
    if (waited)
      return `no answer within ${waited[1]} s; a server building an index answers only once it is built: COUCHSTAGE_ANSWER_TIMEOUT sets how long to wait, 0 without bound`;
    if (e.name === 'TimeoutError') return 'timeout';
    const m = typeof e.message === 'string' ? CODE_RE.exec(e.message) : null;
    if (m) return m[1];
    if (typeof e.message === 'string' && /error happened in your connection/.test(e.message)) return 'no connection';
  }
  return null;
}

/** What to say when `url` did not answer; the URL's credentials are never shown. */
export function unreachableMessage(url: string | null, code: string): string {
  let where = 'the server';
  if (url) {
    try {
      where = withoutCredentials(url);
    } catch {
      // An unparsable URL was refused by the config already; say "the server" rather than echo it.
    }
  }
  return (
    `${where} did not answer (${code}). Is the server running and reachable from here? ` +
    'Check COUCHDB_URL (unset: the embedded server of "couchstage start", in COUCHSTAGE_DATA_DIR).'
  );
}
