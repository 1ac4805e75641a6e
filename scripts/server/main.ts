/**
 * Child-process entry of the embedded server (dist/server.js). Prints one JSON line
 * `{"listening": port}` on stdout when ready; the supervisor waits for it.
 */
import { startEmbedded } from './embedded';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : dflt;
}

// PouchDB's changes emitters reject promises nobody awaits after the HTTP answer has been sent
// (measured: `_changes?filter=<missing ddoc>/<f>` answers 404, then kills the process). Log them;
// anything else that escapes is an uncaught exception, and the supervisor restarts us.
process.on('unhandledRejection', (reason) => {
  process.stderr.write(`embedded server: unhandled rejection: ${(reason as Error)?.message || String(reason)}\n`);
});

startEmbedded({ dataDir: arg('data-dir', './data'), port: Number(arg('port', '5984')), host: arg('host', '127.0.0.1') })
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
