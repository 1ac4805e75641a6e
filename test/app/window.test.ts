/** The window the links' "last hour" rates are divided by (app/window.ts). Pure. */
import { lastHourWindow } from '../../app/window';

const row = (label: string, done: number, failed = 0) => [label, done, done * 1000, failed, failed * 1000] as const;

describe('the last-hour window of the link rates', () => {
  it('is the time since the first finished file when the system has run less than an hour', () => {
    // Started 7 minutes before the roll-up: 7 min of figures, not 60.
    expect(lastHourWindow([row('2026-12-03T11:53', 4), row('2026-12-03T11:58', 2)], '2026-12-03T12:00:00Z')).toBe(420);
    // A minute with failures only counts too.
    expect(lastHourWindow([row('2026-12-03T11:50', 0, 3), row('2026-12-03T11:58', 2)], '2026-12-03T12:00:00Z')).toBe(
      600,
    );
  });
  it('is an hour when activity goes back further, and at least a minute', () => {
    expect(lastHourWindow([row('2026-12-03T10:00', 9), row('2026-12-03T11:30', 1)], '2026-12-03T12:00:00Z')).toBe(1800);
    expect(lastHourWindow([row('2026-12-03T10:00', 9), row('2026-12-03T11:00', 1)], '2026-12-03T12:00:00Z')).toBe(3600);
    expect(lastHourWindow([row('2026-12-03T11:59', 1)], '2026-12-03T11:59:10Z')).toBe(60);
    expect(lastHourWindow([], '2026-12-03T12:00:00Z')).toBe(60);
  });
});
