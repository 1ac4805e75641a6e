/**
 * The agents' pure decisions: fair share, job building, copy outcomes, retries, expiry, kill and
 * resubmission, with fixed clocks.
 */
import { DEFAULT_SETTINGS, type SiteDoc, type TransferDoc, type TransferJobDoc } from '../../views/schema';
import { fairShare, planLink, jobId } from '../../agents/scheduler/decide';
import { outcome, splitFiles } from '../../agents/worker/decide';
import { decideExpiry, decideKill, decideOrphan, decideResubmit, decideRetryDue } from '../../agents/retrier/decide';
import { transferFixture } from '../support/env';

const NOW = new Date('2026-11-26T12:00:00Z');
const site = (name: string, root: string): SiteDoc => ({
  _id: 'site:' + name,
  type: 'site',
  name,
  endpoints: { file: 'file://' + root },
  tfc: [{ protocol: 'file', path_match: '/+(.*)', result: `file://${root}/$1` }],
});
const SITES = new Map([
  ['T2_CH_CERN', site('T2_CH_CERN', '/data/cern')],
  ['T2_IT_Pisa', site('T2_IT_Pisa', '/data/pisa')],
]);

function doc(user: string, i: number, over: Record<string, unknown> = {}): TransferDoc {
  return {
    ...transferFixture(user, { source_lfn: `/store/temp/user/${user}/f${i}.root`, ...over }),
    _rev: '1-a',
  } as unknown as TransferDoc;
}

