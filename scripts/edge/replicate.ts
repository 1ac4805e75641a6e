/**
 * The edge's two continuous replications of `transfers`, driven from the edge process by PouchDB
 * over HTTP (the same code on both engines; the embedded server's own `_replicate` cannot be
 * cancelled), with PouchDB's checkpoints (`_local/<replication id>` on both sides), so a restart
 * goes on from where the last one stopped:
 *   - push: the edge's transfers from its own sites, into central, as the edge account;
 *   - pull: central's transfers from the edge's sites (the agents' state changes), into the edge.
 * Only transfers from the edge's sites cross, each way. Where the source server takes Mango
 * selectors (capabilities: `_changes?filter=_selector`) the source filters; the embedded server
 * fails such a request, so there the filter runs here, over the source's whole feed (PouchDB then
 * reads the feed with its documents).
 */
import { capabilities } from '../../agents/platform/capabilities';
import { withoutCredentials } from '../../agents/platform/config';
import { DocType } from '../../views/schema';

export interface ReplicationEvents {
  /** Documents written by one batch (the target accepted them). */
  written(n: number): void;
  /** The replication caught up with its source (nothing left to send for now). */
  caughtUp(): void;
  /** The target refused a document (validate_doc_update): it will never cross. */
  refused(id: string, reason: string): void;
  /** The other side could not be reached or answered an error; PouchDB retries with back-off. */
  failed(message: string): void;
}

export interface Replication {
  cancel(): void;
}

type PouchReplication = { cancel(): void; on(ev: string, fn: (x: unknown) => void): PouchReplication };

/** The filter options of a replication reading from `sourceServer`: a selector there, or a function here. */
async function filterFor(sourceServer: string, sites: readonly string[]): Promise<Record<string, unknown>> {
  const caps = await capabilities(sourceServer);
  if (caps.selectorFilter) return { selector: { type: DocType.transfer, source: { $in: [...sites] } } };
  return {
    filter: (doc: { type?: unknown; source?: unknown }) =>
      doc.type === DocType.transfer && typeof doc.source === 'string' && sites.includes(doc.source),
  };
}

/** Starts one continuous replication of transfers from the edge's sites, `source` to `target` (database URLs). */
export async function replicateTransfers(
  source: { server: string; db: string },
  target: { server: string; db: string },
  sites: readonly string[],
  on: ReplicationEvents,
): Promise<Replication> {
  // Loaded only here; PouchDB ships no types of its own.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
  const PouchDB = require('pouchdb');
  const url = (e: { server: string; db: string }) => `${e.server.replace(/\/+$/, '')}/${encodeURIComponent(e.db)}`;
  const rep = PouchDB.replicate(url(source), url(target), {
    live: true,
    retry: true,
    batch_size: 200,
    batches_limit: 4,
    // A back-off that stays short: an outage ends unannounced, and each try is one small request.
    back_off_function: (delay: number) => (delay === 0 ? 500 : Math.min(delay * 2, 5000)),
    ...(await filterFor(source.server, sites)),
  }) as PouchReplication;
  // `docs` is the batch just written (`docs_written` counts the whole replication).
  rep.on('change', (info) => on.written(((info as { docs?: unknown[] }).docs || []).length));
  rep.on('paused', (err) => (err ? on.failed(describe(err)) : on.caughtUp()));
  rep.on('denied', (err) => {
    const e = err as { id?: string; reason?: string; message?: string };
    on.refused(String(e.id || '?'), String(e.reason || e.message || 'refused'));
  });
  rep.on('error', (err) => on.failed(describe(err)));
  return { cancel: () => rep.cancel() };
}

function describe(err: unknown): string {
  const e = err as { message?: string; status?: number; reason?: string };
  return `${e.status ? e.status + ' ' : ''}${e.reason || e.message || String(err)}`;
}

/** `<server>/<db>` without credentials, for messages. */
export function where(e: { server: string; db: string }): string {
  return `${withoutCredentials(e.server)}/${e.db}`;
}
