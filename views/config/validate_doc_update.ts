/**
 * validate_doc_update of the `config` database: sites (endpoints, TFC rules), links and the
 * settings document. Only operators change configuration; agents and users read it.
 */
import { DEFAULT_SETTINGS, DocId, DocType, TypesByDb, type DocType as DocTypeName } from '../schema';
import { linkProblem, settingsProblem, siteProblem, type Problem } from '../lib/checks';
import { actorOf, assert, type Doc, type SecObj, type UserCtx } from '../lib/vdu';

function expectedId(doc: Doc): string {
  if (doc.type === DocType.site) return DocId.site(String(doc.name));
  if (doc.type === DocType.link) return DocId.link(String(doc.source), String(doc.destination));
  return DocId.settings;
}

export default function validate(newDoc: Doc, _oldDoc: Doc | null, userCtx: UserCtx, secObj: SecObj): void {
  if (newDoc._id.indexOf('_design/') === 0) return;
  const actor = actorOf(userCtx, secObj);
  assert(actor === 'ops' || actor === 'admin', 'type: only operators (couchstage-ops) can change configuration');
  if (newDoc._deleted) return;
  const types = TypesByDb.config;
  assert(types.indexOf(newDoc.type as DocTypeName) >= 0, 'type: must be one of ' + types.join(', '));
  let p: Problem;
  if (newDoc.type === DocType.site) p = siteProblem(newDoc);
  else if (newDoc.type === DocType.link) p = linkProblem(newDoc);
  else p = settingsProblem(newDoc, Object.keys(DEFAULT_SETTINGS));
  assert(!p, p as string);
  const id = expectedId(newDoc);
  assert(newDoc._id === id, '_id: a ' + newDoc.type + ' document must have _id "' + id + '"');
}