describe('scheduler decisions', () => {
  it('splits slots round robin so a small user is not starved', () => {
    expect(fairShare(10, [100000, 3])).toEqual([7, 3]);
    expect(fairShare(9, [5, 5, 5])).toEqual([3, 3, 3]);
    expect(fairShare(0, [5])).toEqual([0]);
    expect(fairShare(100, [2, 1])).toEqual([2, 1]);
  });

  it('builds jobs of at most max_files_per_transfer per user with resolved PFNs', () => {
    const big = Array.from({ length: 250 }, (_, i) => doc('alice', i));
    const small = Array.from({ length: 10 }, (_, i) => doc('bob', i));
    const plan = planLink(
      {
        source: 'T2_CH_CERN',
        destination: 'T2_IT_Pisa',
        users: new Map([
          ['alice', big],
          ['bob', small],
        ]),
        active: 0,
        maxActive: 120,
        mode: 'stream',
        truncated: new Set(['alice']),
      },
      SITES,
      { ...DEFAULT_SETTINGS, max_files_per_transfer: 50 },
      NOW,
    );
    expect(plan.acquire.filter((d) => d.user === 'bob')).toHaveLength(10);
    expect(plan.acquire.filter((d) => d.user === 'alice')).toHaveLength(110);
    expect(plan.jobs.every((j) => j.files.length <= 50)).toBe(true);
    expect(plan.jobs.map((j) => j.user).sort()).toEqual(['alice', 'alice', 'alice', 'bob']);
    expect(plan.jobs[0].files[0].source_pfn).toMatch(/^file:\/\/\/data\/cern\/store\/temp\/user\//);
    expect(plan.acquire.every((d) => d.state === 'acquired' && plan.jobs.some((j) => j._id === d.transfer_job))).toBe(
      true,
    );
  });

  it('respects max_active: no slots, no jobs', () => {
    const plan = planLink(
      {
        source: 'T2_CH_CERN',
        destination: 'T2_IT_Pisa',
        users: new Map([['alice', [doc('alice', 1)]]]),
        active: 5,
        maxActive: 5,
        mode: 'stream',
        truncated: new Set(),
      },
      SITES,
      DEFAULT_SETTINGS,
      NOW,
    );
    expect(plan.jobs).toEqual([]);
  });

  it('fails a file at once when a site has no TFC rule for it', () => {
    const d = doc('alice', 1, { destination: 'T3_XX_Nowhere' });
    const plan = planLink(
      {
        source: 'T2_CH_CERN',
        destination: 'T3_XX_Nowhere',
        users: new Map([['alice', [d]]]),
        active: 0,
        maxActive: 5,
        mode: 'stream',
        truncated: new Set(),
      },
      SITES,
      DEFAULT_SETTINGS,
      NOW,
    );
    expect(plan.fail).toHaveLength(1);
    expect(plan.fail[0].state).toBe('failed');
    expect(plan.fail[0].failure_reason).toMatch(/destination: site T3_XX_Nowhere is not configured/);
  });

  it('derives job ids from the files and their revisions (a replayed decision finds its job)', () => {
    const files = [doc('alice', 1), doc('alice', 2)];
    expect(jobId(files)).toBe(jobId(files.map((f) => ({ ...f }))));
    expect(jobId(files)).not.toBe(jobId([{ ...files[0], _rev: '2-b' }, files[1]]));
  });
});

describe('worker decisions', () => {
  const job = { _id: 'tj-1', files: [{ id: 'x', source_pfn: 's', destination_pfn: 'd' }] } as unknown as TransferJobDoc;
  const submitted = (over: Record<string, unknown> = {}) =>
    ({ ...doc('alice', 1), state: 'submitted', transfer_job: 'tj-1', ...over }) as TransferDoc;

  it('a verified copy makes the file done, ready for publication when asked', () => {
    const d = outcome(
      submitted({ publish: true, dataset: '/A/b-v1/USER' }),
      { id: 'x', ok: true, seconds: 1 },
      job,
      DEFAULT_SETTINGS,
      NOW,
    );
    expect(d.state).toBe('done');
    expect(d.publication_state).toBe('not_published');
    expect(d.attempts).toHaveLength(1);
  });
  it('a transient error retries after a cooloff that doubles', () => {
    const first = outcome(
      submitted(),
      { id: 'x', ok: false, seconds: 1, error: 'timeout', errorClass: 'transient' },
      job,
      { ...DEFAULT_SETTINGS, cooloff: 10 },
      NOW,
    );
    expect(first.state).toBe('retry');
    expect(first.next_attempt_at).toBe('2026-11-26T12:00:10.000Z');
    const second = outcome(
      { ...first, state: 'submitted' } as TransferDoc,
      { id: 'x', ok: false, seconds: 1, error: 'timeout', errorClass: 'transient' },
      job,
      { ...DEFAULT_SETTINGS, cooloff: 10 },
      NOW,
    );
    expect(second.next_attempt_at).toBe('2026-11-26T12:00:20.000Z');
  });
  it('fails after max_retry attempts with the last reason', () => {
    let d = submitted();
    for (let i = 0; i < 3; i++)
      d = {
        ...outcome(
          { ...d, state: 'submitted' } as TransferDoc,
          { id: 'x', ok: false, seconds: 1, error: `checksum mismatch ${i}`, errorClass: 'transient' },
          job,
          DEFAULT_SETTINGS,
          NOW,
        ),
      };
    expect(d.state).toBe('failed');
    expect(d.failure_reason).toBe('checksum mismatch 2');
  });
  it('a fatal error fails at once', () => {
    expect(
      outcome(
        submitted(),
        { id: 'x', ok: false, seconds: 1, error: 'no such file', errorClass: 'fatal' },
        job,
        DEFAULT_SETTINGS,
        NOW,
      ).state,
    ).toBe('failed');
  });
  it('a kill request wins over a successful copy', () => {
    expect(
      outcome(submitted({ kill_requested: true }), { id: 'x', ok: true, seconds: 1 }, job, DEFAULT_SETTINGS, NOW).state,
    ).toBe('killed');
  });
  it('skips files that moved on since the job was built', () => {
    const mine = { ...doc('alice', 1), _id: 'x', state: 'acquired', transfer_job: 'tj-1' } as TransferDoc;
    expect(splitFiles(job, new Map([['x', mine]])).run).toHaveLength(1);
    expect(splitFiles(job, new Map([['x', { ...mine, transfer_job: 'tj-2' }]])).run).toHaveLength(0);
    expect(splitFiles(job, new Map([['x', { ...mine, state: 'done' } as TransferDoc]])).run).toHaveLength(0);
  });
});

describe('retrier decisions', () => {
  it('kills waiting files at once but leaves copying ones to their worker', () => {
    expect(decideKill({ ...doc('a', 1), kill_requested: true }, NOW)!.state).toBe('killed');
    expect(decideKill({ ...doc('a', 1), state: 'submitted', kill_requested: true } as TransferDoc, NOW)).toBeNull();
    // Acquired: killed here while its job waits in the queue or has no live worker; left to the
    // worker that holds the job (it may be copying without having marked the file submitted).
    const acquired = { ...doc('a', 1), state: 'acquired', transfer_job: 'tj-1', kill_requested: true } as TransferDoc;
    const live = { owner: 'w1', expires_at: new Date(NOW.getTime() + 60_000).toISOString() };
    const expired = { owner: 'w1', expires_at: new Date(NOW.getTime() - 1).toISOString() };
    expect(decideKill(acquired, NOW, { state: 'queued', lease: null })!.state).toBe('killed');
    expect(decideKill(acquired, NOW, { state: 'active', lease: live })).toBeNull();
    expect(decideKill(acquired, NOW, { state: 'active', lease: expired })!.state).toBe('killed');
    expect(decideKill(acquired, NOW, undefined)!.state).toBe('killed');
  });
  it('resubmits the same document to new with history kept and the expiry clock reset', () => {
    const failed = {
      ...doc('a', 1),
      state: 'failed',
      retry_requested: true,
      failure_reason: 'x',
      attempts: [{ at: '2026-11-26T11:00:00Z', error: 'x', transfer_job: 't' }],
    } as TransferDoc;
    const d = decideResubmit(failed, NOW)!;
    expect(d.state).toBe('new');
    expect(d.attempts).toHaveLength(1);
    expect(d.retry_requested).toBeUndefined();
    expect(d.waiting_since).toBe(NOW.toISOString());
    expect(d._id).toBe(failed._id);
  });
  it('ends a cooloff only when it is over', () => {
    const r = { ...doc('a', 1), state: 'retry', next_attempt_at: '2026-11-26T12:00:30Z' } as TransferDoc;
    expect(decideRetryDue(r, NOW)).toBeNull();
    expect(decideRetryDue(r, new Date('2026-11-26T12:00:31Z'))!.state).toBe('new');
  });
  it('expires a file that waited longer than max_waiting_time', () => {
    const d = doc('a', 1, { created_at: '2026-11-26T11:00:00Z' });
    expect(decideExpiry(d, { ...DEFAULT_SETTINGS, max_waiting_time: 7200 }, NOW)).toBeNull();
    expect(decideExpiry(d, { ...DEFAULT_SETTINGS, max_waiting_time: 3599 }, NOW)!.state).toBe('expired');
  });
  it('returns files orphaned by a finished job', () => {
    const job = { _id: 'tj-1', state: 'done' } as TransferJobDoc;
    expect(
      decideOrphan(
        { ...doc('a', 1), state: 'acquired', transfer_job: 'tj-1' } as TransferDoc,
        job,
        DEFAULT_SETTINGS,
        NOW,
      )!.state,
    ).toBe('new');
    expect(
      decideOrphan(
        { ...doc('a', 1), state: 'submitted', transfer_job: 'tj-1' } as TransferDoc,
        job,
        DEFAULT_SETTINGS,
        NOW,
      )!.state,
    ).toBe('retry');
    expect(
      decideOrphan(
        { ...doc('a', 1), state: 'submitted', transfer_job: 'tj-1' } as TransferDoc,
        { ...job, state: 'active' },
        DEFAULT_SETTINGS,
        NOW,
      ),
    ).toBeNull();
  });
});
