/**
 * `npm run bench:cluster [-- --files N] [--catalog N] [--only lifecycle|catalog]`: the control
 * plane (bench:lifecycle, N transfers, 1 worker x 2 jobs) and the catalogue queries
 * (bench:catalog --only queries) on one fresh Apache CouchDB 3.4 node, then on a fresh 3-node
 * cluster (scripts/couchdb/cluster.ts) on the same machine, back to back, and the ratio. Every
 * benchmark process talks to the first node only (COUCHDB_URL), so that node coordinates every
 * request and the others only serve its shard copies: per node, the CPU seconds of its process
 * tree (/proc), the HTTP requests it answered (`_stats`) and the bytes it exchanged with the other
 * nodes (`_system` distribution) show where the fan-out goes. Load average before and after each
 * run. Asserts nothing.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { projectRoot } from '../../agents/platform/config';
import { clusterAdminUrls, clusterDir, startCluster, stopCluster } from '../couchdb/cluster';
import { adminUrlOf, startNode, stopNode } from '../couchdb/node';
import { http } from '../ops/http';
import { load1, treeCpuSeconds } from './proc-cpu';

interface Node {
  readonly label: string;
  readonly pid: number;
  readonly url: string;
}

interface Side {
  readonly name: string;
  readonly nodes: Node[];
  stop(): Promise<void>;
}

interface NodeFigures {
  readonly cpu: number;
  readonly requests: number;
  /** Bytes received plus sent over the Erlang distribution (other nodes); 0 on a single node. */
  readonly distBytes: number;
}

interface RunResult {
  readonly side: string;
  readonly bench: string;
  readonly seconds: number;
  readonly loadBefore: string;
  readonly loadAfter: string;
  readonly perNode: { label: string; cpu: number; requests: number; distBytes: number }[];
  readonly output: string;
}

const log = (l: string) => process.stderr.write(l + '\n');

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i > 1 ? process.argv[i + 1] : dflt;
}

async function snapshot(node: Node): Promise<NodeFigures> {
  const req = await http<{ value?: number }>(node.url, 'GET', '/_node/_local/_stats/couchdb/httpd/requests');
  const sys = await http<{ distribution?: Record<string, { recv_oct?: number; send_oct?: number }> }>(
    node.url,
    'GET',
    '/_node/_local/_system',
  );
  const dist = Object.values(sys.body.distribution || {}).reduce(
    (a, d) => a + Number(d.recv_oct || 0) + Number(d.send_oct || 0),
    0,
  );
  return { cpu: treeCpuSeconds(node.pid), requests: Number(req.body.value || 0), distBytes: dist };
}

