/**
 * The primitives every topic's shape checks are built from: reading input as JSON, the checks of
 * one value (text, dates, site names, LFNs, datasets, revisions, states, lists, leases) and the
 * combinators (`optional`, `first`). Separate so that each topic file imports only these and no
 * topic imports another.
 */
import { DATASET_RE, CONTROL_CHARS_RE, ISO_DATE_RE, Limits, REV_RE, SITE_NAME_RE } from '../../schema/limits';
import { cleanPathProblem, type Problem } from '../paths';

export { cleanPathProblem, type Problem };
/** A document as validation reads it: any field may hold anything. */
export type Json = { [key: string]: unknown };

/** A typed document (an interface has no index signature) read as validation reads any input. */
export function jsonOf(doc: object): Json {
  return doc as Json;
}

/** `u` is one of `list`: an enum's values, say (indexOf, not includes: older JS engines run this). */
export function isOneOf(list: readonly string[], u: unknown): boolean {
  return typeof u === 'string' && list.indexOf(u) >= 0;
}

export function isObject(u: unknown): u is Json {
  return typeof u === 'object' && u !== null && !Array.isArray(u);
}

export function isNonNegInt(u: unknown): u is number {
  return typeof u === 'number' && Math.floor(u) === u && u >= 0 && u <= Number.MAX_SAFE_INTEGER;
}

/** A printable, non-empty string of at most `max` characters. */
export function textProblem(field: string, u: unknown, max: number): Problem {
  if (typeof u !== 'string' || u.length === 0) return field + ': must be a non-empty string';
  if (u.length > max) return field + ': longer than ' + max + ' characters';
  if (CONTROL_CHARS_RE.test(u)) return field + ': contains control characters';
  return null;
}

export function isoDateProblem(field: string, u: unknown): Problem {
  // Date.parse rolls 2026-02-30 over to March 2 in every JS engine: check the day of the month.
  if (
    typeof u !== 'string' ||
    !ISO_DATE_RE.test(u) ||
    isNaN(Date.parse(u)) ||
    Number(u.slice(8, 10)) > new Date(Date.UTC(Number(u.slice(0, 4)), Number(u.slice(5, 7)), 0)).getUTCDate()
  ) {
    return field + ': must be an ISO 8601 date-time such as 2026-01-31T12:00:00Z';
  }
  return null;
}

export function siteNameProblem(field: string, u: unknown): Problem {
  if (typeof u !== 'string' || !SITE_NAME_RE.test(u)) {
    return field + ': must be a site name of letters, digits, _ . - (at most 64), e.g. T2_CH_CERN';
  }
  return null;
}

/**
 * Printable ASCII: the one alphabet every Unicode normalisation (NFC, NFKC, ...) leaves as it is
 * (fullwidth `．．` becomes `..` under NFKC, `u` + U+0308 becomes `ü` under NFC). CouchDB 3.4's
 * QuickJS has no String.prototype.normalize, so validation cannot ask; CMS LFNs are ASCII anyway.
 */

/**
 * LFNs are absolute and clean: nothing in them may mean something else once the LFN becomes a
 * PFN URL or a path on disk. So no `%` (decoding turns `%2e%2e` into `..`), `?` and `#` (a URL's
 * query and fragment: XRootD CGI on root://), `\` (a separator on some systems), whitespace or
 * control characters, nothing but printable ASCII (see above), no `//`, `.` or `..` segment, no
 * trailing `/`.
 */
export function lfnProblem(field: string, u: unknown): Problem {
  if (typeof u !== 'string' || u.length === 0) return field + ': must be a non-empty string';
  if (u.length > Limits.lfnMaxLength) return field + ': longer than ' + Limits.lfnMaxLength + ' characters';
  return cleanPathProblem(field, u);
}

export function datasetProblem(field: string, u: unknown): Problem {
  if (typeof u !== 'string' || !DATASET_RE.test(u)) {
    return field + ': must be a dataset name /primary/processed/TIER, e.g. /GenericTTbar/alice-test-v1/USER';
  }
  return null;
}

export function optional(field: string, doc: Json, check: (f: string, u: unknown) => Problem): Problem {
  return doc[field] === undefined ? null : check(field, doc[field]);
}

export function first(problems: Problem[]): Problem {
  for (let i = 0; i < problems.length; i++) if (problems[i]) return problems[i];
  return null;
}

/** A document revision such as `2-967a00dff5e02add41819138abb3284d`. */
export function revProblem(field: string, u: unknown): Problem {
  return typeof u === 'string' && REV_RE.test(u)
    ? null
    : field + ': must be a document revision such as 2-967a00dff5e02add41819138abb3284d';
}

export function nullableDate(field: string, doc: Json): Problem {
  return doc[field] === null ? null : optional(field, doc, isoDateProblem);
}

/** One of a state machine's states (views/schema/machines.ts). */
export function stateProblem(field: string, u: unknown, states: readonly string[]): Problem {
  return states.indexOf(u as string) >= 0 ? null : field + ': must be one of ' + states.join(', ');
}

/** An array of at most `max` entries, each passing `check`. */
export function listProblem(
  field: string,
  u: unknown,
  max: number,
  check: (f: string, v: unknown) => Problem,
): Problem {
  if (!Array.isArray(u)) return field + ': must be an array';
  if (u.length > max) return field + ': more than ' + max + ' entries';
  for (let i = 0; i < u.length; i++) {
    const p = check(field + '[' + i + ']', u[i]);
    if (p) return p;
  }
  return null;
}

export function intProblem(field: string, u: unknown): Problem {
  return isNonNegInt(u) ? null : field + ': must be a non-negative integer';
}

export function boolProblem(field: string, u: unknown): Problem {
  return typeof u === 'boolean' ? null : field + ': must be true or false';
}

/** An agent's claim on a document: absent, null, or {owner, expires_at}. */
export function leaseProblem(lease: unknown): Problem {
  return lease === undefined || lease === null
    ? null
    : !isObject(lease)
      ? 'lease: must be an object {owner, expires_at} or null'
      : textProblem('lease.owner', lease.owner, Limits.nameMaxLength) ||
        isoDateProblem('lease.expires_at', lease.expires_at);
}
