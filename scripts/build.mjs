// Builds the Node entry points into dist/ with esbuild (bundled, dependencies external).
// Design documents are compiled at deploy time from views/ (see design/index.ts).
import { build } from 'esbuild';
import fs from 'fs';
import { fileURLToPath } from 'url';
import path from 'path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const quiet = process.argv.includes('--quiet');
const entries = {
  cli: 'scripts/cli/main.ts',
  server: 'scripts/server/main.ts',
  'bench-submit': 'scripts/bench/submit.ts',
  'bench-lifecycle': 'scripts/bench/lifecycle.ts',
  'bench-dataplane': 'scripts/bench/dataplane.ts',
  'bench-catalog': 'scripts/bench/catalog.ts',
  'bench-page': 'scripts/bench/page.ts',
  'bench-datahandling': 'scripts/bench/datahandling.ts',
  se: 'scripts/se/xrootd.ts',
  'bench-index': 'scripts/bench/index.ts',
  couchdb: 'scripts/couchdb/main.ts',
  'bench-engine': 'scripts/bench/engine-choices.ts',
  'bench-edge': 'scripts/bench/edge.ts',
  'bench-cluster': 'scripts/bench/cluster.ts',
};
// The embedded server is a workspace package whose entry is TypeScript: bundle it (by its name as
// well as by relative path) instead of leaving it external, which Node could not load.
const workspaces = {
  name: 'workspaces',
  setup(b) {
    b.onResolve({ filter: /^@couchstage\/embedded-server$/ }, () => ({
      path: path.join(root, 'scripts/server/index.ts'),
    }));
  },
};
const started = Date.now();
const result = await build({
  entryPoints: Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, path.join(root, v)])),
  outdir: path.join(root, 'dist'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  plugins: [workspaces],
  sourcemap: 'linked',
  logLevel: 'warning',
  write: false,
});
// Agents, servers and tests start from dist/ while a build may run (every `npm start` and
// `npm test` builds first): a file is replaced by rename, never rewritten in place, so a process
// starting at that moment reads the old file or the new one, never half of one; and a file whose
// content did not change is not touched at all.
let written = 0;
for (const f of result.outputFiles) {
  let same;
  try {
    same = Buffer.compare(fs.readFileSync(f.path), Buffer.from(f.contents)) === 0;
  } catch {
    same = false;
  }
  if (same) continue;
  fs.mkdirSync(path.dirname(f.path), { recursive: true });
  const tmp = `${f.path}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, f.contents);
  fs.renameSync(tmp, f.path);
  written++;
}
if (!quiet)
  console.log(
    `built ${Object.keys(entries).length} entry points into dist/ in ${Date.now() - started} ms (${written} files changed)`,
  );
