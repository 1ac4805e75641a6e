/**
 * One size style for every surface: the CLI, the monitoring page and the figures they print, so a
 * number read on the page compares at a glance with one read in `couchstage status`. Pure; the
 * page bundles it too.
 */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/**
 * Binary units with one decimal ("1.5 GiB"); below 1 KiB whole bytes ("512 B"). One decimal is
 * what tells 1.0 GiB from 1.4 GiB, more is noise next to the exact byte counts `--json` prints.
 */
export function formatSize(bytes: number): string {
  let v = bytes;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  // 1023.96 KiB would print as "1024.0 KiB": show it as the next unit instead.
  if (u > 0 && u < UNITS.length - 1 && Math.abs(Number(v.toFixed(1))) >= 1024) {
    v /= 1024;
    u++;
  }
  return u ? `${v.toFixed(1)} ${UNITS[u]}` : `${v} B`;
}
