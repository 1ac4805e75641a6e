// Jest for the tests that start their own 3-node CouchDB cluster (`npm run test:cluster`): kept
// out of `npm test` and `npm run test:couchdb` (package.json ignores test/cluster/), which would
// each start a cluster of their own. No global setup: each test file starts the cluster it needs.
const path = require('path');

module.exports = {
  rootDir: path.resolve(__dirname, '..', '..'),
  testEnvironment: 'node',
  roots: ['<rootDir>/test/cluster'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.tsx?$': '<rootDir>/test/esbuild-transform.cjs',
    '/node_modules/jose/.+\\.js$': '<rootDir>/test/esbuild-transform.cjs',
  },
  // jose is ESM only (test/esbuild-transform.cjs), reached through test/support/issuer.ts.
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
  moduleFileExtensions: ['ts', 'tsx', 'js', 'cjs', 'json'],
  // Three nodes on two shared cores: unpacking, starting and joining take tens of seconds.
  testTimeout: 300000,
  maxWorkers: 1,
};
