/**
 * validate_doc_update of the `transfers` database. Two steps, as in npm-registry-couchapp:
 * shape (is this a well-formed document of a known type?) then permission (may this writer make
 * this change?). Roles and the transitions table come from the schema module.
 */
import {
  DocType,
  PublicationMachine,
  REV_RE,
  TRANSFER_JOB_FIELDS,
  TRANSFER_SERVICE_FIELDS,
  TransferJobMachine,
  TransferMachine,
  TransferState,
  TypesByDb,
  type PublicationState,
  type TransferJobState,
} from '../schema';
import { heartbeatProblem, isOneOf, transferJobProblem, transferProblem } from '../lib/checks';
import { ownerCreate } from './owner';
import { edgeWriter, isEdge } from './edge';
import { dataRequestAgentWrite, dataRequestDeletion, dataRequestShape, dataRequestUserWrite } from './data-requests';
import { monitorStatsShape } from './monitor-stats';
import { sha224Hex } from '../lib/sha224';
import {
  actorOf,
  assert,
  changedFields,
  liveOld,
  sameJson,
  type Actor,
  type Doc,
  type SecObj,
  type UserCtx,
} from '../lib/vdu';

function shape(doc: Doc): void {
  const types = TypesByDb.transfers;
  assert(isOneOf(types, doc.type), 'type: must be one of ' + types.join(', '));
  if (doc.type === DocType.transfer) {
    const p = transferProblem(doc);
    assert(!p, p as string);
  } else if (doc.type === DocType.dataRequest) {
    dataRequestShape(doc);
  } else if (doc.type === DocType.monitorStats) {
    monitorStatsShape(doc);
  } else if (doc.type === DocType.heartbeat) {
    const p = heartbeatProblem(doc);
    assert(!p, p as string);
  } else if (doc.type === DocType.transferJob) {
    const p = transferJobProblem(doc);
    assert(!p, p as string);
  }
}

/** A user creates their own transfers in state new and may then only ask for kill or retry. */
function userWrite(doc: Doc, old: Doc | null, userCtx: UserCtx): void {
  const name = userCtx.name as string;
  if (doc.type === DocType.dataRequest) return dataRequestUserWrite(doc, old, userCtx);
  assert(doc.type === DocType.transfer, 'type: users may only write transfer and request documents');
  if (!old) {
    assert(doc.user === name, 'user: must be your own user name (' + name + ')');
    assert(
      doc.state === TransferMachine.initial,
      'state: a new transfer must be in state "' + TransferMachine.initial + '"',
    );
    for (let i = 0; i < TRANSFER_SERVICE_FIELDS.length; i++) {
      const f = TRANSFER_SERVICE_FIELDS[i];
      assert(f === 'state' || doc[f] === undefined, f + ': is set by the service, not by jobs');
    }
    assert(
      doc.retry_requested === undefined || doc.retry_requested === false,
      'retry_requested: a new transfer has nothing to retry',
    );
    const id = sha224Hex(doc.source_lfn as string);
    assert(doc._id === id, '_id: must be the hex SHA-224 of source_lfn (' + id + ')');
    ownerCreate(doc, userCtx);
    return;
  }
  assert(old.user === name, 'user: you can only change your own transfers');
  const changed = changedFields(doc, old);
  for (let i = 0; i < changed.length; i++) {
    const f = changed[i];
    if (f === 'kill_requested') {
      assert(doc.kill_requested === true, 'kill_requested: a kill request cannot be withdrawn');
      assert(
        !TransferMachine.isTerminal(old.state as TransferState),
        'kill_requested: the transfer is already ' + old.state,
      );
    } else if (f === 'retry_requested') {
      assert(doc.retry_requested === true, 'retry_requested: a retry request cannot be withdrawn');
      assert(
        TransferMachine.inGroup('retryable', old.state as TransferState),
        'retry_requested: only ' +
          TransferMachine.groups.retryable.join(', ') +
          ' transfers can be retried (this one is ' +
          old.state +
          ')',
      );
    } else {
      assert(false, f + ': users may only set kill_requested or retry_requested on an existing transfer');
    }
  }
}

/** Agents create a job in its first state and move it only along the job machine. */
function agentJobWrite(doc: Doc, old: Doc | null): void {
  const to = doc.state as TransferJobState;
  if (!old) {
    assert(
      to === TransferJobMachine.initial,
      'state: agents create transfer jobs in state "' + TransferJobMachine.initial + '"',
    );
    return;
  }
  const from = old.state as TransferJobState;
  assert(TransferJobMachine.can(from, to), 'state: agents cannot move a transfer job from ' + from + ' to ' + to);
}

