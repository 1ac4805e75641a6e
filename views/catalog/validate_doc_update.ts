/**
 * validate_doc_update of the `catalog` database: datasets, blocks, files and quotas. Users read
 * the catalogue; only the publisher and other agents (and operators) write it.
 */
import { DocType, TypesByDb, type DocType as DocTypeName } from '../schema';
import { datasetProblem } from '../lib/checks';
import { actorOf, assert, liveOld, type Doc, type SecObj, type UserCtx } from '../lib/vdu';

export default function validate(newDoc: Doc, oldDoc: Doc | null, userCtx: UserCtx, secObj: SecObj): void {
  if (newDoc._id.indexOf('_design/') === 0) return;
  const actor = actorOf(userCtx, secObj);
  assert(actor !== 'user', 'type: only couchstage agents and operators write the catalogue');
  if (newDoc._deleted) return;
  const types = TypesByDb.catalog;
  assert(types.indexOf(newDoc.type as DocTypeName) >= 0, 'type: must be one of ' + types.join(', '));
  if (newDoc.type === DocType.dataset) {
    const p = datasetProblem('name', newDoc.name);
    assert(!p, p as string);
  }
  const old = liveOld(oldDoc, newDoc);
  // A closed block never changes (DBS semantics), except by operators.
  if (old && old.type === DocType.block && old.open === false && actor === 'agent') {
    assert(false, 'open: block ' + old._id + ' is closed and cannot change');
  }
}
