/**
 * `couchstage catalog <query> ... [--json]`: the catalogue's queries (scripts/catalog/queries.ts)
 * and the local -> global migration (scripts/catalog/migrate.ts). Every query is read-only.
 */
import { connect } from '../../agents/lib/couch';
import { withoutCredentials } from '../../agents/lib/config';
import * as q from '../catalog/queries';
import { migrate } from '../catalog/migrate';
import { flag, UsageError, type Args } from './args';
import type { Context } from './context';

export const CATALOG_HELP = `couchstage catalog <query> [--json]
  datasets [GLOB]            datasets whose name matches (* and ?), e.g. '/GenericTTbar/*/USER'
  blocks DATASET             blocks of a dataset (open/closed, files, bytes)
  files DATASET [--block B]  files of a dataset or of one of its blocks
  guid LFN                   LFN -> GUID
  lfn GUID                   GUID -> LFN
  replicas LFN               sites holding a file, with PFNs per protocol (from the TFC rules)
  locations BLOCK            sites holding a block (complete when they hold all its files)
  parents NAME | children NAME   parentage of a file (LFN) or dataset
  site SITE                  datasets at a site
  ls DIR                     files and subdirectories of an LFN directory, with sizes
  usage [--user U]           bytes and files per user (catalogue replicas) beside their quota
  migrate --to DB|URL        move closed blocks (files, replicas, datasets) to a global catalogue`;

function need(args: Args, i: number, what: string): string {
  const v = args.positional[i];
  if (!v) throw new UsageError(`catalog ${args.positional[0]}: needs ${what}`);
  return v;
}

function human(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u ? v.toFixed(1) : v} ${units[u]}`;
}

/** `--to`: a database name on this server, or the URL of a database on another one. */
function targetOf(ctx: Context, to: string): { server: ReturnType<typeof connect>; url: string; db: string } {
  if (/^https?:\/\//.test(to)) {
    const u = new URL(to);
    const db = decodeURIComponent(u.pathname.replace(/^\/+|\/+$/g, ''));
    if (!db || db.includes('/')) throw new UsageError('--to URL must name a database: http://user:pass@host:5984/global_catalog');
    u.pathname = '/';
    const url = u.toString().replace(/\/+$/, '');
    return { server: connect(url), url, db };
  }
  if (!/^[a-z][a-z0-9_$()+/-]*$/.test(to)) throw new UsageError(`--to: "${to}" is not a database name`);
  return { server: ctx.server, url: ctx.url, db: to };
}

export async function runCatalog(ctx: Context, args: Args): Promise<number> {
  const c: q.Catalog = { catalog: ctx.server.use(ctx.cfg.dbs.catalog), config: ctx.server.use(ctx.cfg.dbs.config) };
  const sub = args.positional[0];
  const print = (value: unknown, text: () => string[]) => {
    if (ctx.json) ctx.out(JSON.stringify(value, null, 2));
    else for (const line of text()) ctx.out(line);
    return 0;
  };
  switch (sub) {
    case 'datasets': {
      const list = await q.datasets(c, args.positional[1] || '*');
      return print(list, () => list.map((d) => `${d.name}  ${d.access_type}  ${d.owner}`));
    }
    case 'blocks': {
      const list = await q.blocks(c, need(args, 1, 'a dataset name'));
      return print(list, () => list.map((b) => `${b.name}  ${b.open ? 'open' : 'closed'}  ${b.file_count} files  ${human(b.total_size)}  ${b.origin_site}`));
    }
    case 'files': {
      const list = await q.files(c, need(args, 1, 'a dataset name'), flag(args, 'block'));
      return print(list, () => list.map((f) => `${f.lfn}  ${f.size}  ${f.block}`));
    }
    case 'guid': {
      const e = await q.lfnToGuid(c, need(args, 1, 'an LFN'));
      if (!e) return notFound(ctx, args.positional[1]);
      return print(e, () => [e.guid]);
    }
    case 'lfn': {
      const e = await q.guidToLfn(c, need(args, 1, 'a GUID'));
      if (!e) return notFound(ctx, args.positional[1]);
      return print(e, () => [e.lfn]);
    }
    case 'replicas': {
      const list = await q.replicas(c, need(args, 1, 'an LFN'));
      return print(list, () => list.flatMap((r) => [`${r.site}  ${r.size}`, ...Object.entries(r.pfns).map(([p, u]) => `  ${p}: ${u}`)]));
    }
    case 'locations': {
      const list = await q.blockLocations(c, need(args, 1, 'a block name'));
      return print(list, () => list.map((l) => `${l.site}  ${l.files} files  ${human(l.bytes)}  ${l.complete ? 'complete' : 'partial'}`));
    }
    case 'parents':
    case 'children': {
      const p = await q.parentage(c, need(args, 1, 'an LFN or a dataset name'));
      if (!p) return notFound(ctx, args.positional[1]);
      const list = sub === 'parents' ? p.parents : p.children;
      return print({ kind: p.kind, name: p.name, [sub]: list }, () => list);
    }
    case 'site': {
      const list = await q.datasetsAtSite(c, need(args, 1, 'a site name'));
      return print(list, () => list.map((d) => `${d.dataset}  ${d.files} files  ${human(d.bytes)}  ${d.complete_blocks}/${d.blocks} blocks complete`));
    }
    case 'ls': {
      const list = await q.ls(c, need(args, 1, 'an LFN directory'));
      return print(list, () => list.map((e) => `${e.directory ? 'd' : '-'} ${String(e.bytes).padStart(14)} ${e.directory ? String(e.files).padStart(7) + ' files' : '           '}  ${e.name}`));
    }
    case 'usage': {
      const list = await q.usage(c, flag(args, 'user'));
      return print(list, () => list.map((u) => `${u.user}  ${u.files} files  ${human(u.bytes)}` +
        (u.quota ? `  quota ${u.quota.max_files} files, ${human(u.quota.max_bytes)} (${Math.round((100 * u.bytes) / Math.max(1, u.quota.max_bytes))}% used)` : '  no quota')));
    }
    case 'migrate': {
      const to = flag(args, 'to');
      if (!to) throw new UsageError('catalog migrate: needs --to <database or URL>');
      const target = targetOf(ctx, to);
      if (target.db === ctx.cfg.dbs.catalog && withoutCredentials(target.url) === withoutCredentials(ctx.url)) throw new UsageError('--to is the local catalogue itself');
      const report = await migrate({ source: { server: ctx.server, url: ctx.url, db: ctx.cfg.dbs.catalog }, target, log: ctx.json ? undefined : ctx.out });
      print(report, () => [`${report.blocks} blocks (${report.files} files, ${report.replicas} replicas, ${report.datasets} datasets) migrated in ${report.ms} ms; ${report.already_there} of ${report.closed_blocks} closed blocks were already there`,
        ...report.failed_blocks.map((f) => `  failed: ${f.block}: ${f.error}`)]);
      return report.failed_blocks.length ? 1 : 0;
    }
    default:
      throw new UsageError(sub ? `unknown catalog query "${sub}"\n${CATALOG_HELP}` : CATALOG_HELP);
  }
}

function notFound(ctx: Context, what: string): number {
  if (ctx.json) ctx.out('null');
  else ctx.out(`${what}: not in the catalogue`);
  return 1;
}
