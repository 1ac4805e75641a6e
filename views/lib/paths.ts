/**
 * The rule every logical and physical path obeys (LFNs, TFC results, storage roots), and the
 * problem type every shape check returns. Apart from checks.ts so that the TFC rules (tfc.ts),
 * which checks.ts uses, can use it without an import circle.
 */
import { CONTROL_CHARS_RE } from '../schema/limits';

/** null when the value is well-formed, else what is wrong with it (shown to the writer). */
export type Problem = string | null;

const NOT_PRINTABLE_ASCII_RE = /[^\x21-\x7e]/;

/** The path rules of an LFN without its length limit (a PFN's path below the storage root). */
export function cleanPathProblem(field: string, u: string): Problem {
  if (u.charAt(0) !== '/') return field + ': must be an absolute path starting with /';
  if (/\s/.test(u) || CONTROL_CHARS_RE.test(u))
    return field + ': must not contain whitespace, NUL or control characters';
  if (/[%?#;\\]/.test(u))
    return field + ': must not contain % ? # ; or \\ (they change the path once the LFN is a URL)';
  if (NOT_PRINTABLE_ASCII_RE.test(u))
    return field + ': must be printable ASCII (other characters change under Unicode normalisation)';
  if (u.length === 1 || u.charAt(u.length - 1) === '/') return field + ': must name a file, not end with /';
  const parts = u.slice(1).split('/');
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] === '') return field + ': must be normalised (no empty // segment)';
    if (parts[i] === '..') return field + ': must not contain .. segments';
    if (parts[i] === '.') return field + ': must be normalised (no . segment)';
  }
  return null;
}
