/**
 * `couchstage catalog <query> ... [--json]`: the catalogue's queries (scripts/client/catalog.ts)
 * and the local -> global migration (scripts/ops/catalog-migrate.ts). Every query is read-only.
 */
import { connect } from '../../../agents/platform/couch';
import { withoutCredentials } from '../../../agents/platform/config';
import * as q from '../../client/catalog';
import { migrate } from '../../ops/catalog-migrate';
import { flag, UsageError, type Args } from '../../client/args';
import type { Context } from '../../client/context';
import { formatSize, table } from './format';

export const CATALOG_HELP = `Usage: couchstage catalog <query> [--json]
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
  migrate --to DB|URL        move closed blocks (files, replicas, datasets) to a global catalogue
A dataset, block or site that does not exist is an error (exit 1; --json prints null), not an empty answer.`;

function need(args: Args, i: number, what: string): string {
  const v = args.positional[i];
  if (!v) throw new UsageError(`catalog ${args.positional[0]}: needs ${what}`);
  return v;
}

/** `--to`: a database name on this server, or the URL of a database on another one. */
function targetOf(ctx: Context, to: string): { server: ReturnType<typeof connect>; url: string; db: string } {
  if (/^https?:\/\//.test(to)) {
    const u = new URL(to);
    const db = decodeURIComponent(u.pathname.replace(/^\/+|\/+$/g, ''));
    if (!db || db.includes('/'))
      throw new UsageError('--to URL must name a database: http://user:pass@host:5984/global_catalog');
    u.pathname = '/';
    const url = u.toString().replace(/\/+$/, '');
    return { server: connect(url), url, db };
  }
  if (!/^[a-z][a-z0-9_$()+/-]*$/.test(to)) throw new UsageError(`--to: "${to}" is not a database name`);
  return { server: ctx.server, url: ctx.url, db: to };
}

/** One catalogue query: prints its answer (text or --json) and gives the exit code. */
type Query = (c: q.Catalog, ctx: Context, args: Args) => Promise<number>;

/** The answer as JSON with --json, else as the lines `text` makes of it. */
function print(ctx: Context, value: unknown, text: () => string[]): number {
  if (ctx.json) ctx.out(JSON.stringify(value, null, 2));
  else for (const line of text()) ctx.out(line);
  return 0;
}

const datasets: Query = async (c, ctx, args) => {
  const list = await q.datasets(c, args.positional[1] || '*');
  return print(ctx, list, () => table(list.map((d) => [d.name, d.access_type, d.owner])));
};

const blocks: Query = async (c, ctx, args) => {
  const dataset = need(args, 1, 'a dataset name');
  const list = await q.blocks(c, dataset);
  if (!list.length && !(await q.datasetExists(c, dataset)))
    return notFound(ctx, `dataset ${dataset}: not in the catalogue`);
  return print(ctx, list, () =>
    table(
      [
        ['block', 'state', 'files', 'size', 'origin'],
        ...list.map((b) => [b.name, b.open ? 'open' : 'closed', b.file_count, formatSize(b.total_size), b.origin_site]),
      ],
      [2, 3],
    ),
  );
};

const files: Query = async (c, ctx, args) => {
  const dataset = need(args, 1, 'a dataset name');
  const block = flag(args, 'block');
  const list = await q.files(c, dataset, block);
  if (!list.length) {
    if (!(await q.datasetExists(c, dataset))) return notFound(ctx, `dataset ${dataset}: not in the catalogue`);
    if (block !== undefined) {
      const b = (await q.visibleBlocks(c, [block])).get(block);
      if (!b) return notFound(ctx, `block ${block}: not in the catalogue`);
      if (b.dataset !== dataset)
        return notFound(ctx, `block ${block}: not a block of ${dataset} (it is of ${b.dataset})`);
    }
  }
  return print(ctx, list, () =>
    table([['lfn', 'size', 'block'], ...list.map((f) => [f.lfn, formatSize(f.size), f.block])], [1]),
  );
};

const guid: Query = async (c, ctx, args) => {
  const e = await q.lfnToGuid(c, need(args, 1, 'an LFN'));
  if (!e) return notFound(ctx, `${args.positional[1]}: not in the catalogue`);
  return print(ctx, e, () => [e.guid]);
};

const lfn: Query = async (c, ctx, args) => {
  const e = await q.guidToLfn(c, need(args, 1, 'a GUID'));
  if (!e) return notFound(ctx, `${args.positional[1]}: not in the catalogue`);
  return print(ctx, e, () => [e.lfn]);
};

const replicas: Query = async (c, ctx, args) => {
  const name = need(args, 1, 'an LFN');
  const list = await q.replicas(c, name);
  if (!list.length && !(await q.lfnToGuid(c, name))) return notFound(ctx, `file ${name}: not in the catalogue`);
  return print(ctx, list, () =>
    list.flatMap((r) => [
      `${r.site}  ${formatSize(r.size)}`,
      ...table(Object.entries(r.pfns).map(([p, u]) => [p + ':', u])).map((l) => '  ' + l),
    ]),
  );
};

