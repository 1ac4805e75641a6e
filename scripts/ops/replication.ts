/**
 * Continuous replication of one database for `migrate-db`, design documents excepted (the
 * target has the ones this code deploys; never overwrite them), in the best way the target
 * server offers (capabilities):
 *   - its own replicator (CouchDB): `POST /_replicate` with a Mango selector, cancelled by id
 *     (the target server pulls, so it must reach the source URL as given);
 *     its state, errors and counts come from `_scheduler/jobs` (docs written, write failures:
 *     a target's validate_doc_update refusing a document shows there, not as a missing count);
 *   - else PouchDB driven from this process over HTTP on both sides (the embedded server's
 *     `_replicate` cannot cancel a continuous replication, and it has no selectors).
 */
import { capabilities } from '../../agents/platform/capabilities';
import { withoutCredentials } from '../../agents/platform/config';
import { expectStatus, http } from './http';

export interface ReplicationStatus {
  readonly state: string;
  readonly docsWritten: number;
  readonly writeFailures: number;
  readonly changesPending: number | null;
  readonly error?: string;
}

export interface Replication {
  readonly by: 'server' | 'client';
  /** `_scheduler/jobs` figures (server replication only; null otherwise or when not listed). */
  status(): Promise<ReplicationStatus | null>;
  cancel(): Promise<void>;
}

/** Every document but design documents (deleted ones included: they carry their `_id`). */
export const NOT_DESIGN = { _id: { $not: { $regex: '^_design/' } } };

/** A replication endpoint with its credentials out of the URL (CouchDB 3's `auth.basic`). */
function endpoint(dbUrl: string): { url: string; auth?: { basic: { username: string; password: string } } } {
  const u = new URL(dbUrl);
  if (!u.username) return { url: dbUrl };
  const basic = { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
  u.username = '';
  u.password = '';
  return { url: u.toString(), auth: { basic } };
}

type Job = { id: string; history?: { type: string; reason?: string }[]; info?: Record<string, unknown> | null };

async function serverReplication(srcDbUrl: string, tgtDbUrl: string, tgtServer: string): Promise<Replication> {
  const body = { source: endpoint(srcDbUrl), target: endpoint(tgtDbUrl), continuous: true, selector: NOT_DESIGN };
  const a = expectStatus(
    await http<{ _local_id?: string; ok?: boolean }>(tgtServer, 'POST', '/_replicate', { body }),
    `starting replication to ${withoutCredentials(tgtDbUrl)}`,
  );
  const id = String(a.body._local_id || '');
  return {
    by: 'server',
    status: async () => {
      const jobs = await http<{ jobs?: Job[] }>(tgtServer, 'GET', '/_scheduler/jobs');
      const job = (jobs.body.jobs || []).find((j) => j.id === id);
      if (!job) return null;
      const last = (job.history || [])[0];
      const info = job.info || {};
      return {
        state: last?.type || 'unknown',
        docsWritten: Number(info.docs_written || 0),
        writeFailures: Number(info.doc_write_failures || 0),
        changesPending:
          info.changes_pending === undefined || info.changes_pending === null ? null : Number(info.changes_pending),
        ...(last?.type === 'crashed' ? { error: String(last.reason || info.error || 'crashed') } : {}),
      };
    },
    cancel: async () => {
      expectStatus(
        await http(tgtServer, 'POST', '/_replicate', { body: { replication_id: id, cancel: true } }),
        'cancelling replication',
        [200, 404],
      );
    },
  };
}

function clientReplication(srcDbUrl: string, tgtDbUrl: string, log: (l: string) => void): Replication {
  // Loaded only here, the one client-side replication path; PouchDB ships no types of its own.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
  const PouchDB = require('pouchdb');
  const rep = PouchDB.replicate(srcDbUrl, tgtDbUrl, {
    live: true,
    retry: true,
    batch_size: 500,
    batches_limit: 4,
    filter: (doc: { _id: string }) => !doc._id.startsWith('_design/'),
  }) as { cancel(): void; on(ev: string, fn: (x: unknown) => void): unknown };
  const what = `replication ${withoutCredentials(srcDbUrl)} -> ${withoutCredentials(tgtDbUrl)}`;
  rep.on('error', (err) => log(`${what}: ${(err as Error).message}`));
  rep.on('denied', (err) =>
    log(
      `${what}: a document was REFUSED by the target: ${JSON.stringify(err as { id?: string; reason?: string; message?: string })}`,
    ),
  );
  return { by: 'client', status: async () => null, cancel: async () => rep.cancel() };
}

/** Starts replicating `src` (a database URL with credentials) into `tgt` on `tgtServer`. */
export async function startReplication(
  srcDbUrl: string,
  tgtDbUrl: string,
  tgtServer: string,
  log: (l: string) => void,
): Promise<Replication> {
  const caps = await capabilities(tgtServer);
  if (caps.schedulerJobs && caps.selectorFilter) return serverReplication(srcDbUrl, tgtDbUrl, tgtServer);
  return clientReplication(srcDbUrl, tgtDbUrl, log);
}
