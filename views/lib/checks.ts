/**
 * Shape checks shared by validate_doc_update (compiled into CouchDB), the CLI (before a submit) and
 * the agents. Each returns the first problem as "<field>: <why>", or null when the value is good.
 * Pure functions over plain JSON; no Node APIs (they run inside CouchDB's JS engine).
 */
// From the schema's parts, not its index: the index re-exports the guards built on these checks.
import { COUCH_FIELDS, DocType } from '../schema/databases';
import { FILE_TYPES, TRANSFER_JOB_FIELDS, TRANSFER_SERVICE_FIELDS, TRANSFER_USER_FLAGS } from '../schema/transfers';
import { ACCESS_TYPES, MAX_PARENTS } from '../schema/catalog';
import { ADLER32_RE, CONTROL_CHARS_RE, DATASET_RE, ISO_DATE_RE, Limits, REV_RE, SITE_NAME_RE } from '../schema/limits';
import {
  DATA_REQUEST_KINDS,
  DATA_REQUEST_SERVICE_FIELDS,
  DATA_REQUEST_USER_FIELDS,
  DataRequestLimits,
} from '../schema/data-requests';
import { PublicationMachine, DataRequestMachine, TransferJobMachine, TransferMachine } from '../schema/machines';
import { tfcRuleProblem } from './tfc';
import { siteNamespacesProblem } from './namespace';

import { cleanPathProblem, type Problem } from './paths';

export { cleanPathProblem, type Problem };
/** A document as validation reads it: any field may hold anything. */
export type Json = { [key: string]: unknown };

/** A typed document (an interface has no index signature) read as validation reads any input. */
export function jsonOf(doc: object): Json {
  return doc as Json;
}

/** `u` is one of `list`: an enum's values, say (indexOf, not includes: older JS engines run this). */
export function isOneOf(list: readonly string[], u: unknown): boolean {
  return typeof u === 'string' && list.indexOf(u) >= 0;
}

export function isObject(u: unknown): u is Json {
  return typeof u === 'object' && u !== null && !Array.isArray(u);
}

function isNonNegInt(u: unknown): u is number {
  return typeof u === 'number' && Math.floor(u) === u && u >= 0 && u <= Number.MAX_SAFE_INTEGER;
}

/** A printable, non-empty string of at most `max` characters. */
export function textProblem(field: string, u: unknown, max: number): Problem {
  if (typeof u !== 'string' || u.length === 0) return field + ': must be a non-empty string';
  if (u.length > max) return field + ': longer than ' + max + ' characters';
  if (CONTROL_CHARS_RE.test(u)) return field + ': contains control characters';
  return null;
}

export function isoDateProblem(field: string, u: unknown): Problem {
  // Date.parse rolls 2026-02-30 over to March 2 in every JS engine: check the day of the month.
  if (
    typeof u !== 'string' ||
    !ISO_DATE_RE.test(u) ||
    isNaN(Date.parse(u)) ||
    Number(u.slice(8, 10)) > new Date(Date.UTC(Number(u.slice(0, 4)), Number(u.slice(5, 7)), 0)).getUTCDate()
  ) {
    return field + ': must be an ISO 8601 date-time such as 2026-01-31T12:00:00Z';
  }
  return null;
}

export function siteNameProblem(field: string, u: unknown): Problem {
  if (typeof u !== 'string' || !SITE_NAME_RE.test(u)) {
    return field + ': must be a site name of letters, digits, _ . - (at most 64), e.g. T2_CH_CERN';
  }
  return null;
}

/**
 * Printable ASCII: the one alphabet every Unicode normalisation (NFC, NFKC, ...) leaves as it is
 * (fullwidth `．．` becomes `..` under NFKC, `u` + U+0308 becomes `ü` under NFC). CouchDB 3.4's
 * QuickJS has no String.prototype.normalize, so validation cannot ask; CMS LFNs are ASCII anyway.
 */

