/**
 * The backends' own check of every URL they are handed: its path (after `scheme://authority`,
 * leading slashes folded, as XRootD writes `root://host//abs/path`) must be a clean absolute path
 * (views/lib/paths.ts cleanPathProblem: no `%`, `?`, `#`, `\`, `//`, `.` or `..` segment, control
 * characters). The scheduler and worker already keep PFNs under their sites' storage roots; this
 * keeps a backend from being the place where `%2e%2e` or `?` turn into something else.
 */
import { cleanPathProblem } from '../../views/lib/checks';

export function urlPathProblem(url: unknown): string | null {
  if (typeof url !== 'string') return `invalid URL ${JSON.stringify(url)}: not a string`;
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)(.*)$/.exec(url);
  if (!m) return `invalid URL ${url}: expected scheme://host/path`;
  const p = cleanPathProblem('path', m[2].replace(/^\/+/, '/'));
  return p ? `invalid URL ${url}: not a clean absolute path (${p.slice('path: '.length)})` : null;
}
