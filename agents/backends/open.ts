/**
 * Picks the worker's storage backend: gfal2 (real grid storage: root://, file://, http://) when
 * the Debian gfal2 bindings are present, else the native file backend (file:// only). `instant`
 * is the control-plane benchmark's backend.
 */
import type { Logger } from '../platform/log';
import { createBackend, gfal2Available } from './index';
import { InstantBackend } from './instant';
import type { TransferBackend } from './types';

export type BackendName = 'auto' | 'gfal2' | 'native' | 'instant';

export async function openBackend(name: BackendName, log: Logger): Promise<TransferBackend> {
  if (name === 'instant') return new InstantBackend();
  const chosen = name === 'auto' ? (gfal2Available() ? 'gfal2' : 'native') : name;
  log.info('storage backend', { backend: chosen });
  return createBackend(chosen, { log: (line: string) => log.warn('gfal2 helper: ' + line) });
}
