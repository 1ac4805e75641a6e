/**
 * Entry point of the storage layer: createBackend('gfal2' | 'native') and gfal2Available().
 */
import { spawnSync } from 'child_process';
import { Gfal2Backend, type Gfal2Options } from './gfal2';
import { NativeBackend } from './native';
import type { TransferBackend } from './types';

export { fileAdler32 } from './native';

export type BackendOptions = Gfal2Options;

export function createBackend(name: 'gfal2' | 'native', opts: BackendOptions = {}): TransferBackend {
  switch (name) {
    case 'gfal2':
      return new Gfal2Backend(opts);
    case 'native':
      return new NativeBackend();
    default:
      throw new Error(`unknown storage backend ${JSON.stringify(name)} (expected gfal2 or native)`);
  }
}

/** Whether the gfal2 binding imports under the Debian python (pyenv's python3 on PATH lacks it).
 *  10 s: a cold import takes ~0.1 s; the bound only guards against a wedged interpreter. */
export function gfal2Available(python = '/usr/bin/python3'): boolean {
  const r = spawnSync(python, ['-c', 'import gfal2'], { stdio: 'ignore', timeout: 10_000 });
  return r.status === 0;
}
