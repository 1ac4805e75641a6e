#!/usr/bin/env node
// The `couchstage` bin: runs the bundled CLI, building it first on a fresh checkout.
const path = require('path');
const fs = require('fs');
const root = path.join(__dirname, '..');
const cli = path.join(root, 'dist', 'cli.js');
if (!fs.existsSync(cli)) {
  require('child_process').execFileSync(process.execPath, [path.join(__dirname, 'build.mjs'), '--quiet'], { stdio: 'inherit', cwd: root });
}
require(cli).main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
