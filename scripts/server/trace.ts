/**
 * The server's profiling trace (the `trace` option of startEmbedded): requests and their time per
 * route, garbage collections and the read caches' figures, printed to stderr on exit, or appended
 * to a file when the option names one (contains a `/`).
 */
import * as fs from 'fs';
import type * as http from 'http';
import * as path from 'path';
import { PerformanceObserver } from 'perf_hooks';
import { cacheStats } from './patches/leveldown-cache';

const gcKinds = ['', 'minor', 'major', '', 'incremental', '', '', '', 'weakcb'];

/** Starts the trace; returns the per-request recorder. */
export function startTrace(traceTo: string): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  const trace = new Map<string, { n: number; ms: number }>();
  const gc = new Map<string, { n: number; ms: number; max: number }>();
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind =
        'gc ' + (gcKinds[(e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0] || 'other');
      const g = gc.get(kind) ?? { n: 0, ms: 0, max: 0 };
      g.n++;
      g.ms += e.duration;
      g.max = Math.max(g.max, e.duration);
      gc.set(kind, g);
    }
  }).observe({ entryTypes: ['gc'] });
  process.on('exit', () => {
    const rows = [...trace.entries()].sort((a, b) => b[1].ms - a[1].ms);
    const text =
      rows.map(([k, v]) => `${v.ms.toFixed(0).padStart(8)} ms ${String(v.n).padStart(7)} x  ${k}\n`).join('') +
      [...gc.entries()]
        .map(
          ([k, v]) =>
            `${v.ms.toFixed(0).padStart(8)} ms ${String(v.n).padStart(7)} x  ${k} (longest ${v.max.toFixed(1)} ms)\n`,
        )
        .join('');
    const caches = [...cacheStats.entries()]
      .map(([loc, f]) => ({ loc: path.basename(loc), ...f() }))
      .filter((c) => c.hits + c.misses > 0)
      .map(
        (c) =>
          `cache ${c.loc}: ${c.hits} hits, ${c.misses} misses, ${c.entries} entries, ${(c.bytes / 1048576).toFixed(1)} MB\n`,
      )
      .join('');
    if (traceTo.includes('/')) fs.appendFileSync(traceTo, text + caches);
    else process.stderr.write(text + caches);
  });
  return (req, res) => {
    const t0 = process.hrtime.bigint();
    const key = `${req.method} ${(req.url || '/')
      .split('?')[0]
      .replace(/^\/[^/]+/, '/db')
      .replace(/\/[0-9a-f]{56}$/, '/<id>')
      .replace(/\/(heartbeat|lock|tj-)[^/]*$/, '/<$1>')}${/include_docs=true/.test(req.url || '') ? ' +docs' : ''}`;
    res.on('finish', () => {
      const t = trace.get(key) || { n: 0, ms: 0 };
      t.n++;
      t.ms += Number(process.hrtime.bigint() - t0) / 1e6;
      trace.set(key, t);
    });
  };
}
