/**
 * Child-process entry of the embedded server (dist/server.js). Prints one JSON line
 * `{"listening": port}` on stdout when ready; the supervisor waits for it.
 */
import { startEmbedded } from './embedded';
import { configPath, lockDown, requireAdmin } from './server-config';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : dflt;
}

/** A flag holding megabytes (supervisor.ts's settingsArgs), or undefined when absent. */
function megabytes(name: string): number | undefined {
  const v = arg(name, '');
  if (v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name}: a number of megabytes >= 0 expected, got "${v}"`);
  return n;
}

// PouchDB's changes emitters reject promises nobody awaits after the HTTP answer has been sent
// (measured: `_changes?filter=<missing ddoc>/<f>` answers 404, then kills the process). Log them;
// anything else that escapes is an uncaught exception, and the supervisor restarts us.
process.on('unhandledRejection', (reason) => {
  process.stderr.write(`embedded server: unhandled rejection: ${(reason as Error)?.message || String(reason)}\n`);
});

// Whatever this process creates (config, LevelDB files of every database, logs) is its user's alone.
process.umask(0o077);
const dataDir = arg('data-dir', './data');

Promise.resolve()
  .then(() => {
    lockDown(dataDir);
    return requireAdmin(configPath(dataDir));
  })
  .then(() =>
    startEmbedded({
      dataDir,
      port: Number(arg('port', '5984')),
      host: arg('host', '127.0.0.1'),
      cacheMb: megabytes('cache-mb'),
      leveldbCacheMb: megabytes('leveldb-cache-mb'),
      trace: arg('trace', '') || null,
    }),
  )
  .then((server) => {
    const addr = server.address();
    process.stdout.write(JSON.stringify({ listening: typeof addr === 'object' && addr ? addr.port : null }) + '\n');
    const stop = () => server.close(() => process.exit(0));
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  })
  .catch((err: NodeJS.ErrnoException) => {
    process.stderr.write(`embedded server: ${err.code === 'EADDRINUSE' ? 'port already in use' : err.message}\n`);
    process.exit(err.code === 'EADDRINUSE' ? 98 : 1);
  });
