/**
 * The validate_doc_update table for `transfers`: each case is a stored document (or none), a
 * write, the writer, and the expected answer. Run twice: in process against the compiled
 * function string, and against the deployed database (test/design/validate.test.ts).
 */
import { sha224Hex } from '../../views/lib/sha224';
import { transferFixture, type Actor, type TestEnv } from '../support/env';

export interface VduCase {
  readonly name: string;
  readonly actor: Actor;
  /** Changes applied to the base fixture to make the stored document; null = no document. */
  readonly old: Record<string, unknown> | null;
  /** The written document: changes over the stored one (or over the fixture). `undefined` removes a field. */
  readonly write: Record<string, unknown>;
  /** Write a deletion instead (a tombstone carrying `write`'s fields, if any). */
  readonly delete?: boolean;
  readonly expect: 'ok' | { status: 401 | 403; field: string };
}

const f = (field: string) => ({ status: 403 as const, field });
const REV_A = '2-' + 'a'.repeat(32);
const REV_C = '3-' + 'c'.repeat(32);

/** Transfer fixture fields a request does not have (the table's writes apply over a transfer fixture). */
const NOT_A_TRANSFER = {
  workflow: undefined,
  jobid: undefined,
  job_retry_count: undefined,
  file_type: undefined,
  source: undefined,
  destination: undefined,
  source_lfn: undefined,
  destination_lfn: undefined,
  size: undefined,
  checksums: undefined,
  publish: undefined,
  priority: undefined,
};
const UPFILE = { lfn: '/store/user/{owner}/up/1.root', size: 10, adler32: '0badcafe' };
/** A request document over the fixture (user and created_at come from it); unique id per case. */
const rq = (n: string, over: Record<string, unknown> = {}) => ({
  ...NOT_A_TRANSFER,
  _id: 'rq-case-' + n,
  type: 'request',
  kind: 'replicate',
  sites: ['T2_IT_Pisa'],
  dataset: '/Prim/{owner}-v1/USER',
  state: 'new',
  ...over,
});

/** A transfer job over the fixture (user and created_at come from it); unique id per case. */
const tj = (n: string, over: Record<string, unknown> = {}) => ({
  ...NOT_A_TRANSFER,
  _id: 'tj-case-' + n,
  type: 'transfer_job',
  source: 'T2_CH_CERN',
  destination: 'T2_IT_Pisa',
  protocol: 'file',
  mode: 'stream',
  files: [{ id: 'f1', source_pfn: 'file:///a', destination_pfn: 'file:///b' }],
  state: 'queued',
  lease: null,
  claims: 0,
  ...over,
});
const LEASE = { owner: 'worker-1', expires_at: '2026-11-26T06:05:00Z' };

/**
 * The stats agent's roll-up over the fixture. One id for all: only refused writes (nothing stored)
 * and, last, one accepted one.
 */
const stats = (over: Record<string, unknown> = {}) => ({
  ...NOT_A_TRANSFER,
  user: undefined,
  created_at: undefined,
  state: undefined,
  _id: 'monitor-stats',
  type: 'monitor_stats',
  updated_at: '2026-11-26T06:00:00Z',
  seq: 5,
  transfers: 0,
  states: {},
  users: {},
  links: [],
  time: { minute: [], hour: [], day: [] },
  failures: [],
  publication: {},
  publication_users: {},
  ...over,
});

