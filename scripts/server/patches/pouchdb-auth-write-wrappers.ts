/**
 * Patch record.
 * Package: pouchdb-auth 4.2.0 (the copy express-pouchdb 4.2.0 loads), with its
 * pouchdb-bulkdocs-wrapper 4.2.0.
 * Function: `lib/writewrappers` `put`, `post` and `bulkDocs` (the hashing of a user document's
 * `password` when it is written).
 * Justified by correctness, not speed: pouchdb-auth stored pbkdf2-sha1 with 10 iterations; a
 * `_users` document must hold CouchDB 3.4's pbkdf2-sha256 with 600,000 iterations (passwords.ts,
 * read from CouchDB 3.4.3).
 * Goes when: pouchdb-auth hashes as CouchDB 3.4 does.
 *
 * Installed before express-pouchdb wraps the users database, which binds these functions at that
 * moment.
 */
import { hashUserPassword } from '../passwords';
import { upstream } from '../patched-versions';

type Doc = Record<string, unknown>;

export function hashUserDocuments(): void {
  const auth = upstream('pouchdb-auth');
  const writeWrappers = auth.load('lib/writewrappers');
  const createBulkDocsWrapper = upstream('pouchdb-bulkdocs-wrapper').load();

  // Writing a user document with `password`: CouchDB's fields in place of the plain password.
  async function modifyDoc(_db: unknown, doc: Doc): Promise<void> {
    if (doc && doc.password !== undefined && doc.password !== null) {
      const fields = await hashUserPassword(String(doc.password));
      delete doc.password;
      delete doc.pbkdf2_prf;
      Object.assign(doc, fields);
    }
  }
  writeWrappers.put = (original: () => Promise<unknown>, args: { base: unknown; doc: Doc }) =>
    modifyDoc(args.base, args.doc).then(original);
  writeWrappers.post = writeWrappers.put;
  writeWrappers.bulkDocs = createBulkDocsWrapper((doc: Doc, args: { base: unknown }) => modifyDoc(args.base, doc));
}