/**
 * LFNs are absolute and clean: nothing in them may mean something else once the LFN becomes a
 * PFN URL or a path on disk. So no `%` (decoding turns `%2e%2e` into `..`), `?` and `#` (a URL's
 * query and fragment: XRootD CGI on root://), `\` (a separator on some systems), whitespace or
 * control characters, nothing but printable ASCII (see above), no `//`, `.` or `..` segment, no
 * trailing `/`.
 */
export function lfnProblem(field: string, u: unknown): Problem {
  if (typeof u !== 'string' || u.length === 0) return field + ': must be a non-empty string';
  if (u.length > Limits.lfnMaxLength) return field + ': longer than ' + Limits.lfnMaxLength + ' characters';
  return cleanPathProblem(field, u);
}

export function datasetProblem(field: string, u: unknown): Problem {
  if (typeof u !== 'string' || !DATASET_RE.test(u)) {
    return field + ': must be a dataset name /primary/processed/TIER, e.g. /GenericTTbar/alice-test-v1/USER';
  }
  return null;
}

function optional(field: string, doc: Json, check: (f: string, u: unknown) => Problem): Problem {
  return doc[field] === undefined ? null : check(field, doc[field]);
}

function first(problems: Problem[]): Problem {
  for (let i = 0; i < problems.length; i++) if (problems[i]) return problems[i];
  return null;
}

const KNOWN_TRANSFER_FIELDS: readonly string[] = ([] as string[]).concat(
  TRANSFER_JOB_FIELDS as readonly string[],
  TRANSFER_SERVICE_FIELDS as readonly string[],
  TRANSFER_USER_FLAGS as readonly string[],
  COUCH_FIELDS as readonly string[],
);

/** The job-written part of a transfer document. */
export function transferSubmissionProblem(doc: Json): Problem {
  if (doc.type !== DocType.transfer) return 'type: must be "transfer"';
  for (const key in doc) {
    if (KNOWN_TRANSFER_FIELDS.indexOf(key) < 0) return key + ': unknown field on a transfer document';
  }
  const checksums = doc.checksums;
  return first([
    textProblem('user', doc.user, Limits.nameMaxLength),
    optional('group', doc, (f, u) => textProblem(f, u, Limits.nameMaxLength)),
    optional('role', doc, (f, u) => textProblem(f, u, Limits.nameMaxLength)),
    textProblem('workflow', doc.workflow, Limits.workflowMaxLength),
    typeof doc.jobid === 'number'
      ? isNonNegInt(doc.jobid)
        ? null
        : 'jobid: must be a non-negative integer or a string'
      : textProblem('jobid', doc.jobid, Limits.nameMaxLength),
    isNonNegInt(doc.job_retry_count) ? null : 'job_retry_count: must be a non-negative integer',
    isOneOf(FILE_TYPES, doc.file_type) ? null : 'file_type: must be "output" or "log"',
    siteNameProblem('source', doc.source),
    siteNameProblem('destination', doc.destination),
    lfnProblem('source_lfn', doc.source_lfn),
    lfnProblem('destination_lfn', doc.destination_lfn),
    isNonNegInt(doc.size) ? null : 'size: must be a non-negative integer number of bytes',
    !isObject(checksums)
      ? 'checksums: must be an object {adler32: "<8 hex digits>"}'
      : Object.keys(checksums)
          .filter((k) => k !== 'adler32')
          .map((k) => 'checksums.' + k + ': only adler32 is supported')[0] ||
        (typeof checksums.adler32 === 'string' && ADLER32_RE.test(checksums.adler32)
          ? null
          : 'checksums.adler32: must be exactly 8 hex digits'),
    typeof doc.publish === 'boolean' ? null : 'publish: must be true or false',
    doc.publish === true && doc.dataset === undefined ? 'dataset: is required when publish is true' : null,
    optional('dataset', doc, datasetProblem),
    optional('inputdataset', doc, datasetProblem),
    optional('parents', doc, (f, u) => listProblem(f, u, MAX_PARENTS, lfnProblem)),
    optional('priority', doc, (f, u) =>
      typeof u === 'number' && Math.floor(u) === u && u >= Limits.priorityMin && u <= Limits.priorityMax
        ? null
        : f + ': must be an integer from ' + Limits.priorityMin + ' to ' + Limits.priorityMax,
    ),
    isoDateProblem('created_at', doc.created_at),
    optional('kill_requested', doc, (f, u) => (typeof u === 'boolean' ? null : f + ': must be true or false')),
    optional('retry_requested', doc, (f, u) => (typeof u === 'boolean' ? null : f + ': must be true or false')),
  ]);
}

