/**
 * The deploy version stamped into every design document: COUCHSTAGE_VERSION, else `git describe`.
 * Building without one is refused (npm-registry-couchapp's rule): an unstamped design document
 * cannot be traced back to the code that made it.
 */
import { execFileSync } from 'child_process';
import { configuredVersion } from '../agents/platform/config';

export function deployVersion(cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  const version = configuredVersion(env);
  if (version) return version;
  try {
    return execFileSync('git', ['describe', '--always', '--dirty', '--tags'], {
      cwd,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
  } catch {
    throw new Error('no deploy version: set COUCHSTAGE_VERSION or build from a git checkout with at least one commit');
  }
}
