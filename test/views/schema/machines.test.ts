/**
 * The state machines (views/schema/machines.ts), their derived helpers, the id helpers and the
 * type guards: pure, no server.
 */
import {
  DocId,
  IdPrefix,
  PublicationMachine,
  DataRequestMachine,
  TransferJobMachine,
  TransferMachine,
  TransitionError,
  idRange,
  idSuffix,
  isDataRequest,
  isTransfer,
  isTransferJob,
} from '../../../views/schema';
import { sha224Hex } from '../../../views/lib/sha224';
import { transferFixture } from '../../support/env';

const NOW = new Date('2026-11-26T06:00:00Z');
const MACHINES = [TransferMachine, PublicationMachine, DataRequestMachine, TransferJobMachine];

describe('the state machines', () => {
  it.each(MACHINES.map((m) => [m.name, m] as const))(
    '%s: every move names a state, terminal states and groups are states, rank orders every state once',
    (_n, m) => {
      const states: readonly string[] = m.states;
      for (const to of Object.values(m.transitions).flat()) expect(states).toContain(to);
      for (const s of m.terminal) expect(states).toContain(s);
      for (const g of Object.values(m.groups) as string[][]) for (const s of g) expect(states).toContain(s);
      expect([...m.rank].sort()).toEqual([...states].sort());
      expect(states).toContain(m.initial);
    },
  );

  it('allows staying put and the listed moves, refuses the rest and unknown states', () => {
    expect(TransferMachine.can('submitted', 'submitted')).toBe(true);
    expect(TransferMachine.can('acquired', 'done')).toBe(true);
    expect(TransferMachine.can('done', 'new')).toBe(false);
    expect(TransferMachine.can('paused' as never, 'new')).toBe(false);
    expect(TransferMachine.can('new', 'paused' as never)).toBe(false);
    expect(TransferJobMachine.can('queued', 'active')).toBe(true);
    expect(TransferJobMachine.can('done', 'queued')).toBe(false);
    expect(TransferJobMachine.can('queued', 'done')).toBe(false);
    expect(DataRequestMachine.can('running', 'new')).toBe(false);
  });

  it('lets a document without a publication state enter it at not_published or publishing only', () => {
    expect(PublicationMachine.can(undefined, 'not_published')).toBe(true);
    expect(PublicationMachine.can(undefined, 'publishing')).toBe(true);
    expect(PublicationMachine.can(undefined, 'published')).toBe(false);
    expect(TransferMachine.can(undefined, 'new')).toBe(true);
    expect(TransferMachine.can(undefined, 'done')).toBe(false);
  });

  it('ranks as the conflict rule says: done > failed > killed > expired > submitted > retry > acquired > new; done > active > queued', () => {
    const byRank = (r: Record<string, number>) => Object.keys(r).sort((a, b) => r[b] - r[a]);
    expect(byRank(TransferMachine.ranks)).toEqual([
      'done',
      'failed',
      'killed',
      'expired',
      'submitted',
      'retry',
      'acquired',
      'new',
    ]);
    expect(byRank(TransferJobMachine.ranks)).toEqual(['done', 'active', 'queued']);
  });

  it('transition: checks the move, sets the field, stamps last_update, drops undefined fields', () => {
    const doc = {
      _id: 'x',
      state: 'retry' as const,
      next_attempt_at: '2026-11-26T05:00:00Z' as string | null,
      kill_requested: true as boolean | undefined,
    };
    const next = TransferMachine.transition(doc, 'new', NOW, { next_attempt_at: null, kill_requested: undefined });
    expect(next).toEqual({ _id: 'x', state: 'new', next_attempt_at: null, last_update: NOW.toISOString() });
    expect(() => TransferMachine.transition({ _id: 'y', state: 'done' as const }, 'new', NOW)).toThrow(
      new TransitionError('transfer y: done -> new is not allowed'),
    );
    const pub = PublicationMachine.transition({ _id: 'p', state: 'done' }, 'publishing', NOW, { block: 'b' } as never);
    expect(pub).toMatchObject({
      state: 'done',
      publication_state: 'publishing',
      block: 'b',
      last_update: NOW.toISOString(),
    });
  });

  it('transition into a terminal state finishes requests and jobs: finished_at, no lease', () => {
    const lease = { owner: 'w', expires_at: '2026-11-26T06:05:00Z' };
    const r = DataRequestMachine.transition(
      { _id: 'rq-1', state: 'running' as const, lease, next_attempt_at: 'x' },
      'done',
      NOW,
    );
    expect(r).toMatchObject({
      state: 'done',
      finished_at: NOW.toISOString(),
      lease: null,
      next_attempt_at: null,
      last_update: NOW.toISOString(),
    });
    const j = TransferJobMachine.transition({ _id: 'tj-1', state: 'active' as const, lease }, 'done', NOW, {
      summary: { done: 1 },
    } as never);
    expect(j).toEqual({
      _id: 'tj-1',
      state: 'done',
      lease: null,
      finished_at: NOW.toISOString(),
      summary: { done: 1 },
    });
    const claimed = TransferJobMachine.transition({ _id: 'tj-2', state: 'queued' as const }, 'active', NOW, {
      lease,
    } as never);
    expect(claimed).toEqual({ _id: 'tj-2', state: 'active', lease }); // no last_update on jobs
  });
});