/** One benchmark process against the side's first node; its output echoed and kept. */
async function runBench(side: Side, bench: string, args: string[]): Promise<RunResult> {
  const before = await Promise.all(side.nodes.map(snapshot));
  const loadBefore = load1();
  const t0 = performance.now();
  const child = spawn(process.execPath, [path.join(projectRoot(), 'dist', `bench-${bench}.js`), ...args], {
    env: { ...process.env, COUCHDB_URL: side.nodes[0].url },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (b: Buffer) => {
    output += b.toString();
    process.stdout.write(b);
  });
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  if (code !== 0) throw new Error(`bench:${bench} on ${side.name} exited with ${code}`);
  const seconds = (performance.now() - t0) / 1000;
  const after = await Promise.all(side.nodes.map(snapshot));
  return {
    side: side.name,
    bench,
    seconds,
    loadBefore,
    loadAfter: load1(),
    perNode: side.nodes.map((n, i) => ({
      label: n.label,
      cpu: after[i].cpu - before[i].cpu,
      requests: after[i].requests - before[i].requests,
      distBytes: after[i].distBytes - before[i].distBytes,
    })),
    output,
  };
}

async function singleNode(): Promise<Side> {
  const node = await startNode({ name: 'bench-single', fresh: true, log });
  return {
    name: '1 node',
    nodes: [{ label: 'single', pid: node.pid, url: adminUrlOf(node) }],
    stop: async () => {
      await stopNode('bench-single');
      fs.rmSync(node.dir, { recursive: true, force: true });
    },
  };
}

async function threeNodes(): Promise<Side> {
  const cluster = await startCluster({ name: 'bench-cluster', fresh: true, log });
  const urls = clusterAdminUrls(cluster);
  return {
    name: '3-node cluster',
    nodes: cluster.nodes.map((n, i) => ({
      label: n.erlangName.split('-').pop()!.split('@')[0],
      pid: n.pid,
      url: urls[i],
    })),
    stop: async () => {
      await stopCluster('bench-cluster');
      fs.rmSync(clusterDir('bench-cluster'), { recursive: true, force: true });
    },
  };
}

/** The first number after `label` in a benchmark's output, or NaN. */
function figure(output: string, label: RegExp): number {
  const m = label.exec(output);
  return m ? Number(m[1]) : NaN;
}

const FIGURES: Record<string, { name: string; re: RegExp; unit: string }[]> = {
  lifecycle: [
    { name: 'raw _bulk_docs', re: /raw _bulk_docs rate:\s+([\d.]+)/, unit: 'docs/s' },
    { name: 'user submission (validated)', re: /user submission rate \(validated\):\s+([\d.]+)/, unit: 'docs/s' },
    { name: 'control plane, PUT to done', re: /control plane, PUT to done:\s+([\d.]+)/, unit: 'files/s' },
    { name: 'PUT-to-done p50', re: /PUT-to-done latency:\s+p50 ([\d.]+)/, unit: 's' },
  ],
  catalog: [
    { name: 'catalogue queries, 50 clients', re: /catalogue queries.*?: (\d+) queries\/s/, unit: 'queries/s' },
    { name: 'GET by id as the user, 50 clients', re: /as the user (\d+) requests\/s/, unit: 'requests/s' },
    { name: 'GET by id p50', re: /as the user \d+ requests\/s \(p50 ([\d.]+) ms/, unit: 'ms' },
    { name: 'files_of_block p50', re: /files_of_block\s+\d+ queries\s+p50 ([\d.]+)/, unit: 'ms' },
    { name: 'ls_directory p50', re: /ls_directory\s+\d+ queries\s+p50 ([\d.]+)/, unit: 'ms' },
  ],
};

function summary(results: RunResult[], units: Record<string, number>): void {
  console.log('\n== 1 node vs 3-node cluster, same machine, back to back');
  for (const bench of Object.keys(FIGURES)) {
    const one = results.find((r) => r.bench === bench && r.side === '1 node');
    const three = results.find((r) => r.bench === bench && r.side !== '1 node');
    if (!one || !three) continue;
    console.log(`\n${bench} (${units[bench]} ${bench === 'lifecycle' ? 'transfers' : 'catalogue files'}):`);
    for (const f of FIGURES[bench]) {
      const a = figure(one.output, f.re);
      const b = figure(three.output, f.re);
      console.log(
        `  ${f.name.padEnd(36)} ${`${a} ${f.unit}`.padStart(16)}  ${`${b} ${f.unit}`.padStart(16)}  x${(b / a).toFixed(2)}`,
      );
    }
    for (const r of [one, three]) {
      const cpu = r.perNode.reduce((a, n) => a + n.cpu, 0);
      const per = r.perNode
        .map(
          (n) =>
            `${n.label} ${n.cpu.toFixed(0)} s CPU, ${n.requests} HTTP requests, ${(n.distBytes / 1e6).toFixed(0)} MB between nodes`,
        )
        .join('; ');
      // The lifecycle run also bulk-loads the same number of raw documents first: CPU per transfer includes it.
      const each = bench === 'lifecycle' ? ` (${((cpu / units[bench]) * 1000).toFixed(1)} ms per transfer)` : '';
      console.log(
        `  ${r.side}: ${r.seconds.toFixed(0)} s, load average ${r.loadBefore} -> ${r.loadAfter}; CouchDB CPU ${cpu.toFixed(0)} s${each}: ${per}`,
      );
    }
  }
}

async function main(): Promise<void> {
  const files = Number(arg('--files', '20000'));
  const catalogue = Number(arg('--catalog', '5000'));
  const only = arg('--only', '');
  if (only && !(only in FIGURES)) throw new Error(`--only takes lifecycle or catalog, not ${only}`);
  const benches: [string, string[]][] = (
    [
      ['lifecycle', [String(files), '1', '2']],
      ['catalog', [String(catalogue), '--only', 'queries']],
    ] as [string, string[]][]
  ).filter(([b]) => !only || b === only);
  const results: RunResult[] = [];
  console.log(`started ${new Date().toISOString()}, load average ${load1()}`);
  for (const start of [singleNode, threeNodes]) {
    const side = await start();
    // Interrupted: the nodes this run started go too (they run detached and would outlive it).
    const interrupted = () => void side.stop().finally(() => process.exit(130));
    process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
    try {
      for (const [bench, args] of benches) {
        console.log(`\n== bench:${bench} ${args.join(' ')} on ${side.name}`);
        results.push(await runBench(side, bench, args));
      }
    } finally {
      process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
      await side.stop();
    }
  }
  summary(results, { lifecycle: files, catalog: catalogue });
  console.log(`\nended ${new Date().toISOString()}, load average ${load1()}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
