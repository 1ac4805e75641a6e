/**
 * The server settings the monitoring page needs, on either server: deploy (as server admin) sets
 * a strict Content-Security-Policy for attachments and the Basic challenge where the server has
 * settings (CouchDB), and needs none where it has not (the embedded server sends no CSP and the
 * same challenge); a caller who is not a server admin changes nothing and is told what to set;
 * doctor reads the policy the page is really served with and says when it would block the page.
 */
import { createTestEnv, type TestEnv } from '../../support/env';
import { capabilities, type Capabilities } from '../../../agents/platform/capabilities';
import {
  CHALLENGE,
  configureServer,
  iniLines,
  PAGE_POLICY,
  PAGE_SETTINGS,
  policyBlocksPage,
} from '../../../scripts/ops/server-config';
import { doctor, pageFindings } from '../../../scripts/ops/doctor';
import { http } from '../../../scripts/ops/http';
import { WWW_AUTHENTICATE } from '../../../scripts/server';

let env: TestEnv;
let caps: Capabilities;

beforeAll(async () => {
  env = await createTestEnv();
  caps = await capabilities(env.adminUrl);
}, 120_000);

afterAll(async () => {
  await env?.cleanup();
});

function pageUrl(): string {
  return `${env.baseUrl}/${env.dbs.transfers}/_design/monitor/index.html`;
}

async function nodeSettings(): Promise<string[]> {
  const nodes = (await http<{ cluster_nodes: string[] }>(env.adminUrl, 'GET', '/_membership')).body.cluster_nodes;
  const out: string[] = [];
  for (const node of nodes) {
    for (const s of PAGE_SETTINGS)
      out.push(
        `${node} ${s.section}/${s.key}=${JSON.stringify((await http(env.adminUrl, 'GET', `/_node/${node}/_config/${s.section}/${encodeURIComponent(s.key)}`)).body)}`,
      );
  }
  return out;
}

describe('the page policy', () => {
  it('blocks nothing the page needs and allows no inline script or eval', () => {
    expect(policyBlocksPage(PAGE_POLICY)).toBeNull();
    expect(policyBlocksPage(null)).toBeNull();
    const p = PAGE_POLICY.split(';').map((d) => d.trim());
    expect(p).toContain("script-src 'self'");
    expect(PAGE_POLICY).not.toMatch(/unsafe-(inline|eval)|\*|sandbox|data:/);
  });

  it.each([
    ['sandbox', /allow-scripts/],
    ['sandbox allow-scripts', /allow-same-origin/],
    ["default-src 'none'", /scripts/],
    ["default-src 'self'; script-src 'none'", /scripts/],
    ["script-src 'self'; style-src https://cdn.example", /style/],
    ["default-src 'self'; connect-src https://elsewhere", /fetches/],
  ])('names why %j blocks the page', (policy, why) => {
    expect(policyBlocksPage(policy)).toMatch(why);
  });

  it('lets the same challenge through as the embedded server sends', () => {
    expect(CHALLENGE).toBe(WWW_AUTHENTICATE);
  });
});

describe('deploy and doctor', () => {
  it('serves the page with the strict policy (or none) and challenges an anonymous browser', async () => {
    const res = await fetch(pageUrl(), {
      headers: { Authorization: 'Basic ' + Buffer.from(`${env.names.owner}:${env.password}`).toString('base64') },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toBe(caps.serverConfig ? PAGE_POLICY : null);
    const anon = await fetch(pageUrl());
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toBe(CHALLENGE);
    // What this deploy set or found set, per node; nothing where the server has no settings.
    const r = env.deployReport.server;
    expect(r.mustSet).toEqual([]);
    if (caps.serverConfig) {
      const nodes = (await http<{ cluster_nodes: string[] }>(env.adminUrl, 'GET', '/_membership')).body.cluster_nodes;
      expect(r.changed.length + r.unchanged.length).toBe(nodes.length * PAGE_SETTINGS.length);
    } else expect(r.changed.length + r.unchanged.length).toBe(0);
    // A second run changes nothing.
    const again = await configureServer(env.adminUrl);
    expect(again.changed).toEqual([]);
  });

  it('without server-admin rights changes nothing and names what the operator must set', async () => {
    const before = caps.serverConfig ? await nodeSettings() : [];
    const lines: string[] = [];
    const r = await configureServer(env.urlAs('ops'), (l) => lines.push(l));
    expect(r.changed).toEqual([]);
    expect(r.mustSet).toEqual(caps.serverConfig ? iniLines() : []);
    if (caps.serverConfig) {
      expect(lines.join('\n')).toContain(`attachments_header_value = ${PAGE_POLICY}`);
      expect(lines.join('\n')).toContain(`WWW-Authenticate = ${CHALLENGE}`);
      expect(await nodeSettings()).toEqual(before);
    }
  });

  it('doctor finds the page served as it can run', async () => {
    const findings = await doctor({ url: env.adminUrl, dbs: env.dbs, agents: [] });
    const page = findings.filter((f) => f.check === 'page');
    expect(page.map((f) => f.level)).toEqual(['ok']);
    expect(page[0].message).toMatch(
      caps.serverConfig ? /Content-Security-Policy lets the page run/ : /without a Content-Security-Policy/,
    );
  });

  it('doctor names a missing page as a problem', async () => {
    const findings = await pageFindings(env.adminUrl, env.dbs.transfers + '_nothing');
    expect(findings.map((f) => `${f.level} ${f.message}`)).toEqual([
      'problem the page answers 404: run "couchstage deploy"',
    ]);
  });
});