/** A document revision such as `2-967a00dff5e02add41819138abb3284d`. */
export function revProblem(field: string, u: unknown): Problem {
  return typeof u === 'string' && REV_RE.test(u)
    ? null
    : field + ': must be a document revision such as 2-967a00dff5e02add41819138abb3284d';
}

function nullableDate(field: string, doc: Json): Problem {
  return doc[field] === null ? null : optional(field, doc, isoDateProblem);
}

function attemptsProblem(u: unknown): Problem {
  if (!Array.isArray(u)) return 'attempts: must be an array';
  if (u.length > Limits.attemptsMax) return 'attempts: more than ' + Limits.attemptsMax + ' entries';
  for (let i = 0; i < u.length; i++) {
    const a = u[i];
    const f = 'attempts[' + i + ']';
    if (!isObject(a)) return f + ': must be an object';
    const p =
      isoDateProblem(f + '.at', a.at) ||
      (a.error === null || typeof a.error === 'string' ? null : f + '.error: must be a string or null') ||
      (a.transfer_job === null || typeof a.transfer_job === 'string'
        ? null
        : f + '.transfer_job: must be a string or null');
    if (p) return p;
  }
  return null;
}

/** One of a state machine's states (views/schema/machines.ts). */
export function stateProblem(field: string, u: unknown, states: readonly string[]): Problem {
  return states.indexOf(u as string) >= 0 ? null : field + ': must be one of ' + states.join(', ');
}

/** The whole transfer document: job fields plus well-formed service fields. */
export function transferProblem(doc: Json): Problem {
  const lease = doc.lease;
  return first([
    transferSubmissionProblem(doc),
    stateProblem('state', doc.state, TransferMachine.states),
    optional('attempts', doc, (_f, u) => attemptsProblem(u)),
    doc.failure_reason === null
      ? null
      : optional('failure_reason', doc, (f, u) => textProblem(f, u, Limits.reasonMaxLength)),
    nullableDate('started_at', doc),
    nullableDate('finished_at', doc),
    nullableDate('last_update', doc),
    nullableDate('next_attempt_at', doc),
    nullableDate('waiting_since', doc),
    optional('publication_state', doc, (f, u) => stateProblem(f, u, PublicationMachine.states)),
    lease === undefined || lease === null
      ? null
      : !isObject(lease)
        ? 'lease: must be an object {owner, expires_at} or null'
        : textProblem('lease.owner', lease.owner, Limits.nameMaxLength) ||
          isoDateProblem('lease.expires_at', lease.expires_at),
    doc.transfer_job === null
      ? null
      : optional('transfer_job', doc, (f, u) => textProblem(f, u, Limits.nameMaxLength * 2)),
    doc.block === null ? null : optional('block', doc, (f, u) => textProblem(f, u, Limits.lfnMaxLength)),
    optional('publication_attempts', doc, (f, u) => (isNonNegInt(u) ? null : f + ': must be a non-negative integer')),
    optional('resolved_conflict', doc, revProblem),
  ]);
}

