/**
 * The `requests` agent's decisions, pure (no I/O): which transfers a replicate request needs,
 * how far a running one has come, and what an upload registers in the catalogue.
 */
import { createHash } from 'crypto';
import {
  DEFAULT_PRIORITY,
  DocId,
  DATA_REQUEST_WORKFLOW_PREFIX,
  DataRequestLimits,
  DataRequestState,
  TransferMachine,
  TransferState,
  uuidFromHex,
  CatalogId,
  type BlockDoc,
  type CatalogFileDoc,
  type DatasetDoc,
  type ReplicaDoc,
  type DataRequestDoc,
  type DataRequestError,
  type DataRequestProgress,
  type TransferDoc,
} from '../../views/schema';
import { fileId, guidOf, replicaId } from '../lib/catalog-access';
import { finalState, type Member } from '../lib/data-request-book';

const sha224 = (s: string) => createHash('sha224').update(s, 'utf8').digest('hex');

/** `rt-<sha224(request id, lfn, site)>`: a replayed plan finds its transfers (409) instead of copying twice. */
export function dataRequestTransferId(requestId: string, lfn: string, site: string): string {
  return DocId.dataRequestTransfer(sha224(requestId + '\n' + lfn + '\n' + site));
}

export interface ReplicatePlan {
  readonly transfers: TransferDoc[];
  /** (file, site) pairs already there: counted done without a copy. */
  readonly already: number;
  /** Files requested but not in the catalogue or without any replica to copy from. */
  readonly errors: DataRequestError[];
  readonly total: number;
}

/**
 * One transfer per (file, destination) that has no replica there yet. The source is the
 * request's `source` if that site holds the file, else the first site (by name) that does.
 */
export function planReplicate(
  req: DataRequestDoc,
  files: ReadonlyMap<string, CatalogFileDoc>,
  replicas: ReadonlyMap<string, ReadonlyMap<string, ReplicaDoc>>,
  now: Date,
): ReplicatePlan {
  const lfns = req.lfns ? [...req.lfns] : [...files.keys()].filter((l) => files.get(l)!.valid).sort();
  const transfers: TransferDoc[] = [];
  const errors: DataRequestError[] = [];
  let already = 0;
  const iso = now.toISOString();
  for (const lfn of lfns) {
    const file = files.get(lfn);
    const at = replicas.get(lfn) || new Map<string, ReplicaDoc>();
    for (const site of req.sites) {
      if (!file || !file.valid) {
        errors.push({ lfn, site, error: file ? 'file is invalid in the catalogue' : 'file is not in the catalogue' });
        continue;
      }
      if (at.has(site)) {
        already++;
        continue;
      }
      const holders = [...at.keys()].filter((s) => req.sites.indexOf(s) < 0).sort();
      const source = req.source && at.has(req.source) ? req.source : holders[0];
      if (!source) {
        errors.push({
          lfn,
          site,
          error: req.source ? `no replica at ${req.source} nor elsewhere to copy from` : 'no replica to copy from',
        });
        continue;
      }
      transfers.push({
        _id: dataRequestTransferId(req._id, lfn, site),
        type: 'transfer',
        user: req.user,
        workflow: DATA_REQUEST_WORKFLOW_PREFIX + req._id,
        jobid: req._id,
        job_retry_count: 0,
        file_type: 'output',
        source,
        destination: site,
        source_lfn: lfn,
        destination_lfn: lfn,
        size: file.size,
        checksums: { adler32: file.adler32.toLowerCase() },
        publish: false,
        priority: DEFAULT_PRIORITY,
        state: TransferMachine.initial,
        created_at: iso,
      });
    }
  }
  return {
    transfers,
    already,
    errors: errors.slice(0, DataRequestLimits.errorsMax),
    total: lfns.length * req.sites.length,
  };
}

/** Progress of a running replicate request from its stored counters and its transfers' states. */
export function replicateProgress(
  req: DataRequestDoc,
  members: readonly Member[],
): { progress: DataRequestProgress; settled: boolean; state: DataRequestState; failedMembers: Member[] } {
  const p = req.progress || { total: 0, done: 0, failed: 0 };
  const already = p.already || 0;
  const unplaced = p.unplaced || 0;
  const done = members.filter((m) => m.state === TransferState.done).length;
  const failedMembers = members.filter((m) => TransferMachine.inGroup('failure', m.state));
  const expected = p.total - already - unplaced;
  const settled = members.length >= expected && done + failedMembers.length === members.length;
  const progress = { ...p, done: already + done, failed: unplaced + failedMembers.length };
  return { progress, settled, state: settled ? finalState(progress) : DataRequestState.running, failedMembers };
}

/** The catalogue documents of an upload: dataset, one closed block, files and replicas. */
export function uploadDocs(
  req: DataRequestDoc,
  verified: readonly { lfn: string; size: number; adler32: string }[],
  now: Date,
): {
  dataset: DatasetDoc;
  block: BlockDoc;
  files: CatalogFileDoc[];
  replicas: ReplicaDoc[];
} {
  const iso = now.toISOString();
  const name = req.dataset!;
  const blockName = name + '#' + uuidFromHex(sha224(req._id));
  const site = req.sites[0];
  return {
    dataset: {
      _id: CatalogId.dataset(name),
      type: 'dataset',
      name,
      data_tier: name.split('/')[3],
      access_type: 'VALID',
      owner: req.user,
      created_at: iso,
      processing: { request: req._id },
    },
    block: {
      _id: CatalogId.block(blockName),
      type: 'block',
      name: blockName,
      dataset: name,
      owner: req.user,
      open: false,
      origin_site: site,
      file_count: verified.length,
      total_size: verified.reduce((a, f) => a + f.size, 0),
      created_at: iso,
      closed_at: iso,
    },
    files: verified.map((f) => ({
      _id: fileId(f.lfn),
      type: 'file',
      lfn: f.lfn,
      guid: guidOf(f.lfn),
      size: f.size,
      adler32: f.adler32.toLowerCase(),
      valid: true,
      block: blockName,
      dataset: name,
      owner: req.user,
      created_at: iso,
    })),
    replicas: verified.map((f) => ({
      _id: replicaId(f.lfn, site),
      type: 'replica',
      lfn: f.lfn,
      site,
      block: blockName,
      dataset: name,
      size: f.size,
      created_at: iso,
      owner: req.user,
    })),
  };
}
