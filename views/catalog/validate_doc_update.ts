/**
 * validate_doc_update of the `catalog` database: datasets, blocks, files, replicas and quotas.
 * Users read the catalogue; only agents (the publisher, the deleter, migration) and operators
 * write it. Shape (views/lib/checks/catalog.ts) then permission, as for transfers:
 *   - every document is well formed for its type, and its `_id` is the deterministic id of its
 *     content (views/lib/catalog-ids.ts), so no replay can ever create a second copy of anything;
 *   - a document never changes type; a file's GUID never changes;
 *   - a closed block never changes and is never deleted (DBS), except by operators;
 *   - a write that changes nothing is always accepted (a replayed migration or publication).
 */
import { DocType, TypesByDb, type DocType as DocTypeName } from '../schema';
import { catalogDocProblem } from '../lib/checks';
import { expectedCatalogId } from '../lib/catalog-ids';
import { actorOf, assert, changedFields, liveOld, type Doc, type SecObj, type UserCtx } from '../lib/vdu';

export default function validate(newDoc: Doc, oldDoc: Doc | null, userCtx: UserCtx, secObj: SecObj): void {
  if (newDoc._id.indexOf('_design/') === 0) return;
  const actor = actorOf(userCtx, secObj);
  assert(actor !== 'user', 'type: only couchstage agents and operators write the catalogue');
  const old = liveOld(oldDoc, newDoc);
  const privileged = actor === 'ops' || actor === 'admin';
  if (newDoc._deleted) {
    assert(
      privileged || !old || old.type !== DocType.block || old.open !== false,
      '_deleted: block ' + (old && old._id) + ' is closed and cannot be deleted',
    );
    return;
  }
  const types = TypesByDb.catalog;
  assert(types.indexOf(newDoc.type as DocTypeName) >= 0, 'type: must be one of ' + types.join(', '));
  const p = catalogDocProblem(newDoc);
  assert(!p, p as string);
  const id = expectedCatalogId(newDoc);
  assert(newDoc._id === id, '_id: must be ' + id + ' for this ' + newDoc.type);
  if (!old) return;
  assert(old.type === newDoc.type, 'type: cannot change from ' + old.type + ' to ' + newDoc.type);
  const changed = changedFields(newDoc, old);
  if (!changed.length || privileged) return;
  // A closed block never changes (DBS semantics): its files, sizes and locations are final.
  assert(
    !(old.type === DocType.block && old.open === false),
    'open: block ' + old._id + ' is closed and cannot change',
  );
  assert(!(old.type === DocType.file && changed.indexOf('guid') >= 0), "guid: a file's GUID never changes");
}
