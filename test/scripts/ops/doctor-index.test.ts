/**
 * What doctor makes of an index's position (read with update=false where the server honours it):
 * a small backlog, built or not, is what the first query builds in seconds; a large unbuilt one
 * is a problem unless the server is building it already.
 */
import { indexState } from '../../../scripts/ops/doctor';

describe('doctor: index state', () => {
  it.each([
    // indexed seq, db seq, docs, indexer task, lag limit -> level, message
    [0, 0, 0, null, 100, 'ok', /built and current/],
    [0, 40, 38, null, 100, 'ok', /not built yet, 40 changes: the first query builds it/],
    [0, 40, 38, { done: 10, total: 40 }, 100, 'ok', /being built now: 10\/40/],
    [500, 520, 510, null, 100, 'ok', /built, 20 changes behind/],
    [0, 5000, 4990, null, 100, 'problem', /not built, 5000 changes: the first query will wait/],
    [0, 5000, 4990, { done: 1200, total: 5000 }, 100, 'warning', /5000 changes behind.*1200\/5000/],
    [100, 5000, 4990, null, 100, 'warning', /4900 changes behind.*catches up at the next query/],
  ] as const)('indexed %d of %d (%d docs, task %j, limit %d): %s', (indexed, db, docs, task, limit, level, message) => {
    const s = indexState(indexed, db, docs, task, limit);
    expect(s.level).toBe(level);
    expect(s.message).toMatch(message);
  });
});
