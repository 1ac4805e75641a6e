/** Pure helpers of the overview, without d3 (unit-tested in test/app/window.test.ts). */

/**
 * The window the links' "last hour" figures really cover: an hour, or less on a system whose
 * first finished transfer of that hour came later (a system started 7 minutes ago has 7 minutes
 * of figures, and dividing them by 3600 s understated its rate 8 times). From the minute series:
 * its first bucket with a finished file, up to the roll-up's time; at least a minute.
 */
export function lastHourWindow(
  minutes: readonly (readonly [string, number, number, number, number])[],
  updatedAt: string,
): number {
  const end = Date.parse(updatedAt);
  const from = end - 3600_000;
  let first = end;
  for (const r of minutes) {
    const t = Date.parse(r[0] + ':00Z');
    if (t >= from && (r[1] || r[3]) && t < first) first = t;
  }
  return Math.max(60, Math.min(3600, Math.round((end - first) / 1000)));
}
