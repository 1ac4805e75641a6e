// Jest transform: TypeScript -> CommonJS with esbuild (typescript 7 has no JS compiler API, so
// no ts-jest). Type checking is `npm run typecheck`, not the test run. Also ESM-only packages
// (jose): Jest's module runtime cannot require ES modules on Node 20, so they become CommonJS here.
const { transformSync } = require('esbuild');

module.exports = {
  process(source, filename) {
    const out = transformSync(source, {
      loader: filename.endsWith('.tsx') ? 'tsx' : filename.endsWith('.js') ? 'js' : 'ts',
      format: 'cjs',
      target: 'node20',
      sourcemap: 'inline',
      sourcefile: filename,
    });
    return { code: out.code };
  },
};
