/**
 * agents/platform/signals.ts: the first stop signal asks for a clean stop; repeats within 2 s are the
 * same request; a later repeat hurries, once; the handlers stay installed. Signals are emitted on
 * an emitter (jest's sandboxed `process` receives no real signals) and the clock is mocked; real
 * signals to real processes are test/start/signals.test.ts.
 */
import { EventEmitter } from 'events';
import { stopSignals } from '../../../agents/platform/signals';

describe('stop signals', () => {
  it('resolves on the first, ignores a repeat within 2 s, hurries once on a later one', async () => {
    let t = 1_000;
    const target = new EventEmitter();
    const s = stopSignals({ now: () => t, target: target as never });
    const hurried: string[] = [];
    s.onHurry((sig) => hurried.push(sig));
    expect(target.listenerCount('SIGINT') + target.listenerCount('SIGTERM') + target.listenerCount('SIGHUP')).toBe(3);
    target.emit('SIGINT');
    expect(await s.requested).toBe('SIGINT');
    t = 2_500; // 1.5 s later: the same request (npm forwarding the terminal's Ctrl-C)
    target.emit('SIGINT');
    target.emit('SIGTERM');
    expect(hurried).toEqual([]);
    t = 3_500; // 2.5 s after the first: someone insists
    target.emit('SIGTERM');
    expect(hurried).toEqual(['SIGTERM']);
    t = 9_000;
    target.emit('SIGINT');
    expect(hurried).toEqual(['SIGTERM']);
    // Still handled after all that: a process with no listener left would die of the signal.
    expect(target.listenerCount('SIGINT')).toBe(1);
    s.dispose();
    expect(target.listenerCount('SIGINT')).toBe(0);
  });

  it('does nothing on a late repeat when no hurry was given, and keeps handling', async () => {
    let t = 0;
    const target = new EventEmitter();
    const s = stopSignals({ now: () => t, target: target as never, signals: ['SIGTERM'] });
    target.emit('SIGTERM');
    expect(await s.requested).toBe('SIGTERM');
    t = 60_000;
    expect(() => target.emit('SIGTERM')).not.toThrow();
    expect(target.listenerCount('SIGTERM')).toBe(1);
    expect(target.listenerCount('SIGINT')).toBe(0);
  });
});
