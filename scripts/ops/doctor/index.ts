/**
 * `couchstage doctor [--json]`: checks a deployment and says what is wrong in plain words.
 * Server reachable; databases present (and not moved away), the service database closed to
 * everyone but agents and operators (server.ts); design documents current (the version stamp's
 * hash, and the content itself, which a stamp kept by hand would not vouch for; a leftover staged
 * copy: designs.ts); view indexes built, or how far behind (indexes.ts); the monitoring page's
 * Content-Security-Policy and the server's Basic challenge (page.ts, ops/server-config.ts); every
 * registered agent with a fresh heartbeat (agents.ts); every site's storage endpoints reachable
 * (storage.ts); the edges' outboxes, when any are configured (edge.ts). This file runs them in that order. Exit code 1 when anything is a problem.
 */
import { DESIGNS } from '../../../design';
import { checkAgents } from './agents';
import { checkDesigns } from './designs';
import { checkEdges } from './edge';
import { pageFindings } from './page';
import { checkDatabases, checkServer } from './server';
import { checkStorage } from './storage';
import type { DoctorOptions, Finding } from './types';

export type { DoctorOptions, Finding, Level } from './types';
export { checkEndpoint } from './storage';
export { indexState } from './indexes';
export { pageFindings } from './page';

export async function doctor(opts: DoctorOptions): Promise<Finding[]> {
  const out: Finding[] = [];
  const add = (f: Finding) => out.push(f);
  const now = (opts.now || new Date()).getTime();
  // Without a server nothing else can be checked.
  const server = await checkServer(opts.url);
  add(server);
  if (server.level !== 'ok') return out;
  const infos = await checkDatabases(opts, add);
  await checkDesigns(opts, infos, add);
  if (infos.transfers && (opts.designs || DESIGNS).some((d) => d.db === 'transfers' && d.name === 'monitor'))
    out.push(...(await pageFindings(opts.url, opts.dbs.transfers)));
  if (infos.transfers) await checkAgents(opts, now, add);
  if (infos.config) await checkStorage(opts, add);
  if (opts.edges?.length) await checkEdges(opts.edges, now, add);
  return out;
}

export function formatFindings(findings: readonly Finding[]): string[] {
  const mark = { ok: 'ok     ', warning: 'WARNING', problem: 'PROBLEM' };
  const lines = findings.map((f) => `${mark[f.level]} ${f.check.padEnd(8)} ${f.subject}: ${f.message}`);
  const problems = findings.filter((f) => f.level === 'problem').length;
  lines.push(problems ? `${problems} problem(s) found` : 'no problems found');
  return lines;
}
