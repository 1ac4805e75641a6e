/**
 * Live traffic for test/cluster/migrate-upgrade.test.ts: a job submitting transfers (with their
 * source files) and a page-like client querying the monitor's views as the page does, each
 * through its own server URL. Both behave as the README tells jobs and the page to: a write
 * refused because migrate-db paused or moved the database is sent again (to where the
 * `_design/readonly` marker says, prefix and server), and a view query answered "Design document
 * was updated or deleted" at an upgrade's swap is sent once more. Every other answer that is not
 * a success is recorded as a refused submission or a failed query.
 */
import { randomBytes } from 'crypto';
import { withCredentials } from '../../agents/platform/config';
import { http } from '../../scripts/ops/http';
import { getReadonly } from '../../scripts/ops/readonly';
import { isDesignDocUpdated } from '../../views/lib/ddoc-updated';
import { dbNames } from '../../views/schema';
import { writeSourceFile, type Storage } from '../support/agents';
import { transferFixture, type TestEnv } from '../support/env';

/** Where one side of the traffic goes: a server URL without credentials and the database prefix. */
export interface Target {
  base: string;
  prefix: string;
}

export interface Traffic {
  readonly submit: Target;
  readonly query: Target;
  readonly submitted: string[];
  readonly refused: string[];
  /** 403s from a paused or moved database, each followed by a retry (not refusals). */
  pausedOrMoved: number;
  queries: number;
  readonly failedQueries: string[];
  retriedAtSwap: number;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const answer = <T>(p: Promise<{ status: number; body: T }>) =>
  p.catch((e: Error) => ({ status: 0, body: { reason: e.message } as unknown as T }));

/** Follows the marker of a refused write; false when the 403 was not migrate-db's. */
async function followMarker(env: TestEnv, t: Target, asOwner: string): Promise<boolean> {
  const ro = await getReadonly(asOwner, dbNames(t.prefix).transfers).catch(() => null);
  if (!ro || ro.reason === 'archive') return false;
  if (ro.reason === 'moved') {
    t.prefix = ro.moved_to_prefix ?? t.prefix;
    if (ro.moved_to_url) t.base = ro.moved_to_url;
  }
  return true;
}

async function submitOne(env: TestEnv, storage: Storage, traffic: Traffic, name: string): Promise<void> {
  const lfn = `/store/temp/user/${env.names.owner}/live/${name}.root`;
  const f = writeSourceFile(storage, 'T2_CH_CERN', lfn, 2048 + traffic.submitted.length);
  const doc = transferFixture(env.names.owner, {
    workflow: 'live',
    source: 'T2_CH_CERN',
    destination: 'T2_IT_Pisa',
    source_lfn: lfn,
    destination_lfn: lfn.replace('/temp/user/', '/user/'),
    size: f.size,
    checksums: { adler32: f.adler32 },
    created_at: new Date().toISOString(),
  });
  for (;;) {
    const t = traffic.submit;
    const asOwner = withCredentials(t.base, env.names.owner, env.password);
    const path = `/${dbNames(t.prefix).transfers}/${doc._id as string}`;
    const a = await answer(http(asOwner, 'PUT', path, { body: doc }));
    if (a.status === 201 || a.status === 202) {
      traffic.submitted.push(doc._id as string);
      return;
    }
    if (a.status === 403 && (await followMarker(env, t, asOwner))) {
      traffic.pausedOrMoved++;
      // The page follows the job to the new place.
      Object.assign(traffic.query, { base: t.base, prefix: t.prefix });
      await sleep(200);
      continue;
    }
    traffic.refused.push(`${a.status} ${JSON.stringify(a.body)}`);
    return;
  }
}

/** The overview page's two queries: totals by state, and the owner's own rows. */
async function queryOnce(env: TestEnv, traffic: Traffic): Promise<void> {
  const t = traffic.query;
  const asOwner = withCredentials(t.base, env.names.owner, env.password);
  const ddoc = `/${dbNames(t.prefix).transfers}/_design/monitor/_view`;
  const owner = encodeURIComponent(JSON.stringify([env.names.owner]));
  const end = encodeURIComponent(JSON.stringify([env.names.owner, {}]));
  for (const path of [
    `${ddoc}/totals?group_level=1`,
    `${ddoc}/by_user?group_level=3&startkey=${owner}&endkey=${end}`,
  ]) {
    const get = () => answer(http<{ reason?: unknown }>(asOwner, 'GET', path));
    let a = await get();
    if (isDesignDocUpdated(a.status, a.body?.reason)) {
      traffic.retriedAtSwap++;
      a = await get();
    }
    if (a.status === 200) traffic.queries++;
    else traffic.failedQueries.push(`${t.base}${path}: ${a.status} ${JSON.stringify(a.body)}`);
  }
}

/** Starts a job submitting every `submitMs` and a page querying every `queryMs`, until stop(). */
export function startTraffic(
  env: TestEnv,
  storage: Storage,
  start: { submit: Target; query: Target },
  opts: { submitMs?: number; queryMs?: number } = {},
): Traffic {
  let stopping = false;
  // Per traffic run: a second run must not submit the first one's LFNs (same ids: 409).
  const tag = randomBytes(3).toString('hex');
  const traffic: Traffic = {
    submit: { ...start.submit },
    query: { ...start.query },
    submitted: [],
    refused: [],
    pausedOrMoved: 0,
    queries: 0,
    failedQueries: [],
    retriedAtSwap: 0,
    stop: async () => {
      stopping = true;
      await Promise.all(loops);
    },
  };
  const loops = [
    (async () => {
      for (let i = 0; !stopping; i++) {
        await submitOne(env, storage, traffic, `${tag}_${i}`);
        await sleep(opts.submitMs ?? 100);
      }
    })(),
    (async () => {
      while (!stopping) {
        await queryOnce(env, traffic);
        await sleep(opts.queryMs ?? 100);
      }
    })(),
  ];
  return traffic;
}
