/**
 * Conflict resolution (agents/lib/conflicts.ts): the rule as tables, the write plan, the
 * validate_doc_update rule it relies on, and the retrier resolving real conflict revisions made on
 * the server with `_bulk_docs` + `new_edits: false` (what a CouchDB cluster leaves behind when two
 * nodes accept writes of the same revision).
 */
import { agentMayWrite, compareRevs, planResolution, resolveJob, resolveTransfer } from '../../../agents/lib/conflicts';
import { resolveConflicts } from '../../../agents/lib/conflict-effects';
import { DocId, type TransferDoc, type TransferJobDoc, type TransferState } from '../../../views/schema';
import { startAgent } from '../../support/agents';
import { createTestEnv, transferFixture, type TestEnv } from '../../support/env';

const T0 = '2026-11-26T12:00:00.000Z';
const at = (s: number) => new Date(Date.parse(T0) + s * 1000).toISOString();

function t(rev: string, state: TransferState, over: Record<string, unknown> = {}): TransferDoc {
  return {
    ...transferFixture('alice', { source_lfn: '/store/temp/user/alice/c/x.root' }),
    _rev: rev,
    state,
    ...over,
  } as unknown as TransferDoc;
}
const attempts = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    at: at(i),
    error: 'timeout',
    error_class: 'transient',
    transfer_job: 'tj-1',
  }));

function job(rev: string, state: 'queued' | 'active' | 'done', over: Record<string, unknown> = {}): TransferJobDoc {
  return {
    _id: 'tj-1',
    _rev: rev,
    type: 'transfer_job',
    user: 'alice',
    source: 'A',
    destination: 'B',
    protocol: 'file',
    mode: 'stream',
    files: [{ id: 'f1', source_pfn: 'file:///a', destination_pfn: 'file:///b' }],
    state,
    created_at: T0,
    ...over,
  } as TransferJobDoc;
}

