/**
 * Shape checks of data request documents (views/schema/data-requests.ts): what the user writes
 * (also run by the CLI before it writes) and the whole document with the agents' fields.
 */
import { COUCH_FIELDS, DocType } from '../../schema/databases';
import {
  DATA_REQUEST_KINDS,
  DATA_REQUEST_SERVICE_FIELDS,
  DATA_REQUEST_USER_FIELDS,
  DataRequestLimits,
} from '../../schema/data-requests';
import { ADLER32_RE, Limits } from '../../schema/limits';
import { DataRequestMachine } from '../../schema/machines';
import {
  datasetProblem,
  first,
  isNonNegInt,
  isObject,
  isOneOf,
  isoDateProblem,
  leaseProblem,
  lfnProblem,
  nullableDate,
  optional,
  siteNameProblem,
  stateProblem,
  textProblem,
  type Json,
  type Problem,
} from './basic';

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
  return first([
    dataRequestUserProblem(doc),
    stateProblem('state', doc.state, DataRequestMachine.states),
    optional('progress', doc, (_f, u) => progressProblem(u)),
    optional('errors', doc, (f, u) =>
      Array.isArray(u) && u.length === 0
        ? null
        : requestListProblem(f, u, DataRequestLimits.errorsMax, requestErrorProblem),
    ),
    leaseProblem(doc.lease),
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
