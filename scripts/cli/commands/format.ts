/**
 * How the CLI prints sizes and tables. One size style for every command, so a number read in
 * `status` compares at a glance with one read in `files`, `catalog` or `quota`; and columns padded
 * to their widest cell, so a long user or workflow name does not shift the rest of its row.
 */

export { formatSize } from '../../../views/lib/format';

export type Cell = string | number;

/**
 * Rows as lines, each column padded to its widest cell and separated by two spaces; the columns
 * listed in `right` (counts, sizes) right-aligned, the others left-aligned. The last column is
 * not padded, so no line ends in blanks.
 */
export function table(rows: readonly (readonly Cell[])[], right: readonly number[] = []): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((c, i) => (widths[i] = Math.max(widths[i] || 0, String(c).length)));
  return rows.map((row) =>
    row
      .map((c, i) => {
        const s = String(c);
        if (right.includes(i)) return s.padStart(widths[i]);
        return i === row.length - 1 ? s : s.padEnd(widths[i]);
      })
      .join('  '),
  );
}
