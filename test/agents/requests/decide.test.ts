/**
 * The data-handling agents' pure decisions: the replicate plan (sources, copies already there,
 * files without a source), progress of a running request, the end of a deletion pass (retry with
 * a counted cooloff, then final counts), ownership of deletions, and quota admission order.
 */
import { DEFAULT_SETTINGS, type CatalogFileDoc, type ReplicaDoc, type DataRequestDoc } from '../../../views/schema';
import { endOfPass, resolveTargets } from '../../../agents/deleter/decide';
import { planReplicate, replicateProgress, dataRequestTransferId } from '../../../agents/requests/decide';
import type { Member } from '../../../agents/lib/data-request-book';
import { overQuota } from '../../../agents/scheduler/quota';
import type { SlimTransfer } from '../../../agents/lib/tracker';

const NOW = new Date('2026-11-26T08:00:00Z');
const DS = '/Prim/alice-v1/USER';
const lfn = (i: number) => `/store/user/alice/f${i}.root`;
const file = (i: number, over: Partial<CatalogFileDoc> = {}): CatalogFileDoc => ({
  _id: 'file:' + i,
  type: 'file',
  lfn: lfn(i),
  guid: 'g',
  size: 100 + i,
  adler32: '0BADCAFE',
  valid: true,
  block: DS + '#b',
  dataset: DS,
  owner: 'alice',
  created_at: NOW.toISOString(),
  ...over,
});
const replica = (i: number, site: string, owner?: string): ReplicaDoc => ({
  _id: `replica:${i}:${site}`,
  type: 'replica',
  lfn: lfn(i),
  site,
  block: DS + '#b',
  dataset: DS,
  size: 100 + i,
  created_at: NOW.toISOString(),
  ...(owner ? { owner } : {}),
});
const req = (over: Partial<DataRequestDoc> = {}): DataRequestDoc => ({
  _id: 'rq-1',
  type: 'request',
  kind: 'replicate',
  user: 'alice',
  sites: ['B', 'C'],
  dataset: DS,
  state: 'new',
  created_at: NOW.toISOString(),
  ...over,
});
function located(...rs: ReplicaDoc[]) {
  const m = new Map<string, Map<string, ReplicaDoc>>();
  for (const r of rs) m.set(r.lfn, (m.get(r.lfn) || new Map()).set(r.site, r));
  return m;
}

describe('planReplicate', () => {
  const files = new Map([1, 2, 3, 4].map((i) => [lfn(i), file(i, i === 4 ? { valid: false } : {})]));
  const reps = located(replica(1, 'A'), replica(1, 'D'), replica(2, 'A'), replica(2, 'B'));

  it('plans one transfer per missing (file, site), from the named source or the first holder', () => {
    const plan = planReplicate(req({ source: 'D' }), files, reps, NOW);
    const pairs = plan.transfers.map((t) => [t.source_lfn, t.source, t.destination]);
    expect(pairs).toEqual([
      [lfn(1), 'D', 'B'],
      [lfn(1), 'D', 'C'],
      [lfn(2), 'A', 'C'],
    ]);
    expect(plan.already).toBe(1); // f2 at B
    // f3 has no replica; the invalid f4 is not part of the dataset selection.
    expect(plan.errors).toEqual([
      { lfn: lfn(3), site: 'B', error: 'no replica at D nor elsewhere to copy from' },
      { lfn: lfn(3), site: 'C', error: 'no replica at D nor elsewhere to copy from' },
    ]);
    expect(plan.total).toBe(6);
    const t = plan.transfers[0];
    expect(t).toMatchObject({
      _id: dataRequestTransferId('rq-1', lfn(1), 'B'),
      user: 'alice',
      workflow: 'request:rq-1',
      destination_lfn: lfn(1),
      checksums: { adler32: '0badcafe' },
      publish: false,
      state: 'new',
    });
  });

  it('is deterministic: the same request plans the same ids', () => {
    const a = planReplicate(req(), files, reps, NOW).transfers.map((t) => t._id);
    const b = planReplicate(req(), files, reps, new Date(NOW.getTime() + 5000)).transfers.map((t) => t._id);
    expect(a).toEqual(b);
    expect(new Set(a).size).toBe(a.length);
  });

  it('names missing and invalid LFNs of an LFN request', () => {
    const plan = planReplicate(req({ dataset: undefined, lfns: [lfn(4), lfn(9)], sites: ['B'] }), files, reps, NOW);
    expect(plan.errors.map((e) => e.error)).toEqual([
      'file is invalid in the catalogue',
      'file is not in the catalogue',
    ]);
    expect(plan.transfers).toEqual([]);
  });
});