export const CASES: readonly VduCase[] = [
  // --- creation by the owner ---
  { name: 'owner creates a well-formed transfer', actor: 'owner', old: null, write: {}, expect: 'ok' },
  {
    name: 'owner creates with publish and a dataset of their own',
    actor: 'owner',
    old: null,
    write: { publish: true, dataset: '/Prim/{owner}-v1/USER' },
    expect: 'ok',
  },
  {
    name: 'group member creates with an integer jobid and group/role',
    actor: 'member',
    old: null,
    write: { jobid: 7, group: '{group}', role: 'production' },
    expect: 'ok',
  },
  { name: 'anonymous write', actor: 'anonymous', old: null, write: {}, expect: { status: 401, field: '' } },
  { name: 'user writes a transfer for another user', actor: 'other', old: null, write: {}, expect: f('user') },
  { name: 'missing type', actor: 'owner', old: null, write: { type: undefined }, expect: f('type') },
  { name: 'unknown type', actor: 'owner', old: null, write: { type: 'banana' }, expect: f('type') },
  {
    name: 'user writes a heartbeat',
    actor: 'owner',
    old: null,
    write: { type: 'heartbeat', agent: 'x', instance: 'y', at: '2026-11-26T06:00:00Z' },
    expect: f('type'),
  },
  { name: 'unknown field', actor: 'owner', old: null, write: { destinaton: 'T2_X' }, expect: f('destinaton') },
  { name: 'missing workflow', actor: 'owner', old: null, write: { workflow: undefined }, expect: f('workflow') },
  { name: 'empty workflow', actor: 'owner', old: null, write: { workflow: '' }, expect: f('workflow') },
  { name: 'negative jobid', actor: 'owner', old: null, write: { jobid: -1 }, expect: f('jobid') },
  {
    name: 'job_retry_count not an integer',
    actor: 'owner',
    old: null,
    write: { job_retry_count: 1.5 },
    expect: f('job_retry_count'),
  },
  { name: 'bad file_type', actor: 'owner', old: null, write: { file_type: 'input' }, expect: f('file_type') },
  { name: 'site name with a space', actor: 'owner', old: null, write: { source: 'T2 CH' }, expect: f('source') },
  {
    name: 'site name with a slash',
    actor: 'owner',
    old: null,
    write: { destination: 'T2/../X' },
    expect: f('destination'),
  },
  {
    name: 'relative source_lfn',
    actor: 'owner',
    old: null,
    write: { source_lfn: 'store/temp/a.root' },
    expect: f('source_lfn'),
  },
  {
    name: 'source_lfn with ..',
    actor: 'owner',
    old: null,
    write: { source_lfn: '/store/temp/../etc/passwd' },
    expect: f('source_lfn'),
  },
  {
    name: 'source_lfn with //',
    actor: 'owner',
    old: null,
    write: { source_lfn: '/store//temp/a.root' },
    expect: f('source_lfn'),
  },
  {
    name: 'source_lfn with whitespace',
    actor: 'owner',
    old: null,
    write: { source_lfn: '/store/temp/a b.root' },
    expect: f('source_lfn'),
  },
  {
    name: 'destination_lfn with NUL',
    actor: 'owner',
    old: null,
    write: { destination_lfn: '/store/user/a\u0000.root' },
    expect: f('destination_lfn'),
  },
  {
    name: 'destination_lfn ending in /',
    actor: 'owner',
    old: null,
    write: { destination_lfn: '/store/user/dir/' },
    expect: f('destination_lfn'),
  },
  {
    name: 'destination_lfn with . segment',
    actor: 'owner',
    old: null,
    write: { destination_lfn: '/store/./user/a.root' },
    expect: f('destination_lfn'),
  },
  { name: 'negative size', actor: 'owner', old: null, write: { size: -1 }, expect: f('size') },
  { name: 'fractional size', actor: 'owner', old: null, write: { size: 10.5 }, expect: f('size') },
  { name: 'size as a string', actor: 'owner', old: null, write: { size: '100' }, expect: f('size') },
  {
    name: 'adler32 too short',
    actor: 'owner',
    old: null,
    write: { checksums: { adler32: 'abc' } },
    expect: f('checksums.adler32'),
  },
  {
    name: 'adler32 not hex',
    actor: 'owner',
    old: null,
    write: { checksums: { adler32: 'zzzzzzzz' } },
    expect: f('checksums.adler32'),
  },
  { name: 'checksums missing', actor: 'owner', old: null, write: { checksums: undefined }, expect: f('checksums') },
  {
    name: 'unsupported checksum kind',
    actor: 'owner',
    old: null,
    write: { checksums: { adler32: '0badcafe', md5: 'x' } },
    expect: f('checksums.md5'),
  },
  { name: 'publish not boolean', actor: 'owner', old: null, write: { publish: 'yes' }, expect: f('publish') },
  { name: 'publish without dataset', actor: 'owner', old: null, write: { publish: true }, expect: f('dataset') },
  {
    name: 'malformed dataset',
    actor: 'owner',
    old: null,
    write: { publish: true, dataset: 'not-a-dataset' },
    expect: f('dataset'),
  },
  {
    name: 'malformed inputdataset',
    actor: 'owner',
    old: null,
    write: { inputdataset: '/a/b' },
    expect: f('inputdataset'),
  },
  { name: 'priority out of range', actor: 'owner', old: null, write: { priority: 6 }, expect: f('priority') },
  { name: 'priority zero', actor: 'owner', old: null, write: { priority: 0 }, expect: f('priority') },
  {
    name: 'created_at not ISO 8601',
    actor: 'owner',
    old: null,
    write: { created_at: 'yesterday' },
    expect: f('created_at'),
  },
  { name: 'user creates in state done', actor: 'owner', old: null, write: { state: 'done' }, expect: f('state') },
  { name: 'unknown state', actor: 'owner', old: null, write: { state: 'flying' }, expect: f('state') },
  {
    name: 'user sets a service field on creation',
    actor: 'owner',
    old: null,
    write: { failure_reason: 'none' },
    expect: f('failure_reason'),
  },
  { name: 'user sets attempts on creation', actor: 'owner', old: null, write: { attempts: [] }, expect: f('attempts') },
  { name: '_id is not sha224(source_lfn)', actor: 'owner', old: null, write: { _id: 'my-own-id' }, expect: f('_id') },
  // --- clean LFNs: nothing that changes once the LFN is a URL or a path ---
  {
    name: 'source_lfn with %2e%2e segments',
    actor: 'owner',
    old: null,
    write: { source_lfn: '/store/temp/user/{owner}/%2e%2e/%2e%2e/%2e%2e/etc/x.root' },
    expect: f('source_lfn'),
  },
  {
    name: 'source_lfn with ..%2F',
    actor: 'owner',
    old: null,
    write: { source_lfn: '/store/temp/user/{owner}/..%2F..%2F..%2Fetc/passwd' },
    expect: f('source_lfn'),
  },
  {
    name: 'destination_lfn with %2e%2e',
    actor: 'owner',
    old: null,
    write: { destination_lfn: '/store/user/{owner}/%2E%2E/%2E%2E/{other}/x.root' },
    expect: f('destination_lfn'),
  },
  {
    name: 'destination_lfn with a ? (URL query, XRootD CGI)',
    actor: 'owner',
    old: null,
    write: { destination_lfn: '/store/user/{owner}/x.root?oss.cgroup=evil' },
    expect: f('destination_lfn'),
  },
  {
    name: 'destination_lfn with a # (URL fragment)',
    actor: 'owner',
    old: null,
    write: { destination_lfn: '/store/user/{owner}/x.root#frag' },
    expect: f('destination_lfn'),
  },
  {
    name: 'source_lfn with a backslash',
    actor: 'owner',
    old: null,
    write: { source_lfn: '/store/temp/user/{owner}/..\\..\\x.root' },
    expect: f('source_lfn'),
  },
  {
    name: 'destination_lfn with fullwidth dots (NFKC ..)',
    actor: 'owner',
    old: null,
    write: { destination_lfn: '/store/user/{owner}/\uff0e\uff0e/x.root' },
    expect: f('destination_lfn'),
  },
  {
    name: 'destination_lfn with a ligature NFKC changes',
    actor: 'owner',
    old: null,
    write: { destination_lfn: '/store/user/{owner}/\ufb01le.root' },
    expect: f('destination_lfn'),
  },
  {
    name: 'parent LFN with a percent sign',
    actor: 'owner',
    old: null,
    write: { parents: ['/store/user/{owner}/a%2fb.root'] },
    expect: f('parents[0]'),
  },
  {
    name: 'request LFN with %2e%2e',
    actor: 'owner',
    old: null,
    write: rq('c31', { dataset: undefined, kind: 'delete', lfns: ['/store/user/{owner}/%2e%2e/x.root'] }),
    expect: f('lfns[0]'),
  },
  // --- owners' namespaces: the user's temporary area to the user's (or their group's) area ---
  {
    name: "source in another user's temporary area",
    actor: 'owner',
    old: null,
    write: { source_lfn: '/store/temp/user/{other}/wf/x.root' },
    expect: f('source_lfn'),
  },
  {
    name: 'source outside any temporary area (a user area)',
    actor: 'owner',
    old: null,
    write: { source_lfn: '/store/user/{owner}/wf/x.root' },
    expect: f('source_lfn'),
  },
  {
    name: 'source outside /store',
    actor: 'owner',
    old: null,
    write: { source_lfn: '/etc/couchstage/server.json' },
    expect: f('source_lfn'),
  },
  {
    name: "source in a temporary area whose name only starts with the user's",
    actor: 'owner',
    old: null,
    write: { source_lfn: '/store/temp/user/{owner}x/x.root' },
    expect: f('source_lfn'),
  },
  {
    name: "destination in another user's area",
    actor: 'owner',
    old: null,
    write: { destination_lfn: '/store/user/{other}/wf/x.root' },
    expect: f('destination_lfn'),
  },
  {
    name: "destination in another user's temporary area",
    actor: 'owner',
    old: null,
    write: { destination_lfn: '/store/temp/user/{other}/wf/x.root' },
    expect: f('destination_lfn'),
  },
  {
    name: 'destination naming the user area itself, no file below it',
    actor: 'owner',
    old: null,
    write: { destination_lfn: '/store/user/{owner}' },
    expect: f('destination_lfn'),
  },
  {
    name: 'destination outside /store',
    actor: 'owner',
    old: null,
    write: { destination_lfn: '/tmp/x.root' },
    expect: f('destination_lfn'),
  },
  {
    name: 'destination in a group area without naming the group',
    actor: 'member',
    old: null,
    write: { destination_lfn: '/store/group/{group}/wf/x.root' },
    expect: f('destination_lfn'),
  },
  {
    name: 'group member writes the group area',
    actor: 'member',
    old: null,
    write: { group: '{group}', destination_lfn: '/store/group/{group}/wf/x.root' },
    expect: 'ok',
  },
  {
    name: 'user without the group role names the group',
    actor: 'owner',
    old: null,
    write: { group: '{group}', destination_lfn: '/store/group/{group}/wf/x.root' },
    expect: f('group'),
  },
  {
    name: "group member writes another group's area",
    actor: 'member',
    old: null,
    write: { group: '{group}', destination_lfn: '/store/group/top/wf/x.root' },
    expect: f('destination_lfn'),
  },
  {
    name: 'group member names a group they are not in',
    actor: 'member',
    old: null,
    write: { group: 'top', destination_lfn: '/store/group/top/wf/x.root' },
    expect: f('group'),
  },
  {
    name: "publish into another user's dataset",
    actor: 'owner',
    old: null,
    write: { publish: true, dataset: '/Prim/{other}-v1/USER' },
    expect: f('dataset'),
  },
  {
    name: 'publish into a dataset named for nobody',
    actor: 'owner',
    old: null,
    write: { publish: true, dataset: '/Prim/v1/USER' },
    expect: f('dataset'),
  },
  {
    name: 'a dataset of another user without publish',
    actor: 'owner',
    old: null,
    write: { dataset: '/Prim/{other}-v1/USER' },
    expect: f('dataset'),
  },
  {
    name: 'group member publishes a group dataset',
    actor: 'member',
    old: null,
    write: { group: '{group}', publish: true, dataset: '/Prim/{group}-v1/USER' },
    expect: 'ok',
  },
  {
    name: 'publish into a group dataset without the group',
    actor: 'member',
    old: null,
    write: { publish: true, dataset: '/Prim/{group}-v1/USER' },
    expect: f('dataset'),
  },
  {
    name: 'operators may still write any well-formed transfer',
    actor: 'ops',
    old: null,
    write: { destination_lfn: '/store/user/{other}/ops/x.root' },
    expect: 'ok',
  },
  // --- user requests on existing documents ---
  {
    name: 'owner requests a kill of a new transfer',
    actor: 'owner',
    old: {},
    write: { kill_requested: true },
    expect: 'ok',
  },
  {
    name: 'owner requests a kill of a submitted transfer',
    actor: 'owner',
    old: { state: 'submitted' },
    write: { kill_requested: true },
    expect: 'ok',
  },
  {
    name: 'owner requests a kill of a done transfer',
    actor: 'owner',
    old: { state: 'done' },
    write: { kill_requested: true },
    expect: f('kill_requested'),
  },
  {
    name: 'owner withdraws a kill request',
    actor: 'owner',
    old: { kill_requested: true },
    write: { kill_requested: false },
    expect: f('kill_requested'),
  },
  { name: 'other user requests a kill', actor: 'other', old: {}, write: { kill_requested: true }, expect: f('user') },
  {
    name: 'owner requests a retry of a failed transfer',
    actor: 'owner',
    old: { state: 'failed' },
    write: { retry_requested: true },
    expect: 'ok',
  },
  {
    name: 'owner requests a retry of an expired transfer',
    actor: 'owner',
    old: { state: 'expired' },
    write: { retry_requested: true },
    expect: 'ok',
  },
  {
    name: 'owner requests a retry of a new transfer',
    actor: 'owner',
    old: {},
    write: { retry_requested: true },
    expect: f('retry_requested'),
  },
  {
    name: 'owner requests a retry of a done transfer',
    actor: 'owner',
    old: { state: 'done' },
    write: { retry_requested: true },
    expect: f('retry_requested'),
  },
  {
    name: 'owner changes the size of an existing transfer',
    actor: 'owner',
    old: {},
    write: { size: 99 },
    expect: f('size'),
  },
  { name: 'owner moves the state', actor: 'owner', old: {}, write: { state: 'done' }, expect: f('state') },
  { name: 'owner deletes a transfer', actor: 'owner', old: {}, write: {}, delete: true, expect: f('_deleted') },
  // --- agents ---
  {
    name: 'agent acquires a new transfer',
    actor: 'agent',
    old: {},
    write: { state: 'acquired', lease: { owner: 'sched-1', expires_at: '2026-11-26T06:05:00Z' } },
    expect: 'ok',
  },
  {
    name: 'agent marks a submitted transfer done',
    actor: 'agent',
    old: { state: 'submitted' },
    write: { state: 'done', finished_at: '2026-11-26T06:10:00Z' },
    expect: 'ok',
  },
  {
    name: 'agent records a retry with its history',
    actor: 'agent',
    old: { state: 'submitted' },
    write: {
      state: 'retry',
      attempts: [{ at: '2026-11-26T06:10:00Z', error: 'timeout', error_class: 'transient', transfer_job: 'tj-1' }],
    },
    expect: 'ok',
  },
  { name: 'agent skips from new to done', actor: 'agent', old: {}, write: { state: 'done' }, expect: f('state') },
  {
    name: 'agent revives a done transfer',
    actor: 'agent',
    old: { state: 'done' },
    write: { state: 'new' },
    expect: f('state'),
  },
  {
    name: 'agent resubmits a failed transfer',
    actor: 'agent',
    old: { state: 'failed', retry_requested: true },
    write: { state: 'new', retry_requested: undefined },
    expect: 'ok',
  },
  {
    name: 'agent kills on request',
    actor: 'agent',
    old: { state: 'submitted', kill_requested: true },
    write: { state: 'killed' },
    expect: 'ok',
  },
  {
    name: 'agent changes a job field',
    actor: 'agent',
    old: {},
    write: { destination_lfn: '/store/user/elsewhere.root' },
    expect: f('destination_lfn'),
  },
  {
    name: 'agent sets a user request',
    actor: 'agent',
    old: {},
    write: { kill_requested: true },
    expect: f('kill_requested'),
  },
  {
    name: 'agent writes a malformed attempt',
    actor: 'agent',
    old: { state: 'submitted' },
    write: { state: 'retry', attempts: [{ at: 'now', error: 'x', transfer_job: null }] },
    expect: f('attempts[0].at'),
  },
  {
    name: 'agent publishes a done transfer',
    actor: 'agent',
    old: { state: 'done', publish: true, dataset: '/Prim/alice-v1/USER', publication_state: 'not_published' },
    write: { publication_state: 'publishing' },
    expect: 'ok',
  },
  {
    name: 'agent skips publishing',
    actor: 'agent',
    old: { state: 'done', publish: true, dataset: '/Prim/alice-v1/USER', publication_state: 'not_published' },
    write: { publication_state: 'published' },
    expect: f('publication_state'),
  },
  {
    name: 'agent publishes a failed transfer',
    actor: 'agent',
    old: { state: 'failed', publish: true, dataset: '/Prim/alice-v1/USER' },
    write: { publication_state: 'publishing' },
    expect: f('publication_state'),
  },
  {
    name: 'agent archives a done transfer',
    actor: 'agent',
    old: { state: 'done' },
    write: {},
    delete: true,
    expect: 'ok',
  },
  {
    name: 'agent deletes a pending transfer',
    actor: 'agent',
    old: { state: 'submitted' },
    write: {},
    delete: true,
    expect: f('_deleted'),
  },
  // --- conflict resolution by an agent (agents/lib/conflicts.ts): a new resolved_conflict marker ---
  {
    name: "agent carries the owner's kill over in a conflict resolution",
    actor: 'agent',
    old: { state: 'acquired' },
    write: { kill_requested: true, resolved_conflict: REV_A },
    expect: 'ok',
  },
  {
    name: "agent carries the owner's retry over in a conflict resolution",
    actor: 'agent',
    old: { state: 'failed' },
    write: { retry_requested: true, resolved_conflict: REV_A },
    expect: 'ok',
  },
  {
    name: 'agent sets a request with a marker the document already had',
    actor: 'agent',
    old: { state: 'acquired', resolved_conflict: REV_A },
    write: { kill_requested: true },
    expect: f('kill_requested'),
  },
  {
    name: 'a conflict resolution still follows the transitions table',
    actor: 'agent',
    old: { state: 'retry' },
    write: { state: 'done', resolved_conflict: REV_A },
    expect: f('state'),
  },
  {
    name: 'agent marks an acquired transfer done (a copy shorter than mark_submitted_after)',
    actor: 'agent',
    old: { state: 'acquired' },
    write: { state: 'done', started_at: '2026-11-26T06:09:59Z', finished_at: '2026-11-26T06:10:00Z' },
    expect: 'ok',
  },
  {
    name: 'agent writes a malformed resolution marker',
    actor: 'agent',
    old: {},
    write: { kill_requested: true, resolved_conflict: 'latest' },
    expect: f('resolved_conflict'),
  },
  {
    name: 'agent deletes the losing revision of a conflict',
    actor: 'agent',
    old: { state: 'submitted' },
    write: { resolved_conflict: REV_C },
    delete: true,
    expect: 'ok',
  },
  {
    name: 'agent deletes a pending transfer with a malformed marker',
    actor: 'agent',
    old: { state: 'submitted' },
    write: { resolved_conflict: 'x' },
    delete: true,
    expect: f('_deleted'),
  },
  {
    name: 'owner creates with a resolution marker',
    actor: 'owner',
    old: null,
    write: { resolved_conflict: REV_A },
    expect: f('resolved_conflict'),
  },
  {
    name: 'owner sets a resolution marker',
    actor: 'owner',
    old: {},
    write: { resolved_conflict: REV_A },
    expect: f('resolved_conflict'),
  },
  {
    name: 'owner deletes with a resolution marker',
    actor: 'owner',
    old: {},
    write: { resolved_conflict: REV_C },
    delete: true,
    expect: f('_deleted'),
  },
  {
    name: 'agent writes a heartbeat',
    actor: 'agent',
    old: null,
    write: {
      _id: 'heartbeat:scheduler:1',
      type: 'heartbeat',
      agent: 'scheduler',
      instance: 'h-1',
      at: '2026-11-26T06:00:00Z',
    },
    expect: 'ok',
  },
  // --- operators and admins ---
  { name: 'ops moves done back to new', actor: 'ops', old: { state: 'done' }, write: { state: 'new' }, expect: 'ok' },
  { name: 'ops fixes a job field', actor: 'ops', old: {}, write: { destination: 'T1_US_FNAL' }, expect: 'ok' },
  {
    name: 'ops still cannot store a malformed transfer',
    actor: 'ops',
    old: {},
    write: { size: -5 },
    expect: f('size'),
  },
  { name: 'admin deletes a pending transfer', actor: 'admin', old: {}, write: {}, delete: true, expect: 'ok' },
  {
    name: 'type change of an existing document',
    actor: 'ops',
    old: {},
    write: { type: 'heartbeat', agent: 'a', instance: 'b', at: '2026-11-26T06:00:00Z' },
    expect: f('type'),
  },
  // --- data-handling requests (views/transfers/data-requests.ts) ---
  { name: 'owner creates a replicate request for a dataset', actor: 'owner', old: null, write: rq('c1'), expect: 'ok' },
  {
    name: 'owner creates a delete request by LFNs',
    actor: 'owner',
    old: null,
    write: rq('c2', {
      kind: 'delete',
      dataset: undefined,
      lfns: ['/store/user/{owner}/1.root', '/store/user/{owner}/2.root'],
    }),
    expect: 'ok',
  },
  {
    name: "owner asks to delete another user's files",
    actor: 'owner',
    old: null,
    write: rq('c2o', { kind: 'delete', dataset: undefined, lfns: ['/store/user/{other}/1.root'] }),
    expect: f('lfns[0]'),
  },
  {
    name: 'owner asks to delete a file outside every user area',
    actor: 'owner',
    old: null,
    write: rq('c2e', { kind: 'delete', dataset: undefined, lfns: ['/etc/passwd'] }),
    expect: f('lfns[0]'),
  },
  {
    name: "owner asks to delete another user's dataset",
    actor: 'owner',
    old: null,
    write: rq('c2d', { kind: 'delete', dataset: '/Prim/{other}-v1/USER' }),
    expect: f('dataset'),
  },
  {
    name: "owner asks to replicate another user's dataset",
    actor: 'owner',
    old: null,
    write: rq('c2r', { dataset: '/Prim/{other}-v1/USER' }),
    expect: f('dataset'),
  },
  {
    name: 'owner creates an upload request',
    actor: 'owner',
    old: null,
    write: rq('c3', { kind: 'upload', files: [UPFILE], dataset: '/Prim/{owner}-v1/USER' }),
    expect: 'ok',
  },
  {
    name: "upload into another user's dataset",
    actor: 'owner',
    old: null,
    write: rq('c32', { kind: 'upload', files: [UPFILE], dataset: '/Prim/{other}-v1/USER' }),
    expect: f('dataset'),
  },
  {
    name: "upload of files in another user's area",
    actor: 'owner',
    old: null,
    write: rq('c33', {
      kind: 'upload',
      files: [{ ...UPFILE, lfn: '/store/user/{other}/up/1.root' }],
      dataset: '/Prim/{owner}-v1/USER',
    }),
    expect: f('files[0].lfn'),
  },
  {
    name: 'group member uploads a group dataset in the group area',
    actor: 'member',
    old: null,
    write: rq('c34', {
      kind: 'upload',
      files: [{ ...UPFILE, lfn: '/store/group/{group}/up/1.root' }],
      dataset: '/Prim/{group}-v1/USER',
    }),
    expect: 'ok',
  },
  { name: 'user creates a request for another user', actor: 'other', old: null, write: rq('c4'), expect: f('user') },
  {
    name: 'request of an unknown kind',
    actor: 'owner',
    old: null,
    write: rq('c5', { kind: 'move' }),
    expect: f('kind'),
  },
  {
    name: 'request with both dataset and lfns',
    actor: 'owner',
    old: null,
    write: rq('c6', { lfns: ['/store/user/a/1.root'] }),
    expect: f('dataset'),
  },
  {
    name: 'request with neither dataset nor lfns',
    actor: 'owner',
    old: null,
    write: rq('c7', { dataset: undefined }),
    expect: f('dataset'),
  },
  {
    name: 'request to a malformed site',
    actor: 'owner',
    old: null,
    write: rq('c8', { sites: ['T2 IT'] }),
    expect: f('sites[0]'),
  },
  { name: 'request without sites', actor: 'owner', old: null, write: rq('c9', { sites: [] }), expect: f('sites') },
  {
    name: 'request naming a site twice',
    actor: 'owner',
    old: null,
    write: rq('c10', { sites: ['T2_IT_Pisa', 'T2_IT_Pisa'] }),
    expect: f('sites'),
  },
  {
    name: 'upload to two sites',
    actor: 'owner',
    old: null,
    write: rq('c11', { kind: 'upload', sites: ['T2_IT_Pisa', 'T1_US_FNAL'], files: [UPFILE] }),
    expect: f('sites'),
  },
  { name: 'upload without files', actor: 'owner', old: null, write: rq('c12', { kind: 'upload' }), expect: f('files') },
  {
    name: 'upload file with a bad adler32',
    actor: 'owner',
    old: null,
    write: rq('c13', { kind: 'upload', files: [{ ...UPFILE, adler32: 'xyz' }] }),
    expect: f('files[0].adler32'),
  },
  {
    name: 'request with a relative LFN',
    actor: 'owner',
    old: null,
    write: rq('c14', { dataset: undefined, lfns: ['store/a.root'] }),
    expect: f('lfns[0]'),
  },
  {
    name: 'replicate from a site that is also a destination',
    actor: 'owner',
    old: null,
    write: rq('c15', { source: 'T2_IT_Pisa' }),
    expect: f('source'),
  },
  {
    name: 'user sets progress on a new request',
    actor: 'owner',
    old: null,
    write: rq('c16', { progress: { total: 1, done: 1, failed: 0 } }),
    expect: f('progress'),
  },
  {
    name: 'user creates a request already running',
    actor: 'owner',
    old: null,
    write: rq('c17', { state: 'running' }),
    expect: f('state'),
  },
  {
    name: 'request id without the rq- prefix',
    actor: 'owner',
    old: null,
    write: rq('c18', { _id: 'my-request' }),
    expect: f('_id'),
  },
  {
    name: 'request with an unknown field',
    actor: 'owner',
    old: null,
    write: rq('c19', { priority_boost: 1 }),
    expect: f('priority_boost'),
  },
  {
    name: 'owner changes a submitted request',
    actor: 'owner',
    old: rq('c20'),
    write: { sites: ['T1_US_FNAL'] },
    expect: f('state'),
  },
  {
    name: 'agent claims a new request',
    actor: 'agent',
    old: rq('c21'),
    write: {
      state: 'running',
      lease: { owner: 'deleter-1', expires_at: '2026-11-26T06:05:00Z' },
      progress: { total: 2, done: 0, failed: 0 },
    },
    expect: 'ok',
  },
  {
    name: 'agent finishes a running request',
    actor: 'agent',
    old: rq('c22', { state: 'running' }),
    write: {
      state: 'partially_failed',
      progress: { total: 2, done: 1, failed: 1 },
      errors: [{ lfn: '/store/user/a/1.root', site: 'T2_IT_Pisa', error: 'permission denied' }],
    },
    expect: 'ok',
  },
  {
    name: 'agent revives a finished request',
    actor: 'agent',
    old: rq('c23', { state: 'done' }),
    write: { state: 'running' },
    expect: f('state'),
  },
  {
    name: 'agent changes the sites of a request',
    actor: 'agent',
    old: rq('c24'),
    write: { sites: ['T1_US_FNAL'] },
    expect: f('sites'),
  },
  {
    name: 'agent counts more than the total',
    actor: 'agent',
    old: rq('c25', { state: 'running' }),
    write: { progress: { total: 2, done: 2, failed: 1 } },
    expect: f('progress'),
  },
  { name: 'agent creates a request', actor: 'agent', old: null, write: rq('c26'), expect: f('type') },
  {
    name: 'agent changes the targets of a claimed request',
    actor: 'agent',
    old: rq('c27', { state: 'running', targets: [{ lfn: '/store/user/a/1.root', site: 'T2_IT_Pisa' }] }),
    write: { targets: [] },
    expect: f('targets'),
  },
  {
    name: 'owner deletes a request',
    actor: 'owner',
    old: rq('c28'),
    write: { _id: 'rq-case-c28' },
    delete: true,
    expect: f('_deleted'),
  },
  {
    name: 'agent archives a finished request',
    actor: 'agent',
    old: rq('c29', { state: 'done' }),
    write: { _id: 'rq-case-c29' },
    delete: true,
    expect: 'ok',
  },
  {
    name: 'ops still cannot store a malformed request',
    actor: 'ops',
    old: null,
    write: rq('c30', { kind: 'upload', files: [UPFILE], sites: [] }),
    expect: f('sites'),
  },
  // --- transfer jobs: the job machine (queued -> active -> done) for agents ---
  { name: 'agent creates a queued job', actor: 'agent', old: null, write: tj('j1'), expect: 'ok' },
  {
    name: 'agent creates a job already done',
    actor: 'agent',
    old: null,
    write: tj('j2', { state: 'done' }),
    expect: f('state'),
  },
  {
    name: 'agent claims a queued job',
    actor: 'agent',
    old: tj('j3'),
    write: { state: 'active', lease: LEASE, claims: 1 },
    expect: 'ok',
  },
  {
    name: "agent renews an active job's lease",
    actor: 'agent',
    old: tj('j4', { state: 'active', lease: LEASE, claims: 1 }),
    write: { lease: { ...LEASE, expires_at: '2026-11-26T06:10:00Z' } },
    expect: 'ok',
  },
  {
    name: 'agent finishes an active job',
    actor: 'agent',
    old: tj('j5', { state: 'active', lease: LEASE, claims: 1 }),
    write: { state: 'done', lease: null, finished_at: '2026-11-26T06:06:00Z', summary: { done: 1 } },
    expect: 'ok',
  },
  {
    name: 'agent moves a done job back to queued',
    actor: 'agent',
    old: tj('j6', { state: 'done', finished_at: '2026-11-26T06:06:00Z' }),
    write: { state: 'queued' },
    expect: f('state'),
  },
  {
    name: 'agent moves a done job back to active',
    actor: 'agent',
    old: tj('j7', { state: 'done', finished_at: '2026-11-26T06:06:00Z' }),
    write: { state: 'active', lease: LEASE },
    expect: f('state'),
  },
  {
    name: 'agent finishes a job nobody claimed',
    actor: 'agent',
    old: tj('j8'),
    write: { state: 'done' },
    expect: f('state'),
  },
  {
    name: 'agent writes an unknown job state',
    actor: 'agent',
    old: tj('j9'),
    write: { state: 'paused' },
    expect: f('state'),
  },
  {
    name: 'ops writes an unknown job state',
    actor: 'ops',
    old: null,
    write: tj('j10', { state: 'paused' }),
    expect: f('state'),
  },
  {
    name: 'ops moves a done job back to queued',
    actor: 'ops',
    old: tj('j11', { state: 'done' }),
    write: { state: 'queued' },
    expect: 'ok',
  },
  // --- the roll-up (views/transfers/monitor-stats.ts): agents and operators only ---
  {
    name: 'owner writes the roll-up',
    actor: 'owner',
    old: null,
    write: stats({ transfers: 999999 }),
    expect: f('type'),
  },
  {
    name: 'agent writes a roll-up under another id',
    actor: 'agent',
    old: null,
    write: stats({ _id: 'monitor-stats-2' }),
    expect: f('_id'),
  },
  {
    name: 'agent writes a roll-up with a negative count',
    actor: 'agent',
    old: null,
    write: stats({ transfers: -1 }),
    expect: f('transfers'),
  },
  { name: 'agent writes the roll-up', actor: 'agent', old: null, write: stats(), expect: 'ok' },
];