const locations: Query = async (c, ctx, args) => {
  const block = need(args, 1, 'a block name');
  const list = await q.blockLocations(c, block);
  if (!list.length && !(await q.visibleBlocks(c, [block])).size)
    return notFound(ctx, `block ${block}: not in the catalogue`);
  return print(ctx, list, () =>
    table(
      [
        ['site', 'files', 'size', 'copy'],
        ...list.map((l) => [l.site, l.files, formatSize(l.bytes), l.complete ? 'complete' : 'partial']),
      ],
      [1, 2],
    ),
  );
};

/** `parents` and `children`: one side of a file's or dataset's parentage. */
const parentage =
  (side: 'parents' | 'children'): Query =>
  async (c, ctx, args) => {
    const p = await q.parentage(c, need(args, 1, 'an LFN or a dataset name'));
    if (!p) return notFound(ctx, `${args.positional[1]}: not in the catalogue`);
    const list = side === 'parents' ? p.parents : p.children;
    return print(ctx, { kind: p.kind, name: p.name, [side]: list }, () => list);
  };

const site: Query = async (c, ctx, args) => {
  const name = need(args, 1, 'a site name');
  const list = await q.datasetsAtSite(c, name);
  if (!list.length && !(await q.siteExists(c, name)))
    return notFound(ctx, `site ${name}: not configured (no site:${name} in the config database)`);
  return print(ctx, list, () =>
    table(
      [
        ['dataset', 'files', 'size', 'complete blocks'],
        ...list.map((d) => [d.dataset, d.files, formatSize(d.bytes), `${d.complete_blocks}/${d.blocks}`]),
      ],
      [1, 2, 3],
    ),
  );
};

const ls: Query = async (c, ctx, args) => {
  const list = await q.ls(c, need(args, 1, 'an LFN directory'));
  return print(ctx, list, () =>
    table(
      list.map((e) => [e.directory ? 'd' : '-', formatSize(e.bytes), e.directory ? `${e.files} files` : '', e.name]),
      [1, 2],
    ),
  );
};

const usage: Query = async (c, ctx, args) => {
  const list = await q.usage(c, flag(args, 'user'));
  return print(ctx, list, () =>
    table(
      [
        ['user', 'files', 'size', 'quota'],
        ...list.map((u) => [
          u.user,
          u.files,
          formatSize(u.bytes),
          u.quota
            ? `${u.quota.max_files} files, ${formatSize(u.quota.max_bytes)} (${Math.round((100 * u.bytes) / Math.max(1, u.quota.max_bytes))}% used)`
            : 'none',
        ]),
      ],
      [1, 2],
    ),
  );
};

/** Not a query: moves closed blocks to a global catalogue (scripts/ops/catalog-migrate.ts). */
const migrateTo: Query = async (_c, ctx, args) => {
  const to = flag(args, 'to');
  if (!to) throw new UsageError('catalog migrate: needs --to <database or URL>');
  const target = targetOf(ctx, to);
  if (target.db === ctx.cfg.dbs.catalog && withoutCredentials(target.url) === withoutCredentials(ctx.url))
    throw new UsageError('--to is the local catalogue itself');
  const report = await migrate({
    source: { server: ctx.server, url: ctx.url, db: ctx.cfg.dbs.catalog },
    target,
    log: ctx.json ? undefined : ctx.out,
  });
  print(ctx, report, () => [
    `${report.blocks} blocks (${report.files} files, ${report.replicas} replicas, ${report.datasets} datasets) migrated in ${report.ms} ms; ${report.already_there} of ${report.closed_blocks} closed blocks were already there`,
    ...report.failed_blocks.map((f) => `  failed: ${f.block}: ${f.error}`),
  ]);
  return report.failed_blocks.length ? 1 : 0;
};

/** Every subcommand of `couchstage catalog`, as CATALOG_HELP lists them. */
const QUERIES: ReadonlyMap<string, Query> = new Map([
  ['datasets', datasets],
  ['blocks', blocks],
  ['files', files],
  ['guid', guid],
  ['lfn', lfn],
  ['replicas', replicas],
  ['locations', locations],
  ['parents', parentage('parents')],
  ['children', parentage('children')],
  ['site', site],
  ['ls', ls],
  ['usage', usage],
  ['migrate', migrateTo],
]);

export async function runCatalog(ctx: Context, args: Args): Promise<number> {
  const c: q.Catalog = { catalog: ctx.server.use(ctx.cfg.dbs.catalog), config: ctx.server.use(ctx.cfg.dbs.config) };
  const sub = args.positional[0];
  const query = sub === undefined ? undefined : QUERIES.get(sub);
  if (!query) throw new UsageError(sub ? `unknown catalog query "${sub}"\n${CATALOG_HELP}` : CATALOG_HELP);
  return await query(c, ctx, args);
}

/** What was named does not exist: unlike an empty answer, exit 1 (and `null` for --json). */
function notFound(ctx: Context, message: string): number {
  if (ctx.json) ctx.out('null');
  else ctx.out(message);
  return 1;
}
