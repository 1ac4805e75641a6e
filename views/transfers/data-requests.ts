/**
 * The request part of the `transfers` validate_doc_update (data handling, views/schema
 * DataRequestDoc): users create their own requests in state `new` and then only read them; agents
 * move the state along DataRequestMachine and own the service fields; operators may do anything
 * that keeps the document well formed.
 */
import {
  DATA_REQUEST_ID_PREFIX,
  DATA_REQUEST_SERVICE_FIELDS,
  DATA_REQUEST_USER_FIELDS,
  DataRequestMachine,
  type DataRequestState,
} from '../schema';
import { dataRequestProblem } from '../lib/checks';
import { assert, sameJson, type Actor, type Doc, type UserCtx } from '../lib/vdu';
import { ownerDataRequest } from './owner';

export function dataRequestShape(doc: Doc): void {
  const p = dataRequestProblem(doc);
  assert(!p, p as string);
  assert(
    doc._id.indexOf(DATA_REQUEST_ID_PREFIX) === 0 &&
      doc._id.length > DATA_REQUEST_ID_PREFIX.length &&
      doc._id.length <= 128,
    '_id: a request id is ' + DATA_REQUEST_ID_PREFIX + '<id> (at most 128 characters)',
  );
}

export function dataRequestUserWrite(doc: Doc, old: Doc | null, userCtx: UserCtx): void {
  const name = userCtx.name as string;
  assert(!old, 'state: a request cannot be changed once submitted; the agents run it');
  assert(doc.user === name, 'user: must be your own user name (' + name + ')');
  assert(
    doc.state === DataRequestMachine.initial,
    'state: a new request must be in state "' + DataRequestMachine.initial + '"',
  );
  for (let i = 0; i < DATA_REQUEST_SERVICE_FIELDS.length; i++) {
    const f = DATA_REQUEST_SERVICE_FIELDS[i];
    assert(f === 'state' || doc[f] === undefined, f + ': is set by the service, not by users');
  }
  ownerDataRequest(doc, userCtx);
}

export function dataRequestAgentWrite(doc: Doc, old: Doc | null): void {
  assert(!!old, 'type: agents do not create requests; users do');
  const o = old as Doc;
  for (let i = 0; i < DATA_REQUEST_USER_FIELDS.length; i++) {
    const f = DATA_REQUEST_USER_FIELDS[i];
    assert(sameJson(doc[f], o[f]), f + ': is set by the user; agents cannot change it');
  }
  const from = o.state as DataRequestState;
  const to = doc.state as DataRequestState;
  assert(DataRequestMachine.can(from, to), 'state: agents cannot move a request from ' + from + ' to ' + to);
  // Targets are fixed once resolved: the progress counters and the crash recovery count on them.
  assert(o.targets === undefined || sameJson(doc.targets, o.targets), 'targets: are fixed once the request is claimed');
}

export function dataRequestDeletion(old: Doc, actor: Actor): void {
  assert(actor === 'agent', '_deleted: users cannot delete requests');
  assert(
    DataRequestMachine.isTerminal(old.state as DataRequestState),
    '_deleted: agents only delete (archive) finished requests',
  );
}