/** Agents own the service fields and move states only along the state machines. */
function agentWrite(doc: Doc, old: Doc | null): void {
  if (doc.type === DocType.dataRequest) return dataRequestAgentWrite(doc, old);
  if (doc.type === DocType.transferJob) return agentJobWrite(doc, old);
  if (doc.type !== DocType.transfer) return;
  if (!old) {
    assert(
      doc.state === TransferMachine.initial,
      'state: agents create transfers in state "' + TransferMachine.initial + '"',
    );
    return;
  }
  for (let i = 0; i < TRANSFER_JOB_FIELDS.length; i++) {
    const f = TRANSFER_JOB_FIELDS[i];
    assert(sameJson(doc[f], old[f]), f + ': is set by the job; agents cannot change it');
  }
  const from = old.state as TransferState;
  const to = doc.state as TransferState;
  assert(TransferMachine.can(from, to), 'state: agents cannot move a transfer from ' + from + ' to ' + to);
  // A conflict resolution (a new `resolved_conflict` marker) carries the owner's requests over
  // from the losing revisions: no new power, an agent may kill or resubmit by transitions anyway.
  const resolving = resolvesConflict(doc, old.resolved_conflict);
  const flags = ['kill_requested', 'retry_requested'];
  for (let i = 0; i < flags.length; i++) {
    const f = flags[i];
    assert(resolving || doc[f] !== true || old[f] === true, f + ': only the owner can make this request');
  }
  const pOld = old.publication_state as PublicationState | undefined;
  const pNew = doc.publication_state as PublicationState | undefined;
  if (pNew !== pOld && pNew !== undefined) {
    assert(
      doc.publish === true && to === TransferState.done,
      'publication_state: only done transfers with publish=true are published',
    );
    assert(PublicationMachine.can(pOld, pNew), 'publication_state: cannot move from ' + pOld + ' to ' + pNew);
  }
}

/**
 * Conflict resolution (agents/lib/conflicts.ts) marks its writes with `resolved_conflict`: the
 * revision whose content won. It counts only when it changes with this write, so a marker that a
 * later write merely carries along grants nothing.
 */
function resolvesConflict(doc: Doc, previous: unknown): boolean {
  return (
    typeof doc.resolved_conflict === 'string' &&
    REV_RE.test(doc.resolved_conflict) &&
    doc.resolved_conflict !== previous
  );
}

function deletion(doc: Doc, old: Doc | null, actor: Actor): void {
  if (actor === 'admin' || actor === 'ops') return;
  // A tombstone with no revision under it is a new branch (a replicated write, `new_edits: false`,
  // with a revision tree of its own): for a user it deletes nothing of theirs and only adds a
  // deleted branch beside another user's document.
  if (!old) {
    assert(actor === 'agent', '_deleted: there is no revision of yours to delete');
    return;
  }
  if (old.type === DocType.dataRequest) return dataRequestDeletion(old, actor);
  assert(actor === 'agent', '_deleted: users cannot delete transfers; set kill_requested instead');
  if (old.type === DocType.transfer) {
    // The losing revisions of a conflict are deleted in any state; the tombstone names the
    // revision that survived, which cannot be the deleted revision itself.
    assert(
      TransferMachine.isTerminal(old.state as TransferState) || resolvesConflict(doc, old._rev),
      '_deleted: agents only delete (archive) terminal transfers, or the losing revisions of a conflict (resolved_conflict: <surviving revision>)',
    );
  }
}

/** The revision number a write stores: its `_revisions` path's start, else its `_rev`'s. */
function revisionNumber(doc: Doc): number {
  const path = doc._revisions as { start?: unknown } | undefined;
  if (path && typeof path.start === 'number') return path.start;
  return typeof doc._rev === 'string' ? parseInt(doc._rev, 10) || 0 : 0;
}

export default function validate(newDoc: Doc, oldDoc: Doc | null, userCtx: UserCtx, secObj: SecObj): void {
  if (newDoc._id.indexOf('_design/') === 0) return; // only database admins can write these anyway
  const actor = actorOf(userCtx, secObj);
  // A replicated write (`new_edits: false`) whose revision path reaches no stored revision is
  // validated by CouchDB as a creation (oldDoc null), yet stored as a conflicting branch that
  // wins when its revision number is higher: on CouchDB 3.4.3 an owner changed the checksum of a
  // submitted transfer with `_revisions: {start: 5, ids: [x, y]}`. Only operators replicate, and
  // edges (views/transfers/edge.ts): a user's kill request at the edge before the first push makes
  // revision 2 of a document central never saw. Such a write is held to a user's creation rules
  // below (state new), and the conflict rule ranks new lowest: it never displaces central progress.
  const edge = actor === 'user' && isEdge(userCtx);
  if (actor !== 'ops' && actor !== 'admin' && !edge) {
    assert(
      oldDoc !== null || revisionNumber(newDoc) <= 1,
      '_revisions: a replicated revision must extend a stored revision of this document',
    );
  }
  const old = liveOld(oldDoc, newDoc);
  const writer = edge ? edgeWriter(newDoc, old, userCtx) : userCtx;
  if (newDoc._deleted) return deletion(newDoc, old, actor);
  shape(newDoc);
  if (old) assert(old.type === newDoc.type, 'type: cannot change from ' + old.type + ' to ' + newDoc.type);
  if (actor === 'user') {
    userWrite(newDoc, old, writer);
  } else if (actor === 'agent') {
    agentWrite(newDoc, old);
  }
  // ops and admin: any well-formed document, any state.
}
