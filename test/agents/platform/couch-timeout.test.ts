/**
 * The agents' idle wait (a longpoll bounded by the client, agents/lib/runner.ts) must end on time
 * even when a garbage collection runs during it: with `AbortSignal.any([signal,
 * AbortSignal.timeout(ms)])` Node 20 loses the timeout at the first collection and the wait hangs
 * until the server answers, which the embedded server's longpoll need not do for minutes (the
 * stats agent stopped writing its roll-up for 90 s in the page test that way). A server that
 * accepts and never answers stands in for that longpoll.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import { setFlagsFromString } from 'v8';
import { runInNewContext } from 'vm';
import { fetchChanges, withTimeout } from '../../../agents/platform/couch';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let server: http.Server;
let url: string;
beforeAll(async () => {
  server = http.createServer(() => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

async function settlesWithin<T>(p: Promise<T>, ms: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<string>((r) => (timer = setTimeout(() => r('still waiting'), ms)));
  const done = p.then(
    () => 'answered',
    (e: Error) => e.name,
  );
  const r = await Promise.race([done, hung]);
  clearTimeout(timer);
  return r;
}

it('ends a wait on a server that never answers after its time, through garbage collections', async () => {
  const stop = new AbortController();
  for (let i = 0; i < 5; i++) {
    const idle = withTimeout(stop.signal, 300);
    const wait = fetchChanges(url, 'transfers', { since: 0, feed: 'longpoll', timeout: 300 }, idle.signal);
    setTimeout(gc, 50);
    expect(await settlesWithin(wait, 5_000)).toBe('TimeoutError');
    idle.clear();
  }
});

it('ends it at once when the outer signal aborts, and clear stops the timer', async () => {
  const stop = new AbortController();
  const idle = withTimeout(stop.signal, 60_000);
  const wait = fetchChanges(url, 'transfers', { since: 0, feed: 'longpoll', timeout: 60_000 }, idle.signal);
  setTimeout(gc, 20);
  setTimeout(() => stop.abort(), 100);
  expect(await settlesWithin(wait, 5_000)).toBe('AbortError');
  idle.clear();
  const quiet = withTimeout(new AbortController().signal, 50);
  quiet.clear();
  await new Promise((r) => setTimeout(r, 150));
  expect(quiet.signal.aborted).toBe(false);
});
