/**
 * The accounts `migrate-db` carries to a new server (`--target-url`): agents and jobs follow the
 * "moved" marker to the target with the credentials they already have (agents/lib/moved.ts), so
 * every couchstage account must sign in there as it did on the source: the target answers a
 * name it does not know with 401, and every agent and job would stop at the switch (a new server
 * starts with an empty `_users`, as the cluster of test/cluster/migrate-upgrade.test.ts does).
 * Copied: the `_users` documents holding a couchstage role (`couchstage-*`, group roles
 * included), as they are (password hashes, not passwords), with their revisions
 * (`new_edits: false`), so a second copy adds only what changed. Other accounts of the source
 * server are not this deployment's and stay where they are. Re-runnable: an account present with
 * the same revision is left alone.
 */
import { dbPath, expectStatus, http } from './http';

const USERS = '_users';
const PAGE = 1000;

interface UserDoc {
  _id: string;
  _rev: string;
  type?: string;
  roles?: unknown;
}

/** A couchstage account: a user document with at least one couchstage role. */
export function isCouchstageAccount(doc: UserDoc): boolean {
  return (
    doc.type === 'user' &&
    Array.isArray(doc.roles) &&
    doc.roles.some((r) => typeof r === 'string' && r.startsWith('couchstage-'))
  );
}

async function sourceAccounts(srcUrl: string): Promise<UserDoc[]> {
  const out: UserDoc[] = [];
  let startkey: string | null = null;
  for (;;) {
    const qs: string = `include_docs=true&limit=${PAGE + 1}${startkey ? `&startkey=${encodeURIComponent(JSON.stringify(startkey))}` : ''}`;
    const rows: { id: string; doc?: UserDoc }[] = expectStatus(
      await http<{ rows: { id: string; doc?: UserDoc }[] }>(srcUrl, 'GET', `${dbPath(USERS)}/_all_docs?${qs}`),
      'listing the source server’s _users',
    ).body.rows;
    for (const r of rows.slice(0, PAGE)) if (r.doc && isCouchstageAccount(r.doc)) out.push(r.doc);
    startkey = rows.length > PAGE ? rows[PAGE].id : null;
    if (!startkey) return out;
  }
}

/** Copies the source's couchstage accounts the target lacks (or has at another revision); returns how many. */
export async function copyAccounts(srcUrl: string, tgtUrl: string, log: (l: string) => void): Promise<number> {
  const accounts = await sourceAccounts(srcUrl);
  if (!accounts.length) return 0;
  const diff = expectStatus(
    await http<Record<string, { missing: string[] }>>(tgtUrl, 'POST', `${dbPath(USERS)}/_revs_diff`, {
      body: Object.fromEntries(accounts.map((d) => [d._id, [d._rev]])),
    }),
    'comparing accounts with the target’s _users',
  ).body;
  const missing = accounts.filter((d) => diff[d._id]);
  for (let i = 0; i < missing.length; i += PAGE) {
    const res = expectStatus(
      await http<{ id: string; error?: string; reason?: string }[]>(tgtUrl, 'POST', `${dbPath(USERS)}/_bulk_docs`, {
        body: { docs: missing.slice(i, i + PAGE), new_edits: false },
      }),
      'copying accounts to the target’s _users',
    ).body;
    const bad = (Array.isArray(res) ? res : []).filter((r) => r.error);
    if (bad.length) throw new Error(`copying accounts: ${bad.map((r) => `${r.id} ${r.error} ${r.reason}`).join(', ')}`);
  }
  log(
    `accounts: ${accounts.length} couchstage account(s) on the source, ${missing.length} copied to the target's _users`,
  );
  return missing.length;
}
