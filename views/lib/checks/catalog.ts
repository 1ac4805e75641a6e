/**
 * Shape checks of the catalogue documents in `catalog`: datasets, blocks, files, replicas and
 * quotas, and the dispatch by type that validate_doc_update of `catalog` runs. Unknown extra fields
 * are allowed: the catalogue grows by additive fields (data handling adds its own); the known ones
 * must be good.
 */
import { DocType } from '../../schema/databases';
import { ACCESS_TYPES, MAX_PARENTS } from '../../schema/catalog';
import { ADLER32_RE, Limits } from '../../schema/limits';
import {
  boolProblem,
  datasetProblem,
  first,
  intProblem,
  isObject,
  isOneOf,
  isoDateProblem,
  lfnProblem,
  listProblem,
  nullableDate,
  optional,
  siteNameProblem,
  textProblem,
  type Json,
  type Problem,
} from './basic';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

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
