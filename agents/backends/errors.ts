/**
 * Classifies a copy, removal or stat error from its errno and message. Pure: no I/O.
 *
 * fatal (retrying cannot help, the file fails at once): permission denied, no space or quota,
 * a missing source, a URL no backend understands.
 * transient (retried later): timeouts, refused or unreachable connections, checksum mismatches,
 * a crashed or cancelled helper, and anything unknown -- a needless retry is cheaper than a lost file.
 *
 * errno may be a Node code ('ENOENT'), a Linux number (2, as gfal2 reports it) or an XRootD
 * kXR_* number (3011), which XrdCl passes through unmapped for some errors.
 */
import { constants } from 'os';
import type { ErrorClass } from './types';

export interface ErrorFacts {
  /** errno name (ENOENT), Linux errno number (2) or XRootD error number (3011). */
  readonly errno?: string | number | null;
  readonly message?: string;
  /** Which end the error concerns, when known; otherwise guessed from "(source)" in the message. */
  readonly side?: 'source' | 'destination' | null;
}

// XProtocol.hh kXR_* error codes that have a POSIX meaning we act on.
const XROOTD_ERRNO: Record<number, string> = {
  3000: 'EINVAL', // kXR_ArgInvalid
  3009: 'ENOSPC', // kXR_NoSpace
  3010: 'EACCES', // kXR_NotAuthorized
  3011: 'ENOENT', // kXR_NotFound
  3013: 'EPROTONOSUPPORT', // kXR_Unsupported
  3019: 'EILSEQ', // kXR_ChkSumErr
  3021: 'EDQUOT', // kXR_overQuota
};

const BY_NUMBER = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** Normalises any errno form to its name ('ENOENT'), or undefined when unknown. */
export function errnoName(errno: string | number | null | undefined, message = ''): string | undefined {
  if (typeof errno === 'string' && /^E[A-Z0-9]+$/.test(errno)) return errno;
  const n = typeof errno === 'number' ? errno : typeof errno === 'string' && /^\d+$/.test(errno) ? Number(errno) : NaN;
  if (XROOTD_ERRNO[n]) return XROOTD_ERRNO[n];
  if (BY_NUMBER.has(n)) return BY_NUMBER.get(n);
  const kxr = /\[(30\d\d)\]/.exec(message); // "Server responded with an error: [3011] ..."
  return kxr ? XROOTD_ERRNO[Number(kxr[1])] : undefined;
}

const TRANSIENT_TEXT = [
  /checksum mismatch/i,
  /checksum error/i,
  /cancel+ed/i,
  /helper died/i,
  /crashed/i,
  /timed? ?out/i,
  /connection refused/i,
  /unreachable/i,
  /connection reset/i,
];
const TRANSIENT_ERRNO = new Set([
  'EILSEQ',
  'ETIMEDOUT',
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNRESET',
  'EHOSTDOWN',
  'ECOMM',
  'ECANCELED',
  'EAGAIN',
]);

const PERMISSION = {
  errno: ['EACCES', 'EPERM'],
  text: [/permission denied/i, /operation not permitted/i, /not authori[sz]ed/i],
};
const SPACE = {
  errno: ['ENOSPC', 'EDQUOT'],
  text: [/no space left/i, /quota exceeded/i, /disk quota/i, /over ?quota/i],
};
const BAD_URL = {
  errno: ['EPROTONOSUPPORT', 'EPROTO'],
  text: [/unsupported protocol/i, /protocol not supported/i, /invalid url/i, /url invalid/i, /invalid adler32/i],
};
const MISSING = { errno: ['ENOENT'], text: [/no such file or directory/i, /does not exist/i, /not found/i] };

function matches(rule: { errno: string[]; text: RegExp[] }, name: string | undefined, message: string): boolean {
  return (name !== undefined && rule.errno.includes(name)) || rule.text.some((re) => re.test(message));
}

export function classifyError(f: ErrorFacts): ErrorClass {
  const message = f.message || '';
  const name = errnoName(f.errno, message);
  // Transient signals win: "checksum mismatch ... (source)" or "source ... unreachable" are not fatal.
  if (TRANSIENT_TEXT.some((re) => re.test(message))) return 'transient';
  if (name !== undefined && TRANSIENT_ERRNO.has(name)) return 'transient';
  if (matches(PERMISSION, name, message) || matches(SPACE, name, message) || matches(BAD_URL, name, message))
    return 'fatal';
  // EINVAL is fatal only when it is about the request itself (a malformed URL or checksum).
  if (name === 'EINVAL' && /\burl\b|adler32|checksum/i.test(message)) return 'fatal';
  if (matches(MISSING, name, message)) {
    const side = f.side ?? (/\(source\)|\bsource\b/i.test(message) ? 'source' : null);
    // A missing source will not reappear; a missing destination directory or path is an SE problem.
    return side === 'source' ? 'fatal' : 'transient';
  }
  return 'transient';
}

/** The one wording of a checksum mismatch (callers and operators grep for it). */
export function checksumMismatch(expected: string, actual: string, where: 'source' | 'destination' = 'source'): string {
  return `checksum mismatch: expected ${expected}, ${where} has ${actual}`;
}
