/**
 * Every document id the service builds, in one place: agents, the CLI, the page and the
 * validation functions call these instead of writing a prefix. Prefixes are also key ranges
 * (`_all_docs?startkey=<prefix>&endkey=<prefix>\ufff0`), which is how agents list one kind of
 * document without reading the others.
 */
import { JOB_ID_PREFIX } from './transfers';
import { DATA_REQUEST_ID_PREFIX, DATA_REQUEST_TRANSFER_PREFIX } from './data-requests';
import { sha224Hex } from '../lib/sha224';

export const IdPrefix = {
  heartbeat: 'heartbeat:',
  lock: 'lock:',
  site: 'site:',
  link: 'link:',
  job: JOB_ID_PREFIX,
  dataRequest: DATA_REQUEST_ID_PREFIX,
  dataRequestTransfer: DATA_REQUEST_TRANSFER_PREFIX,
} as const;

/** Hex digits of a hash kept in a job or request id: 160 bits, ids stay short in feeds and URLs. */
const HASH_DIGITS = 40;

export const DocId = {
  settings: 'settings',
  site: (name: string) => IdPrefix.site + name,
  link: (source: string, destination: string) => IdPrefix.link + source + ':' + destination,
  /** ASO's convention, enforced by validation: the hex SHA-224 of `source_lfn`, so a resubmission is a 409. */
  transfer: (sourceLfn: string) => sha224Hex(sourceLfn),
  /** `heartbeat:<agent>:<instance>`, written by every agent instance. */
  heartbeat: (agent: string, instance: string) => IdPrefix.heartbeat + agent + ':' + instance,
  /** `lock:<agent>`: the leader lease of an agent that runs one active instance. */
  lock: (agent: string) => IdPrefix.lock + agent,
  /** `tj-<hash>`, the hash of the job's files and revisions (hex, from the caller's SHA-224). */
  job: (hashHex: string) => IdPrefix.job + hashHex.slice(0, HASH_DIGITS),
  /** `rq-<hash>` of the data request's content and time (hex). */
  dataRequest: (hashHex: string) => IdPrefix.dataRequest + hashHex.slice(0, HASH_DIGITS),
  /** `rt-<sha224(request id, lfn, site)>`: a replicate request's transfer of one file to one site. */
  dataRequestTransfer: (hashHex: string) => IdPrefix.dataRequestTransfer + hashHex,
} as const;

/** The part of an id after its prefix (`site:T2_CH_CERN` -> `T2_CH_CERN`). */
export function idSuffix(prefix: string, id: string): string {
  return id.slice(prefix.length);
}

/** `_all_docs` bounds for every id starting with `prefix`. */
export function idRange(prefix: string): { startkey: string; endkey: string } {
  return { startkey: prefix, endkey: prefix + '\ufff0' };
}
