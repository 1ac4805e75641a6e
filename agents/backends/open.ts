/**
 * Picks the worker's storage backend: gfal2 (real grid storage, root:// file:// http://) when the
 * Debian gfal2 bindings are present, else the native file backend (file:// only). `instant` is
 * the control-plane benchmark's backend.
 */
import type { Logger } from '../lib/log';
import { InstantBackend } from './instant';
import { NativeBackend } from './native';
import type { TransferBackend } from './types';

/** True when /usr/bin/python3 can import the gfal2 bindings (Debian python3-gfal2). */
export function gfal2Available(): boolean {
  try {
    require('child_process').execFileSync('/usr/bin/python3', ['-c', 'import gfal2'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

export type BackendName = 'auto' | 'gfal2' | 'native' | 'instant';

export async function openBackend(name: BackendName, log: Logger): Promise<TransferBackend> {
  if (name === 'instant') return new InstantBackend();
  const chosen = name === 'auto' ? (gfal2Available() ? 'gfal2' : 'native') : name;
  log.info('storage backend', { backend: chosen });
  if (chosen === 'native') return new NativeBackend();
  throw new Error('TODO-GFAL2: gfal2 backend pending');
}
