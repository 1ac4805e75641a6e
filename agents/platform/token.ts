/**
 * A Bearer token for the CLI and the agents, from the environment: `COUCHSTAGE_TOKEN` (the
 * token itself) or `COUCHSTAGE_TOKEN_FILE` (a file holding it, as a token refresher such as
 * oidc-agent or htgettoken writes one). The file is read again whenever its modification time
 * or size changes, so a long-running agent sends the refreshed token from its next request on
 * without a restart; a check costs one stat, at most once a second.
 * Used only where the server URL carries no credentials (couch.ts): a URL's user:password wins.
 */
import * as fs from 'fs';
import { tokenSource, type TokenSource } from './config';

const RECHECK_MS = 1000;
let memo: { file: string; stamp: string; token: string | null; checked: number } | null = null;

/** Thrown when COUCHSTAGE_TOKEN_FILE is set but unreadable: never fall back to anonymous. */
export class TokenFileError extends Error {}

export function bearerToken(src: TokenSource = tokenSource(), now = Date.now()): string | null {
  if (src.token) return src.token;
  const file = src.file;
  if (!file) return null;
  if (memo && memo.file === file && now - memo.checked < RECHECK_MS) return memo.token;
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    throw new TokenFileError(`COUCHSTAGE_TOKEN_FILE ${file}: ${(err as Error).message}`);
  }
  const stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
  if (!memo || memo.file !== file || memo.stamp !== stamp) {
    const token = fs.readFileSync(file, 'utf8').trim();
    if (!token) throw new TokenFileError(`COUCHSTAGE_TOKEN_FILE ${file} is empty`);
    memo = { file, stamp, token, checked: now };
  }
  memo.checked = now;
  return memo.token;
}

/** `Authorization: Bearer ...` headers whose value is read at each request (nano copies headers per request). */
export function bearerHeaders(): Record<string, string> | null {
  if (!bearerToken()) return null;
  const h = {};
  Object.defineProperty(h, 'Authorization', { enumerable: true, get: () => `Bearer ${bearerToken()}` });
  return h as Record<string, string>;
}