export function siteProblem(doc: Json): Problem {
  const p = siteNameProblem('name', doc.name);
  if (p) return p;
  if (!isObject(doc.endpoints)) return 'endpoints: must be an object {protocol: url}';
  for (const proto in doc.endpoints) {
    const url = doc.endpoints[proto];
    if (!/^[a-z][a-z0-9+.-]*$/.test(proto)) return 'endpoints.' + proto + ': protocol names are lowercase letters';
    if (typeof url !== 'string' || !/^[a-z][a-z0-9+.-]*:\/\/\S+$/.test(url))
      return 'endpoints.' + proto + ': must be a URL such as root://host:1094';
  }
  if (!Array.isArray(doc.tfc)) return 'tfc: must be an array of rules';
  for (let i = 0; i < doc.tfc.length; i++) {
    const r = tfcRuleProblem('tfc[' + i + ']', doc.tfc[i]);
    if (r) return r;
  }
  return (
    optional('cleanup_source', doc, (f, u) => (typeof u === 'boolean' ? null : f + ': must be true or false')) ||
    optional('namespaces', doc, siteNamespacesProblem)
  );
}

export function linkProblem(doc: Json): Problem {
  return first([
    siteNameProblem('source', doc.source),
    siteNameProblem('destination', doc.destination),
    isNonNegInt(doc.max_active) ? null : 'max_active: must be a non-negative integer',
    optional('mode', doc, (f, u) => (u === 'stream' || u === 'tpc' ? null : f + ': must be "stream" or "tpc"')),
  ]);
}

