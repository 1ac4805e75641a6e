/**
 * The server settings the monitoring page needs, set by `deploy` and checked by `doctor`.
 *
 * CouchDB 3 serves every attachment with `Content-Security-Policy: sandbox` (`[csp]
 * attachments_enable = true`, `attachments_header_value = sandbox`): the page, served from
 * `_design/monitor`'s attachments, loads but its script never runs (Chromium: "Blocked script
 * execution ... the document's frame is sandboxed"). Switching CSP off would let any HTML
 * attachment run inline script; instead deploy sets a strict policy: scripts, styles, images,
 * fetches from the server's own origin only, no inline script or style element, no eval, no
 * plugins, no framing (the page's kill and retry buttons are not clickjackable), no <base>.
 * The page needs nothing more: one script file (main.js, d3 bundled, which sets styles through
 * the CSSOM, allowed under style-src 'self'), one style sheet, an SVG icon, fetches to the same
 * origin. The setting applies to every attachment on the server (CouchDB has one policy for
 * all); it is still stricter than no policy and runs nothing a sandboxed page would not have
 * loaded anyway.
 *
 * `[chttpd] WWW-Authenticate`: CouchDB sends a challenge with a 401 only when this is set, so a
 * browser opening the page without a session gets a bare JSON 401 instead of a sign-in prompt.
 * The value is the one the embedded server sends (scripts/server/embedded.ts); the page's own
 * requests send `X-CouchDB-WWW-Authenticate: Cookie`, so an expired session shows the page's
 * login form, not a dialog, on both servers.
 */
import { capabilities } from '../../agents/platform/capabilities';
import { http } from './http';

export const PAGE_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export const CHALLENGE = 'Basic realm="couchstage"';

export interface Setting {
  readonly section: string;
  readonly key: string;
  readonly value: string;
}

export const PAGE_SETTINGS: readonly Setting[] = [
  { section: 'csp', key: 'attachments_enable', value: 'true' },
  { section: 'csp', key: 'attachments_header_value', value: PAGE_POLICY },
  { section: 'chttpd', key: 'WWW-Authenticate', value: CHALLENGE },
];

export interface ServerConfigReport {
  /** `section/key: old -> new`, per node, for every setting this run changed. */
  readonly changed: string[];
  /** Settings already as wanted. */
  readonly unchanged: string[];
  /** Lines for the operator's local.ini when this caller may not change server settings. */
  readonly mustSet: string[];
}

export function iniLines(settings: readonly Setting[] = PAGE_SETTINGS): string[] {
  const sections = [...new Set(settings.map((s) => s.section))];
  return sections.flatMap((sec) => [
    `[${sec}]`,
    ...settings.filter((s) => s.section === sec).map((s) => `${s.key} = ${s.value}`),
  ]);
}

function configPath(node: string, s: Setting): string {
  return `/_node/${encodeURIComponent(node)}/_config/${encodeURIComponent(s.section)}/${encodeURIComponent(s.key)}`;
}

/**
 * Sets PAGE_SETTINGS on every node of the cluster (the config is per node). A server without
 * settings over HTTP (the embedded one) needs none: it sends no CSP and sends the challenge.
 * A caller who is not a server admin changes nothing and gets the lines an operator must set.
 */
export async function configureServer(
  url: string,
  log: (line: string) => void = () => undefined,
): Promise<ServerConfigReport> {
  const report: ServerConfigReport = { changed: [], unchanged: [], mustSet: [] };
  if (!(await capabilities(url)).serverConfig) {
    log('server settings: none needed (this server sends no CSP on attachments and sends a Basic challenge)');
    return report;
  }
  const membership = await http<{ cluster_nodes?: string[] }>(url, 'GET', '/_membership');
  const nodes =
    membership.status === 200 && membership.body.cluster_nodes?.length ? membership.body.cluster_nodes : ['_local'];
  for (const node of nodes) {
    for (const s of PAGE_SETTINGS) {
      const cur = await http<string | { error?: string }>(url, 'GET', configPath(node, s));
      if (cur.status === 401 || cur.status === 403) {
        report.mustSet.push(...iniLines());
        log(
          `server settings: not a server admin, nothing changed; the operator must set on every node (local.ini, or PUT /_node/<node>/_config/<section>/<key>):`,
        );
        for (const l of iniLines()) log(`  ${l}`);
        return report;
      }
      const old = cur.status === 200 && typeof cur.body === 'string' ? cur.body : null;
      const name = `${node} [${s.section}] ${s.key}`;
      if (old === s.value) {
        report.unchanged.push(name);
        continue;
      }
      const put = await http(url, 'PUT', configPath(node, s), { body: s.value });
      if (put.status !== 200) throw new Error(`setting ${name}: ${put.status} ${JSON.stringify(put.body)}`);
      report.changed.push(`${name}: ${old === null ? '(default)' : JSON.stringify(old)} -> ${JSON.stringify(s.value)}`);
      log(`server setting ${name} = ${s.value} (was ${old === null ? 'the default' : old})`);
    }
  }
  if (!report.changed.length)
    log(`server settings: CSP for the page and the Basic challenge already set on ${nodes.length} node(s)`);
  return report;
}

/** A CSP header's directives, lower-cased names, sources as written. */
export function parsePolicy(header: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of header.split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name && !out.has(name.toLowerCase())) out.set(name.toLowerCase(), sources);
  }
  return out;
}

/**
 * Why a page served with this `Content-Security-Policy` (null: none) cannot work, or null when
 * it can: its script and style sheet come from its own origin and it fetches from it.
 */
export function policyBlocksPage(header: string | null): string | null {
  if (header === null || !header.trim()) return null;
  const p = parsePolicy(header);
  const sandbox = p.get('sandbox');
  if (sandbox) {
    if (!sandbox.includes('allow-scripts'))
      return "the policy sandboxes the page without 'allow-scripts': its script never runs";
    if (!sandbox.includes('allow-same-origin'))
      return "the policy sandboxes the page without 'allow-same-origin': it cannot use its session";
  }
  const allowsSelf = (names: string[]): boolean => {
    const d = names.find((n) => p.has(n));
    if (!d) return true;
    const src = p.get(d)!;
    return src.includes("'self'") || src.includes('*');
  };
  if (!allowsSelf(['script-src-elem', 'script-src', 'default-src']))
    return "the policy does not allow scripts from 'self': the page's script is blocked";
  if (!allowsSelf(['style-src-elem', 'style-src', 'default-src']))
    return "the policy does not allow style sheets from 'self': the page is unstyled";
  if (!allowsSelf(['connect-src', 'default-src']))
    return "the policy does not allow fetches to 'self': the page cannot read its data";
  return null;
}