/** Every order of a small list. */
function permutations<T>(xs: readonly T[]): T[][] {
  if (xs.length <= 1) return [[...xs]];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

describe('the rule for transfers', () => {
  const ORDER: TransferState[] = ['done', 'failed', 'killed', 'expired', 'submitted', 'retry', 'acquired', 'new'];

  it.each(ORDER.flatMap((a, i) => ORDER.slice(i + 1).map((b) => [a, b] as const)))(
    '%s beats %s, in either order',
    (a, b) => {
      // The loser gets more attempts and the later update: the state decides first.
      const win = t('2-a', a);
      const lose = t('2-b', b, { attempts: attempts(3), last_update: at(60) });
      expect(resolveTransfer([win, lose]).winner._rev).toBe('2-a');
      expect(resolveTransfer([lose, win]).winner._rev).toBe('2-a');
      expect(resolveTransfer([lose, win]).losers).toEqual(['2-b']);
    },
  );

  it.each([
    [
      'more attempts',
      t('2-a', 'retry', { attempts: attempts(2), last_update: at(1) }),
      t('2-b', 'retry', { attempts: attempts(1), last_update: at(9) }),
    ],
    [
      'the later last_update',
      t('2-a', 'failed', { attempts: attempts(1), last_update: at(9) }),
      t('2-b', 'failed', { attempts: attempts(1), last_update: at(1) }),
    ],
    ['a missing last_update loses', t('2-a', 'new', { last_update: at(0) }), t('2-b', 'new')],
    ['the higher revision number', t('3-a', 'acquired'), t('2-f', 'acquired')],
    ['the higher revision hash', t('2-b', 'acquired'), t('2-a', 'acquired')],
  ])('ties go to %s', (_name, win, lose) => {
    expect(resolveTransfer([lose, win]).winner._rev).toBe(win._rev);
    expect(resolveTransfer([win, lose]).winner._rev).toBe(win._rev);
  });

  it('is deterministic: every order of the same revisions picks the same winner', () => {
    const revs = [
      t('2-a', 'acquired'),
      t('2-b', 'submitted', { last_update: at(1) }),
      t('2-c', 'submitted', { last_update: at(2) }),
      t('2-d', 'new', { kill_requested: true }),
    ];
    const winners = new Set(permutations(revs).map((p) => JSON.stringify(resolveTransfer(p))));
    expect(winners.size).toBe(1);
    const { winner, losers } = resolveTransfer(revs);
    expect(winner._rev).toBe('2-c');
    expect(losers).toEqual(['2-a', '2-b', '2-d']);
  });

  it.each([
    [
      'kill from a losing revision, winner not terminal',
      [t('2-a', 'submitted'), t('2-b', 'new', { kill_requested: true })],
      { kill_requested: true },
    ],
    [
      'kill, winner acquired',
      [t('2-a', 'acquired'), t('2-b', 'new', { kill_requested: true })],
      { kill_requested: true },
    ],
    [
      'kill, winner done: moot',
      [t('2-a', 'done'), t('2-b', 'acquired', { kill_requested: true })],
      { kill_requested: undefined },
    ],
    [
      'kill, winner already killed: nothing to add',
      [t('2-a', 'killed', { kill_requested: true }), t('2-b', 'new', { kill_requested: true })],
      { kill_requested: true },
    ],
    [
      'retry from a losing revision, winner failed',
      [
        t('2-a', 'failed', { attempts: attempts(2) }),
        t('2-b', 'failed', { attempts: attempts(1), retry_requested: true }),
      ],
      { retry_requested: true },
    ],
    [
      'retry, winner killed',
      [t('2-a', 'killed'), t('2-b', 'expired', { retry_requested: true })],
      { retry_requested: true },
    ],
    [
      'retry, winner done: moot',
      [t('2-a', 'done'), t('2-b', 'failed', { retry_requested: true })],
      { retry_requested: undefined },
    ],
    [
      'a resubmission served on the losing branch counts as a retry request',
      [t('2-a', 'failed', { waiting_since: null }), t('2-b', 'new', { waiting_since: at(5) })],
      { retry_requested: true },
    ],
    [
      'an older resubmission does not',
      [t('2-a', 'failed', { waiting_since: at(5) }), t('2-b', 'new', { waiting_since: at(5) })],
      { retry_requested: undefined },
    ],
    [
      'no request anywhere',
      [t('2-a', 'acquired'), t('2-b', 'new')],
      { kill_requested: undefined, retry_requested: undefined },
    ],
  ])('carries user requests over: %s', (_name, revs, expected) => {
    for (const order of [revs, [...revs].reverse()]) {
      const { winner } = resolveTransfer(order as TransferDoc[]);
      expect(winner._rev).toBe('2-a');
      expect({ kill_requested: winner.kill_requested, retry_requested: winner.retry_requested }).toMatchObject(
        expected,
      );
    }
  });
});

describe('the rule for transfer jobs', () => {
  it.each([
    ['done beats active', job('2-a', 'done'), job('2-b', 'active', { lease: { owner: 'w', expires_at: at(600) } })],
    ['active beats queued', job('2-a', 'active'), job('2-b', 'queued')],
    ['done beats queued', job('2-a', 'done'), job('2-b', 'queued')],
    [
      'a later lease expiry wins a tie',
      job('2-a', 'active', { lease: { owner: 'w1', expires_at: at(300) } }),
      job('2-b', 'active', { lease: { owner: 'w2', expires_at: at(200) } }),
    ],
    [
      'a lease beats none',
      job('2-a', 'active', { lease: { owner: 'w1', expires_at: at(300) } }),
      job('2-b', 'active', { lease: null }),
    ],
    ['then the higher revision', job('2-b', 'queued'), job('2-a', 'queued')],
  ])('%s', (_name, win, lose) => {
    expect(resolveJob([lose, win]).winner._rev).toBe(win._rev);
    expect(resolveJob([win, lose])).toEqual({ winner: win, losers: [lose._rev] });
  });

  it('orders revisions as CouchDB does: number, then hash', () => {
    expect(['10-a', '9-z', '2-b', '2-a'].sort(compareRevs)).toEqual(['2-a', '2-b', '9-z', '10-a']);
  });
});

describe('the write plan', () => {
  const plan = (current: TransferDoc, revs: TransferDoc[]) =>
    planResolution(current, revs, resolveTransfer, agentMayWrite);

  it('winner is the current revision, nothing to carry: only the losers are deleted', () => {
    const cur = t('2-b', 'done');
    expect(plan(cur, [cur, t('2-a', 'acquired'), t('2-c', 'new')])).toMatchObject({
      write: null,
      remove: ['2-a', '2-c'],
    });
  });

  it('winner is the current revision and carries a request: written on itself, marked', () => {
    const cur = t('2-b', 'acquired');
    const p = plan(cur, [cur, t('2-a', 'new', { kill_requested: true })]);
    expect(p.write).toMatchObject({ _rev: '2-b', state: 'acquired', kill_requested: true, resolved_conflict: '2-b' });
    expect(p.remove).toEqual(['2-a']);
  });

  it('the current revision may move to the winner: the winner is written on top of it, its own leaf deleted', () => {
    const cur = t('2-b', 'acquired', { transfer_job: 'tj-1' });
    const win = t('2-a', 'submitted', { transfer_job: 'tj-1', started_at: at(1) });
    const p = plan(cur, [cur, win, t('2-0', 'new')]);
    expect(p.write).toMatchObject({ _rev: '2-b', state: 'submitted', started_at: at(1), resolved_conflict: '2-a' });
    expect(p.remove.sort()).toEqual(['2-0', '2-a']);
  });

  it('a jump the transitions table forbids (retry -> done): the current revision is deleted instead', () => {
    const cur = t('2-b', 'retry');
    expect(plan(cur, [cur, t('2-a', 'done')])).toMatchObject({ write: null, remove: ['2-b'] });
  });

  it("a jump with a request to carry: written on the winner's own leaf", () => {
    const cur = t('2-b', 'new', { kill_requested: true });
    const p = plan(cur, [cur, t('2-a', 'submitted')]);
    expect(p.write).toMatchObject({ _rev: '2-a', state: 'submitted', kill_requested: true, resolved_conflict: '2-a' });
    expect(p.remove).toEqual(['2-b']);
  });

  it('strips what a read adds (_conflicts, _revisions) from what it writes', () => {
    const cur = {
      ...t('2-b', 'acquired'),
      _conflicts: ['2-a'],
      _revisions: { start: 2, ids: ['b', 'x'] },
    } as unknown as TransferDoc;
    const p = plan(cur, [cur, t('2-a', 'new', { kill_requested: true })]);
    expect(Object.keys(p.write!)).not.toEqual(expect.arrayContaining(['_conflicts']));
    expect(p.write).not.toHaveProperty('_revisions');
  });
});

describe('validate_doc_update for a conflict resolution by an agent', () => {
  const old = t('2-b', 'acquired');
  it.each([
    ['carries a kill request with a new marker', { ...old, kill_requested: true, resolved_conflict: '2-a' }, old, true],
    ['sets a kill request without a marker', { ...old, kill_requested: true }, old, false],
    [
      'sets a kill request with the marker it already had',
      { ...old, kill_requested: true, resolved_conflict: '2-a' },
      { ...old, resolved_conflict: '2-a' },
      false,
    ],
    [
      'still follows the transitions table',
      { ...old, state: 'new', resolved_conflict: '2-a' },
      { ...old, state: 'submitted' },
      false,
    ],
    ['a malformed marker', { ...old, kill_requested: true, resolved_conflict: 'x' }, old, false],
    [
      'deletes a non-terminal losing revision',
      { _id: old._id, _rev: '2-b', _deleted: true, resolved_conflict: '3-c' },
      old,
      true,
    ],
    ['deletes a non-terminal revision without a marker', { _id: old._id, _rev: '2-b', _deleted: true }, old, false],
    [
      'deletes a revision "in favour of" itself',
      { _id: old._id, _rev: '2-b', _deleted: true, resolved_conflict: '2-b' },
      old,
      false,
    ],
  ])('%s', (_name, next, base, ok) => {
    expect(agentMayWrite(next, base)).toBe(ok);
  });
});

// ---------------------------------------------------------------------------------------------
// On the server
// ---------------------------------------------------------------------------------------------

type Json = Record<string, unknown> & { _id: string; _rev: string };
const H = (c: string) => c.repeat(32);

describe('the retrier resolves conflicts on the server', () => {
  let env: TestEnv;
  const admin = () => env.admin.use<Record<string, unknown>>(env.dbs.transfers);

  beforeAll(async () => {
    env = await createTestEnv();
  });
  afterAll(() => env?.cleanup());

  /** A transfer as its owner submits it (rev 1). */
  async function submitted(name: string): Promise<Json> {
    const doc = transferFixture(env.names.owner, {
      source_lfn: `/store/temp/user/${env.names.owner}/conflicts/${name}_${Date.now()}.root`,
      created_at: new Date().toISOString(),
    });
    const res = await env
      .as('owner')
      .use(env.dbs.transfers)
      .insert(doc as never);
    return { ...doc, _rev: res.rev } as Json;
  }

  /** Child revisions of `parent`, one per branch, written as a replicator would (new_edits: false). */
  async function branch(parent: Json, branches: Record<string, Record<string, unknown>>): Promise<void> {
    const [n, hash] = parent._rev.split('-');
    const start = Number(n) + 1;
    const docs = Object.entries(branches).map(([c, over]) => {
      const doc: Record<string, unknown> = {
        ...parent,
        ...over,
        _rev: `${start}-${H(c)}`,
        _revisions: { start, ids: [H(c), hash] },
      };
      for (const k of Object.keys(doc)) if (doc[k] === undefined) delete doc[k];
      return doc;
    });
    const res = await admin().bulk({ docs: docs as never[], new_edits: false } as never);
    expect(res.filter((r) => r.error)).toEqual([]);
    const cur = (await admin().get(parent._id, { conflicts: true } as never)) as unknown as { _conflicts?: string[] };
    expect(cur._conflicts).toHaveLength(docs.length - 1);
  }

  async function read(
    id: string,
  ): Promise<Json & { _conflicts?: string[]; _revisions: { start: number; ids: string[] } }> {
    return (await admin().get(id, { conflicts: true, revs: true } as never)) as never;
  }

  async function retrierOnce(): Promise<string> {
    const agent = startAgent(env, 'retrier', ['--once']);
    const code = await agent.exited;
    const log = agent.output.join('');
    if (code !== 0) throw new Error(`retrier exited with ${code}:\n${log}`);
    expect(log).not.toMatch(/"level":"error"/);
    return log;
  }

  it('resolves transfers and jobs by the rule, carries user requests over, and a replay writes nothing', async () => {
    const now = new Date().toISOString();
    // Done on one branch, scheduled (with a kill asked) and retried on two others: done wins over a
    // current revision it cannot legally follow (retry -> done), so that one is deleted.
    const jump = await submitted('jump');
    await branch(jump, {
      a: {
        state: 'done',
        attempts: [{ at: now, error: null, error_class: null, transfer_job: 'tj-a' }],
        finished_at: now,
        last_update: now,
      },
      b: { state: 'acquired', transfer_job: 'tj-b', kill_requested: true, last_update: now },
      c: {
        state: 'retry',
        attempts: [{ at: now, error: 'timeout', error_class: 'transient', transfer_job: 'tj-c' }],
        next_attempt_at: now,
        last_update: now,
      },
    });
    // The winner is CouchDB's current revision: only the loser is deleted.
    const kept = await submitted('kept');
    await branch(kept, {
      a: { state: 'acquired', transfer_job: 'tj-a', last_update: now },
      b: { state: 'done', finished_at: now, last_update: now },
    });
    // Scheduled on one node while the owner asked for a kill on the other: acquired wins and
    // carries the kill; the retrier then kills it in the same pass.
    const kill = await submitted('kill');
    await branch(kill, {
      a: { state: 'acquired', transfer_job: 'tj-a', last_update: now },
      b: { kill_requested: true },
    });
    // Submitted on one node, kill asked on the other (new): new -> submitted is not a legal move,
    // so the merged winner goes on top of its own leaf.
    const copying = await submitted('copying');
    await branch(copying, {
      a: { state: 'submitted', transfer_job: 'tj-a', started_at: now, last_update: now },
      b: { kill_requested: true },
    });
    // Two failures, a retry asked on the one with less history: the longer history wins, keeps the
    // request, and is resubmitted.
    const failed = await submitted('failed');
    const history = (n: number) =>
      Array.from({ length: n }, () => ({ at: now, error: 'timeout', error_class: 'transient', transfer_job: 'tj-x' }));
    await branch(failed, {
      a: { state: 'failed', attempts: history(2), failure_reason: 'timeout', finished_at: now, last_update: now },
      b: {
        state: 'failed',
        attempts: history(1),
        failure_reason: 'timeout',
        finished_at: now,
        last_update: now,
        retry_requested: true,
      },
    });
    // Transfer jobs: one worker finished it, another still holds an active lease.
    const jobBase = {
      _id: `tj-conflict-${Date.now()}`,
      type: 'transfer_job',
      user: env.names.owner,
      source: 'T2_CH_CERN',
      destination: 'T2_IT_Pisa',
      protocol: 'file',
      mode: 'stream',
      files: [{ id: jump._id, source_pfn: 'file:///a', destination_pfn: 'file:///b' }],
      state: 'queued',
      created_at: now,
    };
    const j1 = { ...jobBase, _rev: (await admin().insert(jobBase as never)).rev } as Json;
    await branch(j1, {
      a: { state: 'done', lease: null, finished_at: now, summary: { done: 1 } },
      b: { state: 'active', lease: { owner: 'worker-b', expires_at: at(1e6) }, claims: 1 },
    });
    // Two workers claimed it on two nodes: the later lease expiry wins.
    const jobBase2 = { ...jobBase, _id: jobBase._id + '-2' };
    const j2 = { ...jobBase2, _rev: (await admin().insert(jobBase2 as never)).rev } as Json;
    await branch(j2, {
      a: { state: 'active', lease: { owner: 'worker-a', expires_at: '2099-01-01T00:10:00Z' }, claims: 1 },
      b: { state: 'active', lease: { owner: 'worker-b', expires_at: '2099-01-01T00:05:00Z' }, claims: 1 },
    });

    // As after a crash between reading the feed and resolving: the checkpoint is already past
    // every conflict, so only the start-up scan can find them.
    const info = (await admin().info()) as unknown as { update_seq: string | number };
    await env.admin
      .use(env.dbs.service)
      .insert({ _id: '_local/retrier', seq: info.update_seq, db: env.dbs.transfers, updated_at: now } as never);
    const log = await retrierOnce();
    expect(log).toMatch(/"msg":"conflict resolved"/);

    const ids = [jump, kept, kill, copying, failed, j1, j2].map((d) => d._id);
    const docs = new Map<string, Awaited<ReturnType<typeof read>>>();
    for (const id of ids) docs.set(id, await read(id));
    for (const d of docs.values())
      expect({ id: d._id, conflicts: d._conflicts }).toEqual({ id: d._id, conflicts: undefined });

    const dJump = docs.get(jump._id)!;
    expect(dJump).toMatchObject({ _rev: `2-${H('a')}`, state: 'done' });
    expect(dJump.kill_requested).toBeUndefined(); // a kill of a done file is moot
    expect(docs.get(kept._id)).toMatchObject({ _rev: `2-${H('b')}`, state: 'done' });

    const dKill = docs.get(kill._id)!;
    expect(dKill).toMatchObject({
      state: 'killed',
      kill_requested: true,
      resolved_conflict: `2-${H('a')}`,
      failure_reason: 'killed on request',
    });
    expect(dKill._revisions.ids).toContain(H('b')); // written on top of the current (new) revision

    const dCopying = docs.get(copying._id)!;
    expect(dCopying).toMatchObject({
      state: 'submitted',
      kill_requested: true,
      transfer_job: 'tj-a',
      resolved_conflict: `2-${H('a')}`,
    });
    expect(dCopying._revisions.ids.slice(1)).toEqual([H('a'), copying._rev.split('-')[1]]); // on its own leaf

    const dFailed = docs.get(failed._id)!;
    expect(dFailed).toMatchObject({ state: 'new', failure_reason: null });
    expect(dFailed.attempts).toHaveLength(2); // the longer history survived
    expect(dFailed.retry_requested).toBeUndefined(); // served: resubmitted
    expect(typeof dFailed.waiting_since).toBe('string');

    expect(docs.get(j1._id)).toMatchObject({ state: 'done', summary: { done: 1 }, resolved_conflict: `2-${H('a')}` });
    expect(docs.get(j2._id)).toMatchObject({ state: 'active', lease: { owner: 'worker-a' } });

    // The losing leaves are tombstones that name the surviving revision.
    const leaves = (await admin().get(jump._id, { open_revs: 'all' } as never)) as unknown as { ok: Json }[];
    expect(leaves.filter((l) => !l.ok._deleted).map((l) => l.ok._rev)).toEqual([`2-${H('a')}`]);
    const tombstones = leaves.filter((l) => l.ok._deleted).map((l) => l.ok);
    expect(tombstones.map((d) => [d._rev.split('-')[0], d.resolved_conflict])).toEqual([
      ['3', `2-${H('a')}`],
      ['3', `2-${H('a')}`],
    ]);

    // Idempotent: another pass finds nothing to resolve and changes no revision.
    await retrierOnce();
    for (const id of ids) expect((await read(id))._rev).toBe(docs.get(id)!._rev);
  });

  it('a write that meets a 409 deletes nothing: the winner and the request survive for the next pass', async () => {
    const now = new Date().toISOString();
    const doc = await submitted('race');
    // Current: new + kill (2-b); rule winner: acquired (2-a), which must carry the kill and be
    // written on top of 2-b. Another agent writes 2-b just before our write reaches the server.
    await branch(doc, {
      a: { state: 'acquired', transfer_job: 'tj-a', last_update: now },
      b: { kill_requested: true },
    });
    const agentDb = env.as('agent').use<Record<string, unknown>>(env.dbs.transfers);
    let raced = false;
    const racing = {
      ...agentDb,
      bulk: async (...args: Parameters<typeof agentDb.bulk>) => {
        if (!raced) {
          raced = true;
          const cur = await agentDb.get(doc._id);
          await agentDb.insert({ ...cur, last_update: new Date().toISOString() } as never);
        }
        return agentDb.bulk(...args);
      },
    } as typeof agentDb;

    const first = await resolveConflicts(racing, [doc._id]);
    expect(first).toMatchObject({ resolved: [], retry: [doc._id], failed: [] });
    const leaves = (await admin().get(doc._id, { open_revs: 'all' } as never)) as unknown as { ok: Json }[];
    expect(
      leaves
        .filter((l) => !l.ok._deleted)
        .map((l) => l.ok.state)
        .sort(),
    ).toEqual(['acquired', 'new']);

    const second = await resolveConflicts(agentDb, [doc._id]);
    expect(second.resolved.map((d) => d._id)).toEqual([doc._id]);
    const cur = await read(doc._id);
    expect(cur._conflicts).toBeUndefined();
    expect(cur).toMatchObject({
      state: 'acquired',
      transfer_job: 'tj-a',
      kill_requested: true,
      resolved_conflict: `2-${H('a')}`,
    });
  });

  it("a leader lock or heartbeat with two leaves keeps CouchDB's winner, the other leaf deleted", async () => {
    const agentDb = env.as('agent').use<Record<string, unknown>>(env.dbs.transfers);
    const id = DocId.lock(`conflict-test-${Date.now()}`);
    const at = (s: number) => new Date(Date.now() + s * 1000).toISOString();
    const put = await agentDb.insert({ _id: id, type: 'lock', lease: { owner: 'x', expires_at: at(30) } });
    // Two instances took the lock on different nodes, each on revision 1.
    await branch({ _id: id, _rev: put.rev, type: 'lock' } as Json, {
      a: { lease: { owner: 'scheduler-a', expires_at: at(60) } },
      b: { lease: { owner: 'scheduler-b', expires_at: at(60) } },
    });
    const before = await read(id);
    const out = await resolveConflicts(agentDb, [id]);
    expect(out).toMatchObject({ retry: [], failed: [] });
    expect(out.resolved.map((d) => d._id)).toEqual([id]);
    const after = await read(id);
    expect(after._conflicts).toBeUndefined();
    expect(after._rev).toBe(before._rev);
    expect(after.lease).toEqual(before.lease);
  });

  it('a running retrier resolves a conflict that appears on its feed', async () => {
    const agent = startAgent(env, 'retrier');
    try {
      const deadline = Date.now() + 30_000;
      // Once its start-up scan is over, only the feed can tell it about a new conflict.
      while (!agent.output.join('').includes('"msg":"conflict scan done"')) {
        if (Date.now() > deadline) throw new Error('retrier did not start:\n' + agent.output.join(''));
        await new Promise((r) => setTimeout(r, 100));
      }
      const now = new Date().toISOString();
      const doc = await submitted('live');
      await branch(doc, {
        a: { state: 'acquired', transfer_job: 'tj-a', last_update: now },
        b: { kill_requested: true },
      });
      let cur = await read(doc._id);
      while (cur._conflicts || cur.state !== 'killed') {
        if (Date.now() > deadline) throw new Error(`not resolved: ${JSON.stringify(cur)}\n${agent.output.join('')}`);
        await new Promise((r) => setTimeout(r, 200));
        cur = await read(doc._id);
      }
      expect(cur).toMatchObject({ state: 'killed', kill_requested: true, resolved_conflict: `2-${H('a')}` });
    } finally {
      await agent.stop();
    }
  });
});
