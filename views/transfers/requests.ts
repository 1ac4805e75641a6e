/**
 * The request part of the `transfers` validate_doc_update (data handling, views/schema.ts
 * RequestDoc): users create their own requests in state `new` and then only read them; agents
 * move the state along REQUEST_TRANSITIONS and own the service fields; operators may do anything
 * that keeps the document well formed.
 */
import {
  REQUEST_ID_PREFIX, REQUEST_SERVICE_FIELDS, REQUEST_TERMINAL_STATES, REQUEST_USER_FIELDS, canRequestTransition, type RequestState,
} from '../schema';
import { requestProblem } from '../lib/checks';
import { assert, sameJson, type Actor, type Doc } from '../lib/vdu';

export function requestShape(doc: Doc): void {
  const p = requestProblem(doc);
  assert(!p, p as string);
  assert(doc._id.indexOf(REQUEST_ID_PREFIX) === 0 && doc._id.length > REQUEST_ID_PREFIX.length && doc._id.length <= 128,
    '_id: a request id is ' + REQUEST_ID_PREFIX + '<id> (at most 128 characters)');
}

export function requestUserWrite(doc: Doc, old: Doc | null, name: string): void {
  assert(!old, 'state: a request cannot be changed once submitted; the agents run it');
  assert(doc.user === name, 'user: must be your own user name (' + name + ')');
  assert(doc.state === 'new', 'state: a new request must be in state "new"');
  for (let i = 0; i < REQUEST_SERVICE_FIELDS.length; i++) {
    const f = REQUEST_SERVICE_FIELDS[i];
    assert(f === 'state' || doc[f] === undefined, f + ': is set by the service, not by users');
  }
}

export function requestAgentWrite(doc: Doc, old: Doc | null): void {
  assert(!!old, 'type: agents do not create requests; users do');
  const o = old as Doc;
  for (let i = 0; i < REQUEST_USER_FIELDS.length; i++) {
    const f = REQUEST_USER_FIELDS[i];
    assert(sameJson(doc[f], o[f]), f + ': is set by the user; agents cannot change it');
  }
  const from = o.state as RequestState;
  const to = doc.state as RequestState;
  assert(canRequestTransition(from, to), 'state: agents cannot move a request from ' + from + ' to ' + to);
  // Targets are fixed once resolved: the progress counters and the crash recovery count on them.
  assert(o.targets === undefined || sameJson(doc.targets, o.targets), 'targets: are fixed once the request is claimed');
}

export function requestDeletion(old: Doc, actor: Actor): void {
  assert(actor === 'agent', '_deleted: users cannot delete requests');
  assert(REQUEST_TERMINAL_STATES.indexOf(old.state as RequestState) >= 0, '_deleted: agents only delete (archive) finished requests');
}