/** Every numeric setting is a non-negative integer; unknown settings are refused (typos). */
export function settingsProblem(doc: Json, known: readonly string[]): Problem {
  for (const key in doc) {
    if (key === 'type' || key.charAt(0) === '_') continue;
    if (known.indexOf(key) < 0) return key + ': unknown setting';
    if (!isNonNegInt(doc[key])) return key + ': must be a non-negative integer';
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Catalogue documents (dataset, block, file, replica, quota). Unknown extra fields are allowed:
// the catalogue grows by additive fields (data handling adds its own); the known ones must be good.
// ---------------------------------------------------------------------------------------------

/** An array of at most `max` entries, each passing `check`. */
export function listProblem(
  field: string,
  u: unknown,
  max: number,
  check: (f: string, v: unknown) => Problem,
): Problem {
  if (!Array.isArray(u)) return field + ': must be an array';
  if (u.length > max) return field + ': more than ' + max + ' entries';
  for (let i = 0; i < u.length; i++) {
    const p = check(field + '[' + i + ']', u[i]);
    if (p) return p;
  }
  return null;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function intProblem(field: string, u: unknown): Problem {
  return isNonNegInt(u) ? null : field + ': must be a non-negative integer';
}

function boolProblem(field: string, u: unknown): Problem {
  return typeof u === 'boolean' ? null : field + ': must be true or false';
}

/** `<dataset>#<uuid>`. */
export function blockNameProblem(field: string, u: unknown): Problem {
  const i = typeof u === 'string' ? u.indexOf('#') : -1;
  if (typeof u !== 'string' || i < 0 || datasetProblem(field, u.slice(0, i)) || !UUID_RE.test(u.slice(i + 1))) {
    return field + ': must be a block name <dataset>#<uuid>';
  }
  return null;
}

export function datasetDocProblem(doc: Json): Problem {
  const name = doc.name;
  const tier = typeof name === 'string' ? name.slice(name.lastIndexOf('/') + 1) : '';
  const processing = doc.processing;
  return first([
    datasetProblem('name', name),
    doc.data_tier === tier ? null : 'data_tier: must be the TIER part of the name (' + tier + ')',
    isOneOf(ACCESS_TYPES, doc.access_type) ? null : 'access_type: must be one of ' + ACCESS_TYPES.join(', '),
    textProblem('owner', doc.owner, Limits.nameMaxLength),
    isoDateProblem('created_at', doc.created_at),
    optional('last_update', doc, isoDateProblem),
    optional('parents', doc, (f, u) => listProblem(f, u, MAX_PARENTS, datasetProblem)),
    processing === undefined
      ? null
      : !isObject(processing)
        ? 'processing: must be an object of strings, numbers or booleans'
        : Object.keys(processing)
            .filter((k) => ['string', 'number', 'boolean'].indexOf(typeof processing[k]) < 0)
            .map((k) => 'processing.' + k + ': must be a string, number or boolean')[0] || null,
  ]);
}

export function blockDocProblem(doc: Json): Problem {
  const name = doc.name;
  return first([
    blockNameProblem('name', name),
    typeof name === 'string' && name.slice(0, name.indexOf('#')) === doc.dataset
      ? null
      : 'dataset: must be the dataset part of the block name',
    textProblem('owner', doc.owner, Limits.nameMaxLength),
    boolProblem('open', doc.open),
    siteNameProblem('origin_site', doc.origin_site),
    intProblem('file_count', doc.file_count),
    intProblem('total_size', doc.total_size),
    isoDateProblem('created_at', doc.created_at),
    doc.open === false ? isoDateProblem('closed_at', doc.closed_at) : nullableDate('closed_at', doc),
    optional('last_update', doc, isoDateProblem),
    optional('closed_by', doc, (f, u) =>
      ['full', 'timeout', 'workflow', 'ops'].indexOf(u as string) >= 0
        ? null
        : f + ': must be full, timeout, workflow or ops',
    ),
  ]);
}

export function catalogFileProblem(doc: Json): Problem {
  const block = doc.block;
  return first([
    lfnProblem('lfn', doc.lfn),
    typeof doc.guid === 'string' && UUID_RE.test(doc.guid) ? null : 'guid: must be a lowercase UUID',
    intProblem('size', doc.size),
    typeof doc.adler32 === 'string' && ADLER32_RE.test(doc.adler32) ? null : 'adler32: must be exactly 8 hex digits',
    doc.events === null ? null : optional('events', doc, intProblem),
    boolProblem('valid', doc.valid),
    blockNameProblem('block', block),
    datasetProblem('dataset', doc.dataset),
    typeof block === 'string' && block.slice(0, block.indexOf('#')) === doc.dataset
      ? null
      : "block: must be a block of the file's dataset",
    textProblem('owner', doc.owner, Limits.nameMaxLength),
    optional('parents', doc, (f, u) => listProblem(f, u, MAX_PARENTS, lfnProblem)),
    isoDateProblem('created_at', doc.created_at),
    optional('last_update', doc, isoDateProblem),
  ]);
}

export function replicaDocProblem(doc: Json): Problem {
  return first([
    lfnProblem('lfn', doc.lfn),
    siteNameProblem('site', doc.site),
    blockNameProblem('block', doc.block),
    datasetProblem('dataset', doc.dataset),
    intProblem('size', doc.size),
    isoDateProblem('created_at', doc.created_at),
    optional('owner', doc, (f, u) => textProblem(f, u, Limits.nameMaxLength)),
  ]);
}

/** A quota document: `quota:<user>` with non-negative integer limits. */
export function quotaDocProblem(doc: Json): Problem {
  return first([
    textProblem('user', doc.user, Limits.nameMaxLength),
    intProblem('max_bytes', doc.max_bytes),
    intProblem('max_files', doc.max_files),
  ]);
}

/** The shape check of any catalogue document, by its type; unknown types are a problem. */
export function catalogDocProblem(doc: Json): Problem {
  switch (doc.type) {
    case DocType.dataset:
      return datasetDocProblem(doc);
    case DocType.block:
      return blockDocProblem(doc);
    case DocType.file:
      return catalogFileProblem(doc);
    case DocType.replica:
      return replicaDocProblem(doc);
    case DocType.quota:
      return quotaDocProblem(doc);
    default:
      return 'type: must be one of dataset, block, file, replica, quota';
  }
}

// ---------------------------------------------------------------------------------------------
// Data-handling requests (views/schema DataRequestDoc)
// ---------------------------------------------------------------------------------------------

const KNOWN_DATA_REQUEST_FIELDS: readonly string[] = ([] as string[]).concat(
  DATA_REQUEST_USER_FIELDS as readonly string[],
  DATA_REQUEST_SERVICE_FIELDS as readonly string[],
  COUCH_FIELDS as readonly string[],
);

function requestListProblem(field: string, u: unknown, max: number, each: (f: string, v: unknown) => Problem): Problem {
  if (!Array.isArray(u) || u.length === 0) return field + ': must be a non-empty array';
  if (u.length > max) return field + ': more than ' + max + ' entries';
  for (let i = 0; i < u.length; i++) {
    const p = each(field + '[' + i + ']', u[i]);
    if (p) return p;
  }
  return null;
}

function uniqueProblem(field: string, values: readonly string[]): Problem {
  const seen: { [k: string]: boolean } = {};
  for (let i = 0; i < values.length; i++) {
    if (seen['$' + values[i]]) return field + ': ' + values[i] + ' is listed twice';
    seen['$' + values[i]] = true;
  }
  return null;
}

function uploadFileProblem(field: string, u: unknown): Problem {
  if (!isObject(u)) return field + ': must be an object {lfn, size, adler32}';
  for (const key in u)
    if (['lfn', 'size', 'adler32'].indexOf(key) < 0) return field + '.' + key + ': unknown field of an upload file';
  return (
    lfnProblem(field + '.lfn', u.lfn) ||
    (isNonNegInt(u.size) ? null : field + '.size: must be a non-negative integer number of bytes') ||
    (typeof u.adler32 === 'string' && ADLER32_RE.test(u.adler32)
      ? null
      : field + '.adler32: must be exactly 8 hex digits')
  );
}

/** What the user writes on a request: kind, sites and exactly one selection of files. */
export function dataRequestUserProblem(doc: Json): Problem {
  if (doc.type !== DocType.dataRequest) return 'type: must be "request"';
  for (const key in doc) {
    if (KNOWN_DATA_REQUEST_FIELDS.indexOf(key) < 0) return key + ': unknown field on a request document';
  }
  if (!isOneOf(DATA_REQUEST_KINDS, doc.kind)) return 'kind: must be one of ' + DATA_REQUEST_KINDS.join(', ');
  const kind = doc.kind;
  const p =
    first([
      textProblem('user', doc.user, Limits.nameMaxLength),
      requestListProblem('sites', doc.sites, DataRequestLimits.sitesMax, siteNameProblem),
      isoDateProblem('created_at', doc.created_at),
    ]) || uniqueProblem('sites', doc.sites as string[]);
  if (p) return p;
  if (kind === 'upload') {
    if ((doc.sites as string[]).length !== 1) return 'sites: an upload goes to exactly one site';
    if (doc.lfns !== undefined) return 'lfns: an upload lists its files in files, not lfns';
    if (doc.source !== undefined) return 'source: only a replicate request has a source site';
    if (doc.dataset === undefined) return 'dataset: an upload registers its files as a dataset: give its name';
    const f =
      datasetProblem('dataset', doc.dataset) ||
      requestListProblem('files', doc.files, DataRequestLimits.filesMax, uploadFileProblem);
    return (
      f ||
      uniqueProblem(
        'files',
        (doc.files as { lfn: string }[]).map((x) => x.lfn),
      )
    );
  }
  if (doc.files !== undefined) return 'files: only an upload lists files; use dataset or lfns';
  if (kind === 'delete' && doc.source !== undefined) return 'source: only a replicate request has a source site';
  if ((doc.dataset === undefined) === (doc.lfns === undefined)) return 'dataset: give exactly one of dataset or lfns';
  if (doc.dataset !== undefined) {
    const d = datasetProblem('dataset', doc.dataset);
    if (d) return d;
  } else {
    const l =
      requestListProblem('lfns', doc.lfns, DataRequestLimits.filesMax, lfnProblem) ||
      uniqueProblem('lfns', doc.lfns as string[]);
    if (l) return l;
  }
  if (doc.source !== undefined) {
    const s = siteNameProblem('source', doc.source);
    if (s) return s;
    if ((doc.sites as string[]).indexOf(doc.source as string) >= 0)
      return 'source: ' + doc.source + ' is also a destination';
  }
  return null;
}

function progressProblem(u: unknown): Problem {
  if (!isObject(u)) return 'progress: must be an object {total, done, failed}';
  for (const key in u)
    if (['total', 'done', 'failed', 'already', 'unplaced'].indexOf(key) < 0)
      return 'progress.' + key + ': unknown counter';
  const keys = ['total', 'done', 'failed'];
  for (let i = 0; i < keys.length; i++)
    if (!isNonNegInt(u[keys[i]])) return 'progress.' + keys[i] + ': must be a non-negative integer';
  if (u.already !== undefined && !isNonNegInt(u.already)) return 'progress.already: must be a non-negative integer';
  if (u.unplaced !== undefined && !isNonNegInt(u.unplaced)) return 'progress.unplaced: must be a non-negative integer';
  if ((u.done as number) + (u.failed as number) > (u.total as number)) return 'progress: done + failed exceeds total';
  return null;
}

function requestErrorProblem(field: string, u: unknown): Problem {
  if (!isObject(u)) return field + ': must be an object {lfn, site, error}';
  return (
    optional('lfn', u, (f, v) => lfnProblem(field + '.' + f, v)) ||
    optional('site', u, (f, v) => siteNameProblem(field + '.' + f, v)) ||
    textProblem(field + '.error', u.error, Limits.reasonMaxLength)
  );
}

function targetProblem(field: string, u: unknown): Problem {
  if (!isObject(u)) return field + ': must be an object {lfn, site}';
  return lfnProblem(field + '.lfn', u.lfn) || siteNameProblem(field + '.site', u.site);
}

/** The whole request document: user fields plus well-formed service fields. */
export function dataRequestProblem(doc: Json): Problem {
  const lease = doc.lease;
  return first([
    dataRequestUserProblem(doc),
    stateProblem('state', doc.state, DataRequestMachine.states),
    optional('progress', doc, (_f, u) => progressProblem(u)),
    optional('errors', doc, (f, u) =>
      Array.isArray(u) && u.length === 0
        ? null
        : requestListProblem(f, u, DataRequestLimits.errorsMax, requestErrorProblem),
    ),
    lease === undefined || lease === null
      ? null
      : !isObject(lease)
        ? 'lease: must be an object {owner, expires_at} or null'
        : textProblem('lease.owner', lease.owner, Limits.nameMaxLength) ||
          isoDateProblem('lease.expires_at', lease.expires_at),
    optional('retries', doc, (f, u) => (isNonNegInt(u) ? null : f + ': must be a non-negative integer')),
    optional('targets', doc, (f, u) =>
      Array.isArray(u) && u.length === 0
        ? null
        : requestListProblem(f, u, DataRequestLimits.filesMax * DataRequestLimits.sitesMax, targetProblem),
    ),
    nullableDate('next_attempt_at', doc),
    nullableDate('started_at', doc),
    nullableDate('finished_at', doc),
    nullableDate('last_update', doc),
  ]);
}

/** A transfer job as the scheduler writes it and the workers move it on. */
export function transferJobProblem(doc: Json): Problem {
  if (doc.type !== DocType.transferJob) return 'type: must be "transfer_job"';
  return (
    textProblem('user', doc.user, 128) ||
    textProblem('source', doc.source, 64) ||
    textProblem('destination', doc.destination, 64) ||
    stateProblem('state', doc.state, TransferJobMachine.states) ||
    (Array.isArray(doc.files) &&
    doc.files.every((f) => typeof f === 'object' && f !== null && typeof (f as { id?: unknown }).id === 'string')
      ? null
      : 'files: must be an array of {id, source_pfn, destination_pfn}') ||
    isoDateProblem('created_at', doc.created_at)
  );
}

/** An agent instance's heartbeat. */
export function heartbeatProblem(doc: Json): Problem {
  if (doc.type !== DocType.heartbeat) return 'type: must be "heartbeat"';
  return (
    textProblem('agent', doc.agent, 128) ||
    textProblem('instance', doc.instance, 256) ||
    isoDateProblem('at', doc.at) ||
    (doc.stopped_at === undefined ? null : isoDateProblem('stopped_at', doc.stopped_at))
  );
}
