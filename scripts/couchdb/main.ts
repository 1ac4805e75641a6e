/**
 * `npm run couchdb -- start|stop|url|status [--name N] [--port P] [--fresh]`,
 * `npm run couchdb -- cluster start|stop|urls|status [--name N] [--fresh]`, `cluster kill|stop-node|start-node
 * --node a|b|c` (one member crashed, stopped or started again: chaos tests) and
 * `npm run test:couchdb [-- jest args]`: Apache CouchDB 3.4 from ../shared/couchdb on loopback
 * (node.ts, and cluster.ts for three nodes joined into one cluster). `test` runs the whole jest suite against COUCHDB_URL when it is set, else against a
 * fresh node of its own (`.couchdb/test/`), stopped again afterwards.
 */
import { spawn } from 'child_process';
import * as path from 'path';
import { loadConfig, projectRoot } from '../../agents/platform/config';
import {
  clusterAdminUrls,
  clusterState,
  killNode,
  NODE_LETTERS,
  startCluster,
  startNode as startClusterNode,
  stopCluster,
  stopNode as stopClusterNode,
} from './cluster';
import { adminUrlOf, nodeState, ReleaseMissing, startNode, stopNode } from './node';

const USAGE =
  'usage: couchdb start|stop|url|status [--name N] [--port P] [--fresh] | couchdb cluster start|stop|urls|status [--name N] [--fresh] | couchdb cluster kill|stop-node|start-node --node a|b|c [--name N] | couchdb test [jest args]';

function option(args: string[], name: string): string | undefined {
  const i = args.findIndex((a) => a === name || a.startsWith(name + '='));
  if (i < 0) return undefined;
  const a = args[i];
  if (a.includes('=')) return a.slice(name.length + 1);
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
  return v;
}

function jest(url: string, args: string[]): Promise<number> {
  const bin = path.join(projectRoot(), 'node_modules', 'jest', 'bin', 'jest.js');
  const child = spawn(process.execPath, [bin, ...args], {
    stdio: 'inherit',
    env: { ...process.env, COUCHDB_URL: url },
  });
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  process.on('SIGINT', forward).on('SIGTERM', forward);
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

/** `cluster start|stop|urls|status`: start and urls print the three admin URLs, a first, one a line. */
async function clusterCommand(args: string[], log: (line: string) => void): Promise<number> {
  const [cmd, ...rest] = args;
  const name = option(rest, '--name') || 'cluster';
  if (cmd === 'start') {
    const state = await startCluster({ name, fresh: rest.includes('--fresh'), log });
    process.stdout.write(clusterAdminUrls(state).join('\n') + '\n');
    return 0;
  }
  if (cmd === 'stop') {
    const n = await stopCluster(name);
    log(n ? `CouchDB cluster ${name}: ${n} node(s) stopped` : `CouchDB cluster ${name} was not running`);
    return 0;
  }
  if (cmd === 'kill' || cmd === 'stop-node' || cmd === 'start-node') return nodeCommand(cmd, name, rest, log);
  if (cmd === 'urls' || cmd === 'status') {
    const state = clusterState(name);
    if (state.nodes.length < NODE_LETTERS.length) {
      log(
        `CouchDB cluster ${name}: ${state.nodes.length} of ${NODE_LETTERS.length} nodes running (npm run couchdb -- cluster start --name ${name})`,
      );
      return 1;
    }
    const lines =
      cmd === 'urls' ? clusterAdminUrls(state) : state.nodes.map((n) => `${n.erlangName} ${n.url} pid ${n.pid}`);
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  }
  log(USAGE);
  return 2;
}

/** `cluster kill|stop-node|start-node --node L`: one member crashed (SIGKILL), stopped or started again. */
async function nodeCommand(cmd: string, name: string, rest: string[], log: (line: string) => void): Promise<number> {
  const letter = option(rest, '--node');
  if (!letter || !(NODE_LETTERS as readonly string[]).includes(letter)) {
    log(`cluster ${cmd}: give --node ${NODE_LETTERS.join('|')}`);
    return 2;
  }
  if (cmd === 'start-node') {
    const node = await startClusterNode(letter, name, log);
    process.stdout.write(node.url + '\n');
    return 0;
  }
  const done = cmd === 'kill' ? await killNode(letter, name) : await stopClusterNode(letter, name);
  log(`CouchDB cluster ${name} node ${letter}: ${done ? (cmd === 'kill' ? 'killed' : 'stopped') : 'was not running'}`);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const log = (l: string) => process.stderr.write(l + '\n');
  try {
    if (cmd === 'test') {
      const couchUrl = loadConfig().couchUrl;
      if (couchUrl) return await jest(couchUrl, rest);
      const state = await startNode({ name: 'test', fresh: true, log });
      try {
        return await jest(adminUrlOf(state), rest);
      } finally {
        await stopNode('test');
      }
    }
    if (cmd === 'cluster') return await clusterCommand(rest, log);
    const name = option(rest, '--name') || 'single';
    if (cmd === 'start') {
      const port = option(rest, '--port');
      if (port !== undefined && !/^\d+$/.test(port)) throw new Error(`--port: not a port: ${port}`);
      const state = await startNode({
        name,
        port: port ? Number(port) : undefined,
        fresh: rest.includes('--fresh'),
        log,
      });
      process.stdout.write(adminUrlOf(state) + '\n');
      return 0;
    }
    if (cmd === 'stop') {
      log((await stopNode(name)) ? `CouchDB ${name} stopped` : `CouchDB ${name} was not running`);
      return 0;
    }
    if (cmd === 'url' || cmd === 'status') {
      const state = nodeState(name);
      if (!state) {
        log(`CouchDB ${name} is not running (npm run couchdb -- start --name ${name})`);
        return 1;
      }
      process.stdout.write((cmd === 'url' ? adminUrlOf(state) : `${name} ${state.url} pid ${state.pid}`) + '\n');
      return 0;
    }
    log(USAGE);
    return 2;
  } catch (err) {
    log(`couchdb: ${err instanceof ReleaseMissing || err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

if (require.main === module)
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