describe('ids', () => {
  it('builds every id from one prefix', () => {
    expect(DocId.heartbeat('worker', 'w@h:1')).toBe('heartbeat:worker:w@h:1');
    expect(DocId.lock('scheduler')).toBe('lock:scheduler');
    expect(DocId.site('T2_CH_CERN')).toBe('site:T2_CH_CERN');
    expect(DocId.link('A', 'B')).toBe('link:A:B');
    expect(DocId.job('ab'.repeat(30))).toBe('tj-' + 'ab'.repeat(20));
    expect(DocId.dataRequest('cd'.repeat(30))).toBe('rq-' + 'cd'.repeat(20));
    expect(DocId.transfer('/store/temp/user/a/1.root')).toBe(sha224Hex('/store/temp/user/a/1.root'));
    expect(idSuffix(IdPrefix.site, 'site:T1_US_FNAL')).toBe('T1_US_FNAL');
    expect(idRange(IdPrefix.heartbeat)).toEqual({ startkey: 'heartbeat:', endkey: 'heartbeat:\ufff0' });
  });
});

describe('type guards', () => {
  it('accept what validation accepts and refuse malformed documents', () => {
    const t = transferFixture('alice', { source_lfn: '/store/temp/user/alice/g/1.root' });
    expect(isTransfer(t)).toBe(true);
    expect(isTransfer({ ...t, state: 'paused' })).toBe(false);
    expect(isTransfer({ ...t, size: -1 })).toBe(false);
    expect(isTransfer({ ...t, type: 'request' })).toBe(false);
    expect(isTransfer(null)).toBe(false);
    const job = {
      _id: 'tj-1',
      type: 'transfer_job',
      user: 'alice',
      source: 'A',
      destination: 'B',
      protocol: 'file',
      mode: 'stream',
      files: [{ id: 'f' }],
      state: 'queued',
      created_at: NOW.toISOString(),
    };
    expect(isTransferJob(job)).toBe(true);
    expect(isTransferJob({ ...job, state: 'paused' })).toBe(false);
    expect(isTransferJob({ ...job, files: 'f' })).toBe(false);
    const rq = {
      _id: 'rq-1',
      type: 'request',
      kind: 'replicate',
      user: 'alice',
      sites: ['T2_IT_Pisa'],
      dataset: '/P/alice-v1/USER',
      state: 'new',
      created_at: NOW.toISOString(),
    };
    expect(isDataRequest(rq)).toBe(true);
    expect(isDataRequest({ ...rq, state: 'queued' })).toBe(false);
  });
});