export function apply(base: Record<string, unknown>, changes: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** `{owner}`, `{other}`, `{member}` and `{group}` in a case's strings name this run's users and group. */
export function names(u: unknown, env: TestEnv): unknown {
  if (typeof u === 'string')
    return u.replace(/\{(owner|other|member|group)\}/g, (_a, k: string) =>
      k === 'group' ? env.group : env.names[k as 'owner'],
    );
  if (Array.isArray(u)) return u.map((x) => names(x, env));
  if (u && typeof u === 'object') return Object.fromEntries(Object.entries(u).map(([k, v]) => [k, names(v, env)]));
  return u;
}

/** The stored document (or null) and the written one for case `c`, as run `i` of a table. */
export function docsFor(c: VduCase, env: TestEnv, i: number) {
  const writer = c.actor === 'member' ? env.names.member : env.names.owner;
  const base = transferFixture(writer, { source_lfn: `/store/temp/user/${writer}/vdu/case_${i}.root` });
  const change = names(c.write, env) as Record<string, unknown>;
  // A creation that names its own source_lfn gets the matching _id, so the case tests the LFN.
  if (!c.old && !c.delete && typeof change.source_lfn === 'string' && !('_id' in change))
    change._id = sha224Hex(change.source_lfn);
  const old = c.old ? apply(base, names(c.old, env) as Record<string, unknown>) : null;
  const written = c.delete ? { _id: base._id, _deleted: true, ...change } : apply(old || base, change);
  return { old, written };
}
