/**
 * Live updates: the transfers db's `_changes` as a longpoll feed (no eventsource, no
 * `filter=_selector`: the embedded server lacks both). Ids only, from the current sequence on;
 * each answer triggers one debounced refresh of what is on screen. A failed poll marks the feed
 * disconnected (visible in the header) and retries with backoff, first with a poll that answers
 * at once; the embedded server ignores the longpoll timeout, so the client aborts a poll itself
 * after POLL_MS.
 */
import { DB, getJson } from './api';

/** Server-side longpoll wait; the client gives up 10 s later. */
const POLL_MS = 25_000;
/** At most one refresh per this many ms, however busy the feed. */
const REFRESH_MS = 1_500;
/**
 * One more refresh this long after the last change: the stats agent's roll-up follows a change
 * by up to its 2 s write interval (its own write is in the feed too, and refreshes again).
 */
const TRAILING_MS = 3_500;

export type LiveState = 'connecting' | 'live' | 'disconnected';

export class LiveFeed {
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastRefresh = 0;
  private trailing: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly onChange: () => void,
    private readonly onState: (s: LiveState) => void,
  ) {}

  async start(): Promise<void> {
    let since: string | number | null = null;
    let failures = 0;
    this.onState('connecting');
    while (!this.stopped) {
      const abort = new AbortController();
      const t = setTimeout(() => abort.abort(), POLL_MS + 10_000);
      try {
        if (since === null) {
          since = (await getJson<{ update_seq: string | number }>(DB, { signal: abort.signal })).update_seq;
          // The server answered and the poll below waits for the next change: live now, not when
          // a change or the longpoll's timeout (25 s; up to a minute on the embedded server) ends it.
          this.onState('live');
        }
        // After a failure, one poll that answers at once (feed=normal): the header turns live as
        // soon as the server is back, not when the next change or the longpoll's timeout comes
        // (up to a minute on the embedded server, which ignores the timeout).
        const feed = failures > 0 ? 'normal' : `longpoll&timeout=${POLL_MS}`;
        const res: { results: unknown[]; last_seq: string | number } = await getJson(
          `${DB}_changes?feed=${feed}&limit=500&since=${encodeURIComponent(String(since))}`,
          { signal: abort.signal },
        );
        since = res.last_seq;
        failures = 0;
        this.onState('live');
        if (res.results.length) this.schedule();
      } catch {
        if (this.stopped) return;
        failures++;
        this.onState('disconnected');
        await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** failures)));
      } finally {
        clearTimeout(t);
      }
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.trailing) clearTimeout(this.trailing);
  }

  private schedule(): void {
    if (this.trailing) clearTimeout(this.trailing);
    this.trailing = setTimeout(() => {
      this.trailing = null;
      if (!this.stopped) this.onChange();
    }, TRAILING_MS);
    if (this.timer) return;
    const wait = Math.max(0, this.lastRefresh + REFRESH_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.lastRefresh = Date.now();
      this.onChange();
    }, wait);
  }
}