describe('replicateProgress', () => {
  const m = (id: string, state: Member['state']): Member => ({
    id,
    state,
    lfn: lfn(1),
    destination: 'B',
    failure_reason: state === 'failed' ? 'boom' : null,
  });
  const running = req({ state: 'running', progress: { total: 5, done: 1, failed: 1, already: 1, unplaced: 1 } });

  it('stays running until every expected transfer exists and is terminal', () => {
    expect(replicateProgress(running, [m('a', 'done'), m('b', 'submitted'), m('c', 'done')]).settled).toBe(false);
    expect(replicateProgress(running, [m('a', 'done'), m('b', 'done')]).settled).toBe(false); // one not seen yet
  });

  it('ends with exact counts: done, partially_failed, failed', () => {
    expect(
      replicateProgress(req({ state: 'running', progress: { total: 2, done: 0, failed: 0 } }), [
        m('a', 'done'),
        m('b', 'done'),
      ]).state,
    ).toBe('done');
    const r = replicateProgress(running, [m('a', 'done'), m('b', 'killed'), m('c', 'failed')]);
    expect(r).toMatchObject({ settled: true, state: 'partially_failed', progress: { total: 5, done: 2, failed: 3 } });
    expect(
      replicateProgress(req({ state: 'running', progress: { total: 1, done: 0, failed: 0 } }), [m('a', 'expired')])
        .state,
    ).toBe('failed');
  });
});

describe('deletion', () => {
  it("targets only the requester's copies; others are refused with the owner named", () => {
    const r = req({ kind: 'delete', sites: ['A', 'B'] });
    const { targets, refused } = resolveTargets(
      r,
      located(replica(2, 'B', 'alice'), replica(1, 'A'), replica(1, 'C', 'alice'), replica(3, 'A', 'bob')),
      new Map([[lfn(1), 'alice']]),
    );
    expect(targets).toEqual([
      { lfn: lfn(1), site: 'A' },
      { lfn: lfn(2), site: 'B' },
    ]);
    expect(refused).toEqual([{ lfn: lfn(3), site: 'A', error: 'owned by bob: only its owner can delete this copy' }]);
  });

  it('retries transient failures with a counted, growing cooloff, then gives final counts', () => {
    const settings = { ...DEFAULT_SETTINGS, max_retry: 2, cooloff: 10, max_cooloff: 15 };
    const targets = [
      { lfn: lfn(1), site: 'A' },
      { lfn: lfn(2), site: 'A' },
      { lfn: lfn(3), site: 'A' },
    ];
    const r0 = req({
      kind: 'delete',
      state: 'running',
      targets,
      progress: { total: 4, done: 0, failed: 1, unplaced: 1 },
    });
    const e1 = endOfPass(r0, 1, 0, 2, settings, NOW);
    expect(e1).toEqual({
      kind: 'retry',
      retries: 1,
      next_attempt_at: '2026-11-26T08:00:10.000Z',
      progress: { total: 4, done: 1, failed: 1, unplaced: 1 },
    });
    const e2 = endOfPass({ ...r0, retries: 1 }, 2, 0, 1, settings, NOW);
    expect(e2).toMatchObject({ kind: 'retry', retries: 2, next_attempt_at: '2026-11-26T08:00:15.000Z' });
    expect(endOfPass({ ...r0, retries: 2 }, 2, 0, 1, settings, NOW)).toEqual({
      kind: 'final',
      state: 'partially_failed',
      progress: { total: 4, done: 2, failed: 2, unplaced: 1 },
    });
    expect(endOfPass(req({ kind: 'delete', state: 'running', targets }), 3, 0, 0, settings, NOW)).toEqual({
      kind: 'final',
      state: 'done',
      progress: { total: 3, done: 3, failed: 0 },
    });
    expect(endOfPass(req({ kind: 'delete', state: 'running', targets: [] }), 0, 0, 0, settings, NOW)).toMatchObject({
      kind: 'final',
      state: 'done',
    });
  });
});

describe('overQuota', () => {
  const t = (id: string, size: number): SlimTransfer => ({
    id,
    size,
    state: 'new',
    user: 'alice',
    source: 'A',
    destination: 'B',
    priority: 3,
    created_at: NOW.toISOString(),
    waiting_since: null,
    last_update: null,
    next_attempt_at: null,
    kill_requested: false,
    retry_requested: false,
    transfer_job: null,
  });
  const quota = { _id: 'quota:alice', type: 'quota' as const, user: 'alice', max_bytes: 1000, max_files: 4 };

  it('admits in queue order while the quota holds and fails the rest with a quota: reason', () => {
    const over = overQuota(
      quota,
      { bytes: 500, files: 1 },
      [t('active', 100)],
      [t('a', 300), t('b', 200), t('c', 50), t('d', 10)],
    );
    // 500 + 100 + a 300 = 900 (3 files); b would make 1100 bytes; c fits (950, 4 files); d would be 5 files.
    expect([...over.keys()]).toEqual(['b', 'd']);
    expect(over.get('b')).toMatch(/^quota: alice would use 1100 bytes > max_bytes 1000/);
    expect(over.get('d')).toMatch(/^quota: alice would use 5 files > max_files 4/);
  });
});
