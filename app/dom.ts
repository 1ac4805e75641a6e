/**
 * Small DOM builders on d3 selections. Every string from the database goes through `.text()` or
 * an attribute setter, never `.html()`: LFNs, reasons and names are user-supplied.
 */
import { format, select, type Selection } from 'd3';
import { formatSize } from '../views/lib/format';

/** A selection of one element whatever made it (`select` gives it a parent, `append` keeps its own). */
export type Sel = Selection<HTMLElement, unknown, HTMLElement | null, unknown>;

/** The CLI's size style (views/lib/format.ts): binary units, one decimal. */
export const fmtBytes = (n: number): string => formatSize(n);
export const fmtInt = format(',d');
/** A time as the tables show it: UTC, to the second. */
export const fmtTime = (iso: string | null | undefined): string => (iso ? iso.replace('T', ' ').slice(0, 19) : '');

export interface CellSpec {
  readonly text: string;
  readonly href?: string;
  readonly cls?: string;
  readonly title?: string;
  readonly style?: Record<string, string>;
  readonly col?: string;
  readonly onClick?: () => void;
  /** Rendered as a button (actions). */
  readonly button?: boolean;
  /** Line breaks allowed only after this character (an LFN breaks after a slash, not mid-name). */
  readonly breakAfter?: string;
}
export type Cell = string | number | CellSpec;

function spec(c: Cell): CellSpec {
  return typeof c === 'object' ? c : { text: typeof c === 'number' ? fmtInt(c) : c };
}

export function section(parent: Sel, title: string, id: string): Sel {
  const s = parent.append<HTMLElement>('section').attr('id', id);
  s.append('h2').text(title);
  return s;
}

/** A table; `keys[i]` becomes the row's data-key (tests and links find rows by it). */
export function table(
  parent: Sel,
  cls: string,
  head: readonly (string | CellSpec)[],
  rows: readonly Cell[][],
  keys?: readonly string[],
): Sel {
  const t = parent.append<HTMLElement>('table').attr('class', cls);
  const hr = t.append('thead').append('tr');
  for (const h of head) {
    const s = typeof h === 'string' ? { text: h } : h;
    const th = hr.append('th').text(s.text);
    if (s.col) th.attr('data-col', s.col);
    if (s.onClick) th.attr('class', 'sortable').on('click', s.onClick);
    if (s.cls) th.classed(s.cls, true);
  }
  const body = t.append('tbody');
  rows.forEach((r, i) => {
    const tr = body.append('tr');
    if (keys) tr.attr('data-key', keys[i]);
    r.forEach((c, j) => {
      const s = spec(c);
      const td = tr.append('td');
      const col =
        s.col ||
        (typeof head[j] === 'string' ? (head[j] as string) : (head[j] as CellSpec).col || (head[j] as CellSpec).text);
      td.attr('data-col', col);
      if (s.cls) td.attr('class', s.cls);
      if (s.title) td.attr('title', s.title);
      if (s.style) for (const [k, v] of Object.entries(s.style)) td.style(k, v);
      if (s.button)
        td.append('button')
          .attr('type', 'button')
          .text(s.text)
          .on('click', () => s.onClick && s.onClick());
      else if (s.href) td.append('a').attr('href', s.href).text(s.text);
      else if (s.breakAfter) {
        // <wbr> after each separator, and the cell itself never breaks inside a word (style.css):
        // the text and what is copied from it stay the LFN, with no invisible characters.
        td.classed('paths', true);
        const parts = s.text.split(s.breakAfter);
        parts.forEach((part, k) => {
          td.append('span').text(k < parts.length - 1 ? part + s.breakAfter : part);
          if (k < parts.length - 1) td.append('wbr');
        });
      } else td.text(s.text);
    });
  });
  return t;
}

/**
 * The pages' count tables: one row per state (`keys`, also the rows' data-keys) with its files
 * and bytes; `get` gives both, 0 for a state without files.
 */
export function countTable<K extends string>(
  parent: Sel,
  keyHead: string,
  keys: readonly K[],
  get: (key: K) => readonly [files: number, bytes: number],
): Sel {
  return table(
    parent,
    'numbers',
    [keyHead, 'files', 'bytes'],
    keys.map((k) => {
      const [files, bytes] = get(k);
      return [k, files, { text: fmtBytes(bytes), col: 'bytes' }];
    }),
    keys,
  );
}

export function note(parent: Sel, text: string, cls = 'note'): void {
  parent.append('p').attr('class', cls).text(text);
}

export function clear(id: string): Sel {
  const s = select<HTMLElement, unknown>(id);
  s.selectAll('*').remove();
  return s;
}

/** `#/user/<u>/<wf>` with each part encoded (names may hold anything a user typed). */
export function route(...parts: string[]): string {
  return '#/' + parts.map(encodeURIComponent).join('/');
}
