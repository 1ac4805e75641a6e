/**
 * `npm run bench:edge [-- N] [--couchdb]`: what an edge costs and what it saves, in one run on one
 * engine. Central is the bench server (server.ts); one `couchstage edge` process for T2_CH_CERN
 * reaches it through a link this benchmark can cut (link.ts). Its store: its own embedded server
 * (users copied from central) on the embedded engine; on CouchDB, databases of their own on the
 * same node (a site's CouchDB given by URL). Agents: scheduler and retrier, one worker, instant
 * backend. Figures:
 *   1. submission latency, p50/p99 of single PUTs from 200 concurrent clients, centrally and at the
 *      edge (N files each, default 2,000);
 *   2. the extra hop in the control plane: PUT-to-done (seen centrally) p50/p99 of those files,
 *      and for the edge's also PUT-to-done as the edge shows it;
 *   3. the drain after an outage: N files submitted at the edge while its link is cut for
 *      `--outage S` seconds (default 120), then files/s from the link's return to all done
 *      centrally, and to all done at the edge.
 * Prints figures with the engine and the load average; asserts nothing.
 */
import { spawn, type ChildProcess } from 'child_process';
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { logLevel, projectRoot, withCredentials, withoutCredentials } from '../../agents/platform/config';
import { connect } from '../../agents/platform/couch';
import { DocId, EDGE_SITE_ROLE_PREFIX, Role, TransferState, dbNames } from '../../views/schema';
import { deploy } from '../deploy';
import { openLink } from './link';
import { benchServer } from './server';

const CLIENTS = 200;
const SITE = 'T2_CH_CERN';
const DEST = 'T1_US_FNAL';

type Doc = Record<string, unknown> & { _id: string };

