/**
 * Hostile transfers for the storage-path tests (test/system/lifecycle/paths-*.test.ts): LFNs that
 * percent-decoding, URL parsing or a careless TFC rule would turn into a path outside the storage
 * root or into another user's area, written as a signed-in plain user; and a listing of every file
 * under a directory, to show that nothing appeared where it must not.
 */
import * as fs from 'fs';
import * as path from 'path';
import { readTransfers } from './agents';
import { transferFixture, type Actor, type TestEnv } from './env';

export interface Hostile {
  readonly name: string;
  /** Field the server's 403 must name. */
  readonly field: string;
  readonly source_lfn: string;
  readonly destination_lfn: string;
  readonly extra?: Record<string, unknown>;
}

/**
 * `up` climbs from a site's `/store/temp/user/<user>/` (5 levels below its root) to the directory
 * above the root; `outside` is a directory beside the roots, `secret` a file in it.
 */
export function hostileTransfers(owner: string, other: string, secret: string, tag: string): Hostile[] {
  const up5 = '%2e%2e/'.repeat(5);
  const up4 = '%2E%2E/'.repeat(4);
  const mine = `/store/temp/user/${owner}/${tag}`;
  return [
    {
      name: 'source %2e%2e out of the root to a 0600 secret',
      field: 'source_lfn',
      source_lfn: `/store/temp/user/${owner}/${up5}outside/${secret}`,
      destination_lfn: `/store/user/${owner}/${tag}/stolen1.json`,
    },
    {
      name: 'source ..%2F out of the root',
      field: 'source_lfn',
      source_lfn: `/store/temp/user/${owner}/${'..%2F'.repeat(5)}outside/${secret}`,
      destination_lfn: `/store/user/${owner}/${tag}/stolen2.json`,
    },
    {
      name: 'destination %2E%2E out of the root',
      field: 'destination_lfn',
      source_lfn: `${mine}/a1.root`,
      destination_lfn: `/store/user/${owner}/${up4}outside/planted.root`,
    },
    {
      name: 'destination with ? (query, XRootD CGI)',
      field: 'destination_lfn',
      source_lfn: `${mine}/a2.root`,
      destination_lfn: `/store/user/${owner}/${tag}/q.root?oss.asize=1`,
    },
    {
      name: 'destination with # (fragment)',
      field: 'destination_lfn',
      source_lfn: `${mine}/a3.root`,
      destination_lfn: `/store/user/${owner}/${tag}/h.root#x`,
    },
    {
      name: 'destination with a backslash',
      field: 'destination_lfn',
      source_lfn: `${mine}/a4.root`,
      destination_lfn: `/store/user/${owner}/${tag}/..\\..\\x.root`,
    },
    {
      name: "source in another user's temporary area",
      field: 'source_lfn',
      source_lfn: `/store/temp/user/${other}/${tag}/private.root`,
      destination_lfn: `/store/user/${owner}/${tag}/theirs.root`,
    },
    {
      name: "destination over another user's file",
      field: 'destination_lfn',
      source_lfn: `${mine}/a5.root`,
      destination_lfn: `/store/user/${other}/${tag}/victim.root`,
    },
    {
      name: 'source outside the owner namespaces (root of the SE)',
      field: 'source_lfn',
      source_lfn: `/${secret}`,
      destination_lfn: `/store/user/${owner}/${tag}/root.json`,
    },
    {
      name: "publication into another user's dataset",
      field: 'dataset',
      source_lfn: `${mine}/a6.root`,
      destination_lfn: `/store/user/${owner}/${tag}/p.root`,
      extra: { publish: true, dataset: `/Prim/${other}-${tag}/USER` },
    },
  ];
}

/** PUTs a transfer as `actor`; the status and CouchDB's reason. */
export async function putTransfer(
  env: TestEnv,
  actor: Actor,
  doc: Record<string, unknown>,
): Promise<{ status: number; reason: string }> {
  try {
    await env
      .as(actor)
      .use(env.dbs.transfers)
      .insert(doc as never);
    return { status: 201, reason: '' };
  } catch (e) {
    const err = e as { statusCode?: number; reason?: string };
    return { status: err.statusCode ?? 0, reason: err.reason ?? String(e) };
  }
}

export function hostileDoc(env: TestEnv, h: Hostile, over: Record<string, unknown>): Record<string, unknown> {
  return transferFixture(env.names.owner, {
    source_lfn: h.source_lfn,
    destination_lfn: h.destination_lfn,
    ...over,
    ...(h.extra || {}),
  });
}

/** Every regular file under `dir` (relative path -> size and mode), symlinks not followed. */
export function listFiles(dir: string): Map<string, { size: number; mode: number }> {
  const out = new Map<string, { size: number; mode: number }>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const st = fs.lstatSync(p);
        out.set(path.relative(dir, p), { size: st.size, mode: st.mode & 0o777 });
      }
    }
  };
  walk(dir);
  return out;
}

/** Files present in `after` but not in `before`. */
export function newFiles(before: ReadonlyMap<string, unknown>, after: ReadonlyMap<string, unknown>): string[] {
  return [...after.keys()].filter((k) => !before.has(k)).sort();
}

/**
 * Submits every hostile transfer as its owner would and checks that each is refused with a 403
 * naming its field, and that none of them is stored.
 */
export async function expectAllRefused(env: TestEnv, attacks: readonly Hostile[], tag: string): Promise<void> {
  const answers = [];
  const ids: string[] = [];
  for (const h of attacks) {
    const doc = hostileDoc(env, h, { workflow: tag, created_at: new Date().toISOString() });
    ids.push(doc._id as string);
    answers.push({ name: h.name, ...(await putTransfer(env, 'owner', doc)) });
  }
  expect(answers.map((a) => ({ name: a.name, status: a.status, field: a.reason.split(':')[0] }))).toEqual(
    attacks.map((h) => ({ name: h.name, status: 403, field: h.field })),
  );
  expect(await readTransfers(env, ids)).toEqual([]);
}
