/**
 * The stats agent's roll-up (agents/stats/decide.ts), in process: it agrees with the overview
 * keys it shares with the view, a replayed or repeated change changes nothing, a state change
 * moves a file between counts, and a deleted document leaves no trace. Also the failure-reason
 * classes of the wordings the agents write.
 */
import { Rollup, bucketLabels, WINDOWS } from '../../../agents/stats/decide';
import { classifyReason } from '../../../views/lib/monitor';
import { seedDoc, type SeedOptions } from '../../../scripts/bench/monitor-seed';
import type { TransferDoc } from '../../../views/schema';

const now = new Date('2026-11-26T08:00:30Z');
const opts: SeedOptions = { users: ['alice', 'bob'], n: 200, workflowsPerUser: 3, spreadSeconds: 3000, now };
const docs = Array.from({ length: 200 }, (_, i) => seedDoc(i, opts));

function count(docs: readonly TransferDoc[], pred: (d: TransferDoc) => boolean): number {
  return docs.filter(pred).length;
}

describe('stats roll-up', () => {
  it('counts states, users, links, failures and publication as the documents say', () => {
    const r = new Rollup();
    for (const d of docs) r.apply(d as never);
    const s = r.summary(now, 1);
    expect(s.transfers).toBe(200);
    for (const st of ['done', 'failed', 'new', 'killed'])
      expect(s.states[st][0]).toBe(count(docs, (d) => d.state === st));
    expect(s.states.done[1]).toBe(docs.filter((d) => d.state === 'done').reduce((a, d) => a + d.size, 0));
    expect(s.users.alice.failed[0]).toBe(count(docs, (d) => d.user === 'alice' && d.state === 'failed'));
    const l = s.links.find((x) => x.source === 'T2_CH_CERN' && x.destination === 'T2_IT_Pisa')!;
    expect(l.done).toBe(
      count(docs, (d) => d.source === 'T2_CH_CERN' && d.destination === 'T2_IT_Pisa' && d.state === 'done'),
    );
    expect(l.active).toBe(
      count(
        docs,
        (d) =>
          d.source === 'T2_CH_CERN' &&
          d.destination === 'T2_IT_Pisa' &&
          (d.state === 'acquired' || d.state === 'submitted'),
      ),
    );
    const failures = s.failures.reduce((a, f) => a + f.files, 0);
    expect(failures).toBe(count(docs, (d) => ['failed', 'expired', 'killed'].includes(d.state)));
    expect(s.failures.map((f) => f.reason)).toContain('checksum mismatch');
    const published = Object.values(s.publication).reduce((a, v) => a + v[0], 0);
    expect(published).toBe(count(docs, (d) => d.publish && d.state === 'done'));
    // Every finished file is inside the 50-minute spread, so the minute window holds them all.
    const minuteDone = s.time.minute.reduce((a, row) => a + row[1], 0);
    expect(minuteDone).toBe(count(docs, (d) => d.state === 'done'));
    expect(s.time.minute.length).toBe(WINDOWS.minute);
    expect(s.time.day[s.time.day.length - 1][0]).toBe('2026-11-26');
  });

  it('is unchanged by a replay, moves a file on a state change, forgets a deleted one', () => {
    const r = new Rollup();
    for (const d of docs) r.apply(d as never);
    const before = JSON.stringify(r.summary(now, 1));
    for (const d of docs.slice(0, 50)) expect(r.apply(d as never)).toBe(false);
    expect(JSON.stringify(r.summary(now, 1))).toBe(before);
    const n = docs.find((d) => d.state === 'new')!;
    r.apply({ ...n, state: 'killed', finished_at: now.toISOString(), failure_reason: 'killed on request' } as never);
    const s = r.summary(now, 2);
    expect(s.states.new[0]).toBe(count(docs, (d) => d.state === 'new') - 1);
    expect(s.states.killed[0]).toBe(count(docs, (d) => d.state === 'killed') + 1);
    r.apply({ _id: n._id, _deleted: true });
    expect(r.summary(now, 3).states.killed[0]).toBe(count(docs, (d) => d.state === 'killed'));
    expect(r.size).toBe(199);
    expect(r.apply({ _id: 'heartbeat:x', type: 'heartbeat' })).toBe(false);
  });

  it('labels the time windows in UTC, oldest first', () => {
    expect(bucketLabels(now, 'minute').slice(-2)).toEqual(['2026-11-26T07:59', '2026-11-26T08:00']);
    expect(bucketLabels(now, 'hour').slice(-1)).toEqual(['2026-11-26T08']);
    expect(bucketLabels(now, 'day')).toHaveLength(WINDOWS.day);
  });

  it('classifies the reasons agents write', () => {
    expect(classifyReason('checksum mismatch: expected 0badcafe, source has 12345678')).toBe('checksum mismatch');
    expect(classifyReason('no such file or directory (source)')).toBe('source missing');
    expect(classifyReason('no TFC rule of T2_X maps /store/x (protocols file)')).toBe('no TFC rule or site');
    expect(classifyReason('waited more than 604800 s without starting')).toBe('expired waiting');
    expect(classifyReason('killed on request')).toBe('killed on request');
    expect(classifyReason('something odd')).toBe('other');
    expect(classifyReason(null)).toBe('other');
  });
});
