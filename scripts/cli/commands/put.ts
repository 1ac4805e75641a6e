/**
 * `couchstage put LOCAL --lfn LFN --site SITE [--backend auto|gfal2|native] [--shell]`, or
 * `--random BYTES` in place of LOCAL: puts one file where a job would have left its output, at
 * the PFN the site's TFC gives for the LFN (the demo storage elements included), and prints its
 * size and adler32, the two values a transfer document must declare. `--shell` prints them as
 * `SIZE=... ADLER32=...` for `eval`, so a newcomer's first submission can be followed as written.
 * Only into the signed-in user's own source area (`/store/temp/user/<user>/`, or what the site's
 * namespaces say): the same rule validate_doc_update applies to `source_lfn`.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createBackend, fileAdler32, gfal2Available } from '../../../agents/backends';
import { backendProtocols, pfnAt } from '../../../agents/lib/catalog-access';
import { lfnProblem } from '../../../views/lib/checks';
import { groupsOf, namespacesOf, ownerAreaProblem } from '../../../views/lib/namespace';
import { flag, UsageError, type Args } from '../../client/args';
import { whoami, type Context } from '../../client/context';
import { sitesExist } from './datahandling';

export async function runPut(ctx: Context, args: Args): Promise<number> {
  const lfn = flag(args, 'lfn');
  const siteName = flag(args, 'site');
  const random = flag(args, 'random');
  const local = args.positional[0];
  if (!lfn || !siteName) throw new UsageError('put needs --lfn and --site (couchstage put --help)');
  if ((local === undefined) === (random === undefined))
    throw new UsageError('put takes a local file or --random BYTES, one of the two (couchstage put --help)');
  if (args.positional.length > 1) throw new UsageError('put copies one file at a time');
  const bad = lfnProblem('lfn', lfn);
  if (bad) throw new UsageError(`${bad}\nnothing was copied`);
  let size: number;
  if (random !== undefined) {
    size = Number(random);
    if (!Number.isInteger(size) || size < 0 || size > 1024 ** 3)
      throw new UsageError('--random: a number of bytes from 0 to 1073741824');
  } else {
    let st: fs.Stats;
    try {
      st = fs.statSync(local!);
    } catch {
      throw new UsageError(`${local}: no such file`);
    }
    if (!st.isFile()) throw new UsageError(`${local}: not a regular file`);
    size = st.size;
  }
  const me = await whoami(ctx);
  if (!me.name)
    throw new UsageError('sign in first (COUCHSTAGE_USER and COUCHSTAGE_PASSWORD, or credentials in COUCHDB_URL)');
  const site = (await sitesExist(ctx, [siteName])).get(siteName)!;
  const area = ownerAreaProblem('lfn', lfn, namespacesOf(site).source, me.name, groupsOf(me.roles));
  if (area) throw new UsageError(`${area}\nnothing was copied`);
  const backendName = (flag(args, 'backend') || 'auto') as 'auto' | 'gfal2' | 'native';
  if (!['auto', 'gfal2', 'native'].includes(backendName))
    throw new UsageError('--backend must be auto, gfal2 or native');
  const chosen = backendName === 'auto' ? (gfal2Available() ? 'gfal2' : 'native') : backendName;
  const pfn = pfnAt(site, lfn, backendProtocols(chosen));
  if (!pfn) throw new UsageError(`no TFC rule of ${siteName} maps ${lfn} for backend ${chosen}\nnothing was copied`);

  let tmp: string | null = null;
  let source = local ? path.resolve(local) : '';
  if (random !== undefined) {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-put-'));
    source = path.join(tmp, path.basename(lfn));
    fs.writeFileSync(source, randomBytes(size));
  }
  const backend = createBackend(chosen);
  try {
    const adler32 = await fileAdler32(source);
    const [r] = await backend.copy([{ id: '0', source: 'file://' + source, destination: pfn, size, adler32 }], {
      overwrite: true,
    });
    if (!r.ok) throw new Error(`copy to ${pfn} failed: ${r.error || 'no reason given'}`);
    if (args.flags.shell === true) ctx.out(`SIZE=${size} ADLER32=${adler32} PFN='${pfn.replace(/'/g, "'\\''")}'`);
    else if (ctx.json) ctx.out(JSON.stringify({ lfn, site: siteName, pfn, size, adler32 }));
    else ctx.out(`put ${lfn} on ${siteName} (${pfn}): size ${size}, adler32 ${adler32}`);
    return 0;
  } finally {
    await backend.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
}
