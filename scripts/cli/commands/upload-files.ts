/**
 * The local half of `couchstage upload`: the files under the given paths, their LFNs and the
 * request's shape checked, the backend and each file's PFN at the site, and the copy itself. Apart
 * from the request handling (datahandling.ts) because none of it touches the database: it runs
 * before the request is written, and a refusal here copies and writes nothing.
 */
import * as fs from 'fs';
import * as path from 'path';
import { jsonOf, lfnProblem, dataRequestUserProblem } from '../../../views/lib/checks';
import { DataRequestMachine, type SiteDoc, type UploadFile } from '../../../views/schema';
import { createBackend, fileAdler32, gfal2Available } from '../../../agents/backends';
import { backendProtocols, pfnAt } from '../../../agents/lib/catalog-access';
import { flag, UsageError, type Args } from '../../client/args';

/** Regular files under `p` (recursively), with their path relative to `p` (a file: its name). */
function localFiles(p: string): { abs: string; rel: string }[] {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (err) {
    throw new UsageError(`cannot read ${p}: ${(err as Error).message}`);
  }
  if (st.isFile()) return [{ abs: path.resolve(p), rel: path.basename(p) }];
  if (!st.isDirectory()) throw new UsageError(`${p}: not a file or directory`);
  const out: { abs: string; rel: string }[] = [];
  const walk = (dir: string, rel: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const abs = path.join(dir, e.name);
      const r = rel ? rel + '/' + e.name : e.name;
      if (e.isDirectory()) walk(abs, r);
      else if (e.isFile()) out.push({ abs: path.resolve(abs), rel: r });
    }
  };
  walk(p, '');
  return out;
}

export interface UploadPlan {
  readonly dataset: string;
  readonly siteName: string;
  readonly locals: { abs: string; rel: string }[];
  readonly lfns: string[];
  /** Sizes, with a placeholder checksum: the real ones are computed just before the copy. */
  readonly files: UploadFile[];
}

/** The local files, their LFNs and the request's shape, checked before anything is copied. */
export function uploadPlan(args: Args, user: string): UploadPlan {
  if (!args.positional.length) throw new UsageError('upload needs local files or a directory');
  const dataset = flag(args, 'dataset');
  const siteName = flag(args, 'site');
  if (!dataset)
    throw new UsageError('dataset: an upload registers its files as a dataset: give --dataset /primary/processed/TIER');
  if (!siteName) throw new UsageError('sites: give --site SITE');
  const parts = dataset.split('/');
  const lfnDir = (flag(args, 'lfn-dir') || `/store/user/${user}/${parts[1]}/${parts[2]}`).replace(/\/+$/, '');
  const locals = args.positional.flatMap(localFiles);
  if (!locals.length) throw new UsageError('no files to upload');
  const lfns = locals.map((l) => lfnDir + '/' + l.rel);
  for (const lfn of lfns) {
    const p = lfnProblem('lfn', lfn);
    if (p) throw new UsageError(`${p} (${lfn})\nnothing was copied`);
  }
  // Check the request's shape first (sizes and checksums are filled in below).
  const files: UploadFile[] = locals.map((l, i) => ({
    lfn: lfns[i],
    size: fs.statSync(l.abs).size,
    adler32: '00000000',
  }));
  const pre = dataRequestUserProblem(
    jsonOf({
      type: 'request',
      kind: 'upload',
      user,
      sites: [siteName],
      dataset,
      files,
      created_at: new Date().toISOString(),
      state: DataRequestMachine.initial,
    }),
  );
  if (pre) throw new UsageError(pre + '\nnothing was copied');
  return { dataset, siteName, locals, lfns, files };
}

/** The backend `--backend` names (auto: gfal2 where it is installed), and each LFN's PFN at the site for it. */
export function uploadTargets(
  args: Args,
  site: SiteDoc,
  siteName: string,
  lfns: string[],
): { chosen: 'gfal2' | 'native'; pfns: (string | null)[] } {
  const backendName = (flag(args, 'backend') || 'auto') as 'auto' | 'gfal2' | 'native';
  if (!['auto', 'gfal2', 'native'].includes(backendName))
    throw new UsageError('--backend must be auto, gfal2 or native');
  const chosen = backendName === 'auto' ? (gfal2Available() ? 'gfal2' : 'native') : backendName;
  const supported = backendProtocols(chosen);
  const pfns = lfns.map((l) => pfnAt(site, l, supported));
  const unmapped = lfns.filter((_l, i) => !pfns[i]);
  if (unmapped.length)
    throw new UsageError(`no TFC rule of ${siteName} maps ${unmapped[0]} for backend ${chosen}\nnothing was copied`);
  return { chosen, pfns };
}

/** Copies the local files to their PFNs, adler32 checked; the files copied (with their checksums) and the failures. */
export async function copyUpload(
  chosen: 'gfal2' | 'native',
  locals: { abs: string; rel: string }[],
  pfns: (string | null)[],
  files: UploadFile[],
  lfns: string[],
): Promise<{ copied: UploadFile[]; failures: { lfn: string; error: string }[] }> {
  const sums = await Promise.all(locals.map((l) => fileAdler32(l.abs)));
  const backend = createBackend(chosen);
  let copied: UploadFile[];
  const failures: { lfn: string; error: string }[] = [];
  try {
    const results = await backend.copy(
      locals.map((l, i) => ({
        id: String(i),
        source: 'file://' + l.abs,
        destination: pfns[i]!,
        size: files[i].size,
        adler32: sums[i],
      })),
      { overwrite: true },
    );
    copied = [];
    results.forEach((r, i) => {
      if (r.ok) copied.push({ lfn: lfns[i], size: files[i].size, adler32: sums[i] });
      else failures.push({ lfn: lfns[i], error: r.error || 'copy failed' });
    });
  } finally {
    await backend.close();
  }
  return { copied, failures };
}
