/**
 * Sites, links and settings from the `config` database, kept current by following its `_changes`
 * (longpoll), so operators change limits and retries without restarting agents: a restart would
 * drop the in-memory tracker and reload every transfer.
 */
import {
  IdPrefix,
  DEFAULT_SETTINGS,
  ofLink,
  ofSite,
  type LinkDoc,
  type Settings,
  type SiteDoc,
} from '../../views/schema';
import { connect, fetchChanges, sleep, withRetry } from '../platform/couch';
import type { Logger } from '../platform/log';
import { linkKey } from '../../views/lib/link-key';
import { docsOf, type RawDoc } from '../platform/docs';

export class LiveConfig {
  settings: Settings = { ...DEFAULT_SETTINGS };
  readonly sites = new Map<string, SiteDoc>();
  readonly links = new Map<string, LinkDoc>();
  private seq: string | number = 0;

  constructor(
    private readonly url: string,
    private readonly dbName: string,
    private readonly log: Logger,
  ) {}

  link(source: string, destination: string): LinkDoc | undefined {
    return this.links.get(linkKey(source, destination));
  }

  maxActive(source: string, destination: string): number {
    const l = this.link(source, destination);
    return l ? l.max_active : this.settings.default_max_active;
  }

  private apply(doc: Record<string, unknown> & { _id: string; _deleted?: boolean }): void {
    if (doc._id === 'settings') {
      this.settings = doc._deleted ? { ...DEFAULT_SETTINGS } : { ...DEFAULT_SETTINGS, ...pickSettings(doc) };
      return;
    }
    if (doc._id.startsWith(IdPrefix.site)) {
      const name = doc._id.slice(5);
      if (doc._deleted || !ofSite(doc)) this.sites.delete(name);
      else this.sites.set(name, doc);
      return;
    }
    if (doc._id.startsWith(IdPrefix.link)) {
      if (doc._deleted || !ofLink(doc)) {
        for (const [k, l] of this.links) if (l._id === doc._id) this.links.delete(k);
      } else {
        this.links.set(linkKey(doc.source, doc.destination), doc);
      }
    }
  }

  /** Reads everything once; returns the sequence to follow from. */
  async load(): Promise<void> {
    const db = connect(this.url).use(this.dbName);
    const info = await db.info();
    const all = await db.list({ include_docs: true });
    for (const doc of docsOf<RawDoc>(all.rows)) if (!doc._id.startsWith('_design/')) this.apply(doc);
    this.seq = info.update_seq;
  }

  /** Follows the feed until the signal aborts. */
  async follow(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        const res = await withRetry(
          () =>
            fetchChanges<Record<string, unknown>>(
              this.url,
              this.dbName,
              {
                since: this.seq,
                feed: 'longpoll',
                timeout: 25_000,
                include_docs: true,
              },
              signal,
            ),
          { signal },
        );
        for (const r of res.results) if (r.doc && !r.id.startsWith('_design/')) this.apply(r.doc);
        this.seq = res.last_seq;
      } catch (err) {
        if (signal.aborted) return;
        this.log.warn('config feed error', { error: (err as Error).message });
        await sleep(1000, signal);
      }
    }
  }
}

function pickSettings(doc: Record<string, unknown>): Partial<Settings> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(DEFAULT_SETTINGS)) if (typeof doc[k] === 'number') out[k] = doc[k] as number;
  return out as Partial<Settings>;
}
