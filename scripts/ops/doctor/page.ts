/**
 * The doctor's check of the monitoring page as a browser gets it: the Content-Security-Policy and
 * the Basic challenge the server sends with it (ops/server-config.ts says what they must be).
 */
import { withoutCredentials } from '../../../agents/platform/config';
import { nodeFetch } from '../../../agents/platform/nodes';
import { dbPath } from '../http';
import { iniLines, policyBlocksPage } from '../server-config';
import type { Finding } from './types';

/**
 * The page as a browser gets it: its policy must let its own script, style sheet and fetches
 * run, and an anonymous request must be challenged (or the browser shows a bare 401).
 */
export async function pageFindings(url: string, transfersDb: string): Promise<Finding[]> {
  const subject = `${transfersDb}/_design/monitor/index.html`;
  const out: Finding[] = [];
  const path = dbPath(transfersDb) + '/_design/monitor/index.html';
  const res = await nodeFetch(url, path, { method: 'HEAD', signal: AbortSignal.timeout(10_000) }).catch(() => null);
  if (!res || res.status !== 200) {
    out.push({
      check: 'page',
      subject,
      level: 'problem',
      message: `the page answers ${res ? res.status : 'nothing'}: run "couchstage deploy"`,
    });
    return out;
  }
  const csp = res.headers.get('content-security-policy');
  const why = policyBlocksPage(csp);
  const fix = `run "couchstage deploy" as server admin, or set on every node: ${iniLines().join(' ')}`;
  out.push(
    why
      ? { check: 'page', subject, level: 'problem', message: `${why} (Content-Security-Policy: ${csp}): ${fix}` }
      : {
          check: 'page',
          subject,
          level: 'ok',
          message: csp ? 'its Content-Security-Policy lets the page run' : 'served without a Content-Security-Policy',
        },
  );
  const anon = await nodeFetch(withoutCredentials(url), path, {
    method: 'HEAD',
    signal: AbortSignal.timeout(10_000),
  }).catch(() => null);
  const challenge = anon?.headers.get('www-authenticate') || '';
  if (anon && anon.status === 401 && !/^Basic /i.test(challenge)) {
    out.push({
      check: 'page',
      subject,
      level: 'warning',
      message: `an anonymous browser gets a 401 without a Basic challenge, so no sign-in prompt: ${fix}`,
    });
  }
  return out;
}
