/**
 * Shape checks of what validate_doc_update of `transfers` sees from jobs and agents: transfers
 * (the job-written part on its own, for the CLI's submit, and the whole document), transfer jobs
 * and agents' heartbeats.
 */
import { COUCH_FIELDS, DocType } from '../../schema/databases';
import { FILE_TYPES, TRANSFER_JOB_FIELDS, TRANSFER_SERVICE_FIELDS, TRANSFER_USER_FLAGS } from '../../schema/transfers';
import { MAX_PARENTS } from '../../schema/catalog';
import { ADLER32_RE, Limits } from '../../schema/limits';
import { PublicationMachine, TransferJobMachine, TransferMachine } from '../../schema/machines';
import {
  datasetProblem,
  first,
  isNonNegInt,
  isObject,
  isOneOf,
  isoDateProblem,
  leaseProblem,
  lfnProblem,
  listProblem,
  nullableDate,
  optional,
  revProblem,
  siteNameProblem,
  stateProblem,
  textProblem,
  type Json,
  type Problem,
} from './basic';

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

/** The whole transfer document: job fields plus well-formed service fields. */
export function transferProblem(doc: Json): Problem {
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
    leaseProblem(doc.lease),
    doc.transfer_job === null
      ? null
      : optional('transfer_job', doc, (f, u) => textProblem(f, u, Limits.nameMaxLength * 2)),
    doc.block === null ? null : optional('block', doc, (f, u) => textProblem(f, u, Limits.lfnMaxLength)),
    optional('publication_attempts', doc, (f, u) => (isNonNegInt(u) ? null : f + ': must be a non-negative integer')),
    optional('resolved_conflict', doc, revProblem),
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