function files(n: number, user: string, tag: string): Doc[] {
  return Array.from({ length: n }, (_, i) => {
    const source_lfn = `/store/temp/user/${user}/${tag}/out_${i}.root`;
    return {
      _id: createHash('sha224').update(source_lfn).digest('hex'),
      type: 'transfer',
      user,
      workflow: tag,
      jobid: String(i),
      job_retry_count: 0,
      file_type: 'output',
      source: SITE,
      destination: DEST,
      source_lfn,
      destination_lfn: source_lfn.replace('/temp/', '/'),
      size: 1000,
      checksums: { adler32: '0badcafe' },
      publish: false,
      priority: 3,
      state: TransferState.new,
      created_at: new Date().toISOString(),
    };
  });
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const ms = (v: number) => `${v.toFixed(0)} ms`;
const s = (v: number) => `${(v / 1000).toFixed(2)} s`;

/** PUTs every document from CLIENTS clients at once; each PUT's start and its latency (ms). */
async function putAll(dbUrl: string, auth: string, docs: Doc[]): Promise<{ at: Map<string, number>; lat: number[] }> {
  const at = new Map<string, number>();
  const lat: number[] = [];
  let next = 0;
  const client = async () => {
    while (next < docs.length) {
      const d = docs[next++];
      const t0 = performance.now();
      at.set(d._id, t0);
      const res = await fetch(`${dbUrl}/${d._id}`, {
        method: 'PUT',
        headers: { Authorization: auth, 'Content-Type': 'application/json' },
        body: JSON.stringify(d),
      });
      await res.arrayBuffer();
      if (res.status !== 201) throw new Error(`PUT ${d._id}: ${res.status}`);
      lat.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, client));
  return { at, lat: lat.sort((a, b) => a - b) };
}

/** Polls `dbUrl` until every id is done; when each was first seen done (performance.now()). */
async function seenDone(dbUrl: string, auth: string, ids: string[]): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  while (seen.size < ids.length) {
    const left = ids.filter((id) => !seen.has(id));
    for (let i = 0; i < left.length; i += 2000) {
      const res = await fetch(`${dbUrl}/_all_docs?include_docs=true`, {
        method: 'POST',
        headers: { Authorization: auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({ keys: left.slice(i, i + 2000) }),
      });
      const body = (await res.json()) as { rows: { id: string; doc?: { state?: string } }[] };
      const now = performance.now();
      for (const r of body.rows) if (r.doc?.state === 'done') seen.set(r.id, now);
    }
    if (seen.size < ids.length) await new Promise((r) => setTimeout(r, 250));
  }
  return seen;
}

function latencies(at: Map<string, number>, seen: Map<string, number>): string {
  const l = [...seen].map(([id, t]) => t - at.get(id)!).sort((a, b) => a - b);
  return `p50 ${s(pct(l, 50))}, p99 ${s(pct(l, 99))}`;
}

const basic = (name: string, pw: string) => 'Basic ' + Buffer.from(`${name}:${pw}`).toString('base64');

function spawnEdge(env: NodeJS.ProcessEnv, args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [path.join(projectRoot(), 'dist', 'cli.js'), 'edge', ...args], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b) => {
      out += String(b);
      const m = /jobs PUT to (http:\S+?)\/[^/\s]+\/<id>/.exec(out);
      if (m) resolve({ child, url: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`edge exited ${code}: ${out}`)));
  });
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] || 2000);
  const o = process.argv.indexOf('--outage');
  const outageS = o > 0 ? Number(process.argv[o + 1]) : 120;
  if (!(outageS > 0)) throw new Error(`--outage: seconds, a positive number, got "${process.argv[o + 1]}"`);
  const server = await benchServer();
  const tag = randomBytes(4).toString('hex');
  const prefix = `bench_${tag}_`;
  const dbs = dbNames(prefix);
  const base = withoutCredentials(server.url);
  const u = { user: `bench_${tag}`, agent: `bench_agent_${tag}`, ops: `bench_ops_${tag}`, edge: `bench_edge_${tag}` };
  const children: ChildProcess[] = [];
  const edgeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-bench-edge-'));
  const link = await openLink(base);
  try {
    await deploy({
      url: server.url,
      dbs,
      version: 'bench',
      users: [
        { name: u.user, password: tag, roles: [Role.user] },
        { name: u.agent, password: tag, roles: [Role.agent] },
        { name: u.ops, password: tag, roles: [Role.ops] },
        { name: u.edge, password: tag, roles: [Role.edge, EDGE_SITE_ROLE_PREFIX + SITE] },
      ],
    });
    const site = (name: string) => ({
      _id: DocId.site(name),
      type: 'site',
      name,
      endpoints: { file: `file:///bench/${name}` },
      tfc: [{ protocol: 'file', path_match: '/+(.*)', result: `file:///bench/${name}/$1` }],
    });
    const link1 = { _id: `link:${SITE}:${DEST}`, type: 'link', source: SITE, destination: DEST, max_active: 5000 };
    await connect(withCredentials(base, u.ops, tag))
      .use(dbs.config)
      .bulk({ docs: [site(SITE), site(DEST), link1] });
    const agentEnv = {
      ...process.env,
      COUCHDB_URL: withCredentials(base, u.agent, tag),
      COUCHSTAGE_DB_PREFIX: prefix,
      COUCHSTAGE_LOG_LEVEL: logLevel(process.env, 'warn'),
    };
    const cli = path.join(projectRoot(), 'dist', 'cli.js');
    for (const a of [['scheduler,retrier'], ['worker', '--backend', 'instant']])
      children.push(
        spawn(process.execPath, [cli, 'agent', ...a], { env: agentEnv, stdio: ['ignore', 'ignore', 'inherit'] }),
      );
    const couch = server.kind === 'couchdb';
    const edgePrefix = couch ? `${prefix}edge_` : prefix;
    const edge = await spawnEdge(
      {
        ...process.env,
        COUCHSTAGE_DB_PREFIX: prefix,
        COUCHSTAGE_DATA_DIR: edgeDir,
        ...(couch ? {} : { COUCHSTAGE_EDGE_USERS_FROM: server.url }),
      },
      [
        '--site',
        SITE,
        '--central',
        link.url(withCredentials(base, u.edge, tag)),
        '--port',
        '0',
        '--metrics-port',
        '0',
        '--interval',
        '2',
        ...(couch ? ['--local', server.url, '--local-prefix', edgePrefix] : []),
      ],
    );
    children.push(edge.child);
    const auth = basic(u.user, tag);
    const centralDb = `${base}/${dbs.transfers}`;
    const edgeDb = `${edge.url}/${edgePrefix}transfers`;
    await new Promise((r) => setTimeout(r, 3000)); // agents load and follow the feed

    const c = files(n, u.user, 'central');
    const pc = await putAll(centralDb, auth, c);
    const dc = await seenDone(
      centralDb,
      auth,
      c.map((d) => d._id),
    );
    const e = files(n, u.user, 'edge');
    const pe = await putAll(edgeDb, auth, e);
    const [de, dee] = await Promise.all([
      seenDone(
        centralDb,
        auth,
        e.map((d) => d._id),
      ),
      seenDone(
        edgeDb,
        auth,
        e.map((d) => d._id),
      ),
    ]);

    await link.cut();
    const o = files(n, u.user, 'outage');
    await putAll(edgeDb, auth, o);
    await new Promise((r) => setTimeout(r, outageS * 1000));
    const back = performance.now();
    await link.restore();
    const oids = o.map((d) => d._id);
    const [doc, doe] = await Promise.all([seenDone(centralDb, auth, oids), seenDone(edgeDb, auth, oids)]);
    const last = (m: Map<string, number>) => Math.max(...m.values()) - back;

    console.log(
      `engine: ${server.kind} (central${couch ? ' and edge store: one CouchDB 3.4 node' : ': embedded; edge store: its own embedded server'}); ` +
        `${n} files per phase, ${CLIENTS} clients; load average ${os
          .loadavg()
          .map((x) => x.toFixed(2))
          .join(' ')} at the end`,
    );
    console.log(`submission latency centrally:   p50 ${ms(pct(pc.lat, 50))}, p99 ${ms(pct(pc.lat, 99))}`);
    console.log(`submission latency at the edge: p50 ${ms(pct(pe.lat, 50))}, p99 ${ms(pct(pe.lat, 99))}`);
    console.log(`PUT to done, submitted centrally:           ${latencies(pc.at, dc)}`);
    console.log(`PUT to done, submitted at the edge (central): ${latencies(pe.at, de)}`);
    console.log(`PUT to done, submitted at the edge (edge):    ${latencies(pe.at, dee)}`);
    console.log(
      `drain after a ${outageS} s outage: ${n} files, all done centrally ${s(last(doc))} after the link returned ` +
        `(${(n / (last(doc) / 1000)).toFixed(0)} files/s), shown done at the edge after ${s(last(doe))} ` +
        `(${(n / (last(doe) / 1000)).toFixed(0)} files/s)`,
    );
  } finally {
    for (const ch of children) ch.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 2000));
    await link.close();
    const admin = connect(server.url);
    for (const name of [...Object.values(dbs), ...Object.values(dbNames(`${prefix}edge_`))])
      await admin.db.destroy(name).catch(() => undefined);
    for (const name of Object.values(u))
      await admin
        .use<{ _rev: string }>('_users')
        .get('org.couchdb.user:' + name)
        .then((d) => admin.use('_users').destroy(d._id, d._rev))
        .catch(() => undefined);
    await server.close();
    fs.rmSync(edgeDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
