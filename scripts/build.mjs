// Builds the Node entry points into dist/ with esbuild (bundled, dependencies external).
// Design documents are compiled at deploy time from views/ (see design/index.ts).
import { build } from 'esbuild';
import { fileURLToPath } from 'url';
import path from 'path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const quiet = process.argv.includes('--quiet');
const entries = {
  cli: 'scripts/cli.ts',
  server: 'scripts/server/main.ts',
  'bench-submit': 'scripts/bench/submit.ts',
  'bench-lifecycle': 'scripts/bench/lifecycle.ts',
  'bench-dataplane': 'scripts/bench/dataplane.ts',
  'bench-catalog': 'scripts/bench/catalog.ts',
  'bench-page': 'scripts/bench/page.ts',
  'bench-datahandling': 'scripts/bench/datahandling.ts',
  se: 'scripts/se/xrootd.ts',
  'bench-index': 'scripts/bench/index.ts',
};
const started = Date.now();
await build({
  entryPoints: Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, path.join(root, v)])),
  outdir: path.join(root, 'dist'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
});
if (!quiet) console.log(`built ${Object.keys(entries).length} entry points into dist/ in ${Date.now() - started} ms`);
