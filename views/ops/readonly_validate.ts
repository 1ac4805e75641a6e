/**
 * validate_doc_update of `_design/readonly`: only server admins write. Installed on the archive
 * database (written by `couchstage archive` only) and on databases `couchstage migrate-db` has
 * paused or moved away from: writers are refused with a reason that tells them where to look.
 */
interface UserCtx {
  readonly name: string | null;
  readonly roles: readonly string[];
}

export default function validate(newDoc: { _id: string }, oldDoc: unknown, userCtx: UserCtx, _secObj: unknown): void {
  if (userCtx.roles.indexOf('_admin') >= 0) return;
  throw {
    forbidden:
      'database is read-only (archived, or moved by couchstage migrate-db): read its _design/readonly document for where writes go now',
  };
}
