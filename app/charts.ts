/**
 * The two chart kinds of the page: finished files (or bytes) over time as stacked bars of done
 * and failed, and the source x destination heat map of links.
 */
import { axisBottom, axisLeft, interpolateRgb, max, scaleBand, scaleLinear } from 'd3';
import { linkKey } from '../views/lib/link-key';
import type { LinkStats, TimeRow } from '../views/schema';
import { fmtBytes, fmtInt, route, type Sel } from './dom';

/** Stacked bars: done (green) under failed (red), per bucket. */
export function timeChart(parent: Sel, rows: readonly TimeRow[], metric: 'files' | 'bytes'): void {
  const W = chartWidth(parent),
    H = 220,
    M = { l: 64, r: 8, t: 8, b: 36 };
  const done = (r: TimeRow) => (metric === 'files' ? r[1] : r[2]);
  const failed = (r: TimeRow) => (metric === 'files' ? r[3] : r[4]);
  const amount = (n: number) => (metric === 'files' ? fmtInt(n) : fmtBytes(n));
  const x = scaleBand<string>()
    .domain(rows.map((r) => r[0]))
    .range([M.l, W - M.r])
    .padding(0.15);
  const y = scaleLinear()
    .domain([0, Math.max(1, max(rows, (r) => done(r) + failed(r)) || 0)])
    .nice()
    .range([H - M.b, M.t]);
  const svg = parent
    .append('svg')
    .attr('viewBox', `0 0 ${W} ${H}`)
    .attr('class', 'chart')
    .attr('role', 'img')
    .attr('aria-label', `finished ${metric} over time`);
  // One tick label per ~110 pixels.
  const every = Math.ceil(rows.length / Math.max(4, Math.floor(W / 110)));
  svg
    .append('g')
    .attr('transform', `translate(0,${H - M.b})`)
    .call(
      axisBottom(x)
        .tickValues(rows.map((r) => r[0]).filter((_, i) => i % every === 0))
        .tickFormat((l) => (l.length > 10 ? l.slice(11) : l.slice(5))),
    );
  svg
    .append('g')
    .attr('transform', `translate(${M.l},0)`)
    .call(
      axisLeft(y)
        .ticks(5)
        .tickFormat((v) => amount(+v)),
    );
  const g = svg.append('g');
  // One bar segment: `n` of `cls` stacked on `base`.
  const bar = (r: TimeRow, cls: string, base: number, n: number) =>
    g
      .append('rect')
      .attr('class', cls)
      .attr('x', x(r[0])!)
      .attr('width', x.bandwidth())
      .attr('y', y(base + n))
      .attr('height', y(base) - y(base + n))
      .append('title')
      .text(`${r[0]}: ${amount(n)} ${cls}`);
  for (const r of rows) {
    const d = done(r),
      f = failed(r);
    if (d) bar(r, 'done', 0, d);
    if (f) bar(r, 'failed', d, f);
  }
}

/**
 * As wide as its card (drawn in its pixels, so text keeps its size): a fixed 760-unit chart
 * filled half the full-width card on a 1280-pixel screen. A resize shows at the next refresh.
 */
function chartWidth(parent: Sel): number {
  const el = parent.node() as HTMLElement;
  const css = getComputedStyle(el);
  const inner = el.clientWidth - parseFloat(css.paddingLeft || '0') - parseFloat(css.paddingRight || '0');
  return Math.max(360, Math.floor(inner) || 760);
}

/** Failure rate of a link (0..1) among finished files, or null when nothing finished. */
export function failureRate(l: LinkStats): number | null {
  return l.done + l.failed ? l.failed / (l.done + l.failed) : null;
}

const heat = interpolateRgb('#d9f0d3', '#d7301f');

/** Rows = sources, columns = destinations; colour = failure rate; text = done, failed, active, throughput. */
export function linkMatrix(parent: Sel, links: readonly LinkStats[], windowSec = 3600): void {
  const sources = [...new Set(links.map((l) => l.source))].sort();
  const dests = [...new Set(links.map((l) => l.destination))].sort();
  const by = new Map(links.map((l) => [linkKey(l.source, l.destination), l]));
  const t = parent.append('table').attr('class', 'matrix');
  const hr = t.append('thead').append('tr');
  hr.append('th').text('source \\ destination');
  for (const d of dests) hr.append('th').text(d);
  const body = t.append('tbody');
  for (const s of sources) {
    const tr = body.append('tr');
    tr.append('th').text(s);
    for (const d of dests) {
      const l = by.get(linkKey(s, d));
      const td = tr.append('td').attr('data-link', `${s}->${d}`);
      if (!l) continue;
      const rate = failureRate(l);
      td.style('background', rate === null ? '#f4f4f4' : heat(rate));
      td.attr('title', `${s} -> ${d}: ${rate === null ? 'nothing finished' : Math.round(rate * 100) + '% failed'}`);
      // The whole cell opens the link's files (app/link.ts).
      const a = td
        .append('a')
        .attr('class', 'cell')
        .attr('href', route('link', s, d));
      a.append('div')
        .attr('class', 'big')
        .text(`${fmtInt(l.done)} done`);
      a.append('div')
        .attr('data-col', 'failed')
        .text(`${fmtInt(l.failed)} failed · ${fmtInt(l.active)} active`);
      a.append('div')
        .attr('class', 'small')
        .text(
          `${fmtBytes(l.hour_bytes / windowSec)}/s ${windowSec >= 3600 ? 'last hour' : `last ${Math.round(windowSec / 60)} min`}`,
        );
    }
  }
}
