/**
 * The embedded server's state file, `<stateDir>/server.json` (mode 0600, in a 0700 directory): the
 * URL it listens on, its admin's credentials and those of the account the caller's agents use,
 * written by admin.ts for the other processes of the caller.
 */
import * as fs from 'fs';
import * as path from 'path';
import { lockDataDir } from './server-config';

export interface EmbeddedState {
  readonly url: string;
  readonly admin: { readonly name: string; readonly password: string };
  readonly agent: { readonly name: string; readonly password: string };
  readonly pid?: number;
}

export function statePath(stateDir: string): string {
  return path.join(stateDir, 'server.json');
}

/** The state in `stateDir`, or null when there is none (or it cannot be read). */
export function readState(stateDir: string): EmbeddedState | null {
  try {
    return JSON.parse(fs.readFileSync(statePath(stateDir), 'utf8')) as EmbeddedState;
  } catch {
    return null;
  }
}

export function writeState(stateDir: string, state: EmbeddedState): void {
  lockDataDir(stateDir);
  fs.writeFileSync(statePath(stateDir), JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  fs.chmodSync(statePath(stateDir), 0o600);
}
