/**
 * The doctor's storage check: every site's storage endpoints reachable (root:// by `xrdfs stat`,
 * file:// on the filesystem). checkEndpoint is also what the XRootD backend's tests use.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import { dbPath, http } from '../http';
import type { DoctorOptions, Finding } from './types';

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as NodeJS.ErrnoException).code === 'number'
          ? Number((err as NodeJS.ErrnoException).code)
          : 1
        : 0;
      resolve({ code, out: (String(stdout) + String(stderr)).trim() || (err ? err.message : '') });
    });
  });
}

/** Checks one storage endpoint URL; null when the protocol has no check here. */
export async function checkEndpoint(
  endpoint: string,
  timeoutMs = 10_000,
): Promise<{ ok: boolean; message: string } | null> {
  const u = new URL(endpoint);
  if (u.protocol === 'file:') {
    try {
      const st = fs.statSync(decodeURIComponent(u.pathname));
      return st.isDirectory()
        ? { ok: true, message: 'directory present' }
        : { ok: false, message: `${u.pathname} is not a directory` };
    } catch (err) {
      return { ok: false, message: `${u.pathname}: ${(err as NodeJS.ErrnoException).code || (err as Error).message}` };
    }
  }
  if (u.protocol === 'root:' || u.protocol === 'xroot:') {
    const host = `${u.protocol}//${u.host}`;
    const p = u.pathname.replace(/^\/+/, '/') || '/';
    // An SE need not export `/` (ours export only their namespace): a bare endpoint asks the server itself.
    const args = p === '/' ? ['query', 'config', 'version'] : ['stat', p];
    const res = await run('xrdfs', [host, ...args], timeoutMs);
    return res.code === 0
      ? { ok: true, message: `xrdfs ${args[0]} ok` }
      : { ok: false, message: `xrdfs ${args.join(' ')} failed: ${res.out.split('\n').pop()}` };
  }
  return null;
}

/** Every endpoint of every site in the config database. */
export async function checkStorage(opts: DoctorOptions, add: (f: Finding) => void): Promise<void> {
  const sites = await http<{ rows: { doc?: { name?: string; endpoints?: Record<string, string> } }[] }>(
    opts.url,
    'GET',
    `${dbPath(opts.dbs.config)}/_all_docs?include_docs=true&startkey=${encodeURIComponent('"site:"')}&endkey=${encodeURIComponent('"site;"')}`,
  );
  for (const row of sites.body.rows || []) {
    const site = row.doc;
    if (!site || !site.endpoints) continue;
    for (const [proto, endpoint] of Object.entries(site.endpoints)) {
      const subject = `${site.name} ${endpoint}`;
      let res;
      try {
        res = await checkEndpoint(endpoint, opts.storageTimeoutMs);
      } catch (err) {
        res = { ok: false, message: (err as Error).message };
      }
      if (!res)
        add({ check: 'storage', subject, level: 'warning', message: `no reachability check for ${proto} endpoints` });
      else
        add({
          check: 'storage',
          subject,
          level: res.ok ? 'ok' : 'problem',
          message: res.ok ? res.message : `storage element unreachable: ${res.message}`,
        });
    }
  }
}
