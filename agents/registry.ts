/**
 * The agents, in one record: their names, how each is built, whether it needs a storage backend
 * (`--backend`) and its line in the help. The CLI's usage and help, `couchstage agent`, `start`,
 * `doctor` and the agent contract test all read this list, so an agent added here is run,
 * checked and documented everywhere at once.
 */
import type { TransferBackend } from './backends/types';
import type { Agent } from './lib/runner';
import type { Tracker } from './lib/tracker';
import { deleterAgent } from './deleter';
import { publisherAgent } from './publisher';
import { requestsAgent } from './requests';
import { retrierAgent } from './retrier';
import { schedulerAgent } from './scheduler';
import { statsAgent } from './stats';
import { workerAgent } from './worker';

/** What a factory gets: the process's shared tracker, its backend (null unless needed), options. */
export interface AgentBuild {
  /** Scheduler and retrier in one process share it (one in-memory copy of the transfers). */
  readonly tracker: Tracker;
  readonly backend: TransferBackend | null;
  /** Worker: transfer jobs in flight at once. */
  readonly jobs?: number;
}

export interface AgentSpec {
  readonly name: string;
  readonly build: (b: AgentBuild) => Agent;
  /** Copies or deletes files, so its process opens a storage backend (`--backend`). */
  readonly needsBackend: boolean;
  /** Must run in a process of its own (reads the feed without documents). */
  readonly ownProcess?: boolean;
  /** What it does, one line for `couchstage help agent`. */
  readonly help: string;
}

function backendOf(b: AgentBuild, name: string): TransferBackend {
  if (!b.backend) throw new Error(`the ${name} agent needs a storage backend`);
  return b.backend;
}

export const AGENT_REGISTRY: readonly AgentSpec[] = [
  {
    name: 'scheduler',
    needsBackend: false,
    build: (b) => schedulerAgent(b.tracker),
    help: 'groups new transfers into transfer jobs per link, within its limits',
  },
  {
    name: 'worker',
    needsBackend: true,
    ownProcess: true,
    build: (b) => workerAgent(backendOf(b, 'worker'), { jobs: b.jobs }),
    help: 'runs transfer jobs: copies, verifies the adler32, records the outcome',
  },
  {
    name: 'retrier',
    needsBackend: false,
    build: (b) => retrierAgent(b.tracker),
    help: 'acts on user flags (kill, retry), ends cooloffs, expires, recovers orphans and conflicts',
  },
  {
    name: 'publisher',
    needsBackend: false,
    build: () => publisherAgent(),
    help: 'publishes done transfers into the catalogue (datasets, blocks, files)',
  },
  {
    name: 'requests',
    needsBackend: true,
    build: (b) => requestsAgent(backendOf(b, 'requests')),
    help: 'carries out data requests: replicate and upload',
  },
  {
    name: 'deleter',
    needsBackend: true,
    build: (b) => deleterAgent(backendOf(b, 'deleter')),
    help: 'carries out delete requests: removes replicas, invalidates what has none left',
  },
  {
    name: 'stats',
    needsBackend: false,
    build: () => statsAgent(),
    help: "keeps the page's roll-up of counts per state, link and reason",
  },
];

export const AGENT_NAMES: readonly string[] = AGENT_REGISTRY.map((a) => a.name);

/** The record of `name`, or undefined for a name that is no agent. */
export function agentSpec(name: string): AgentSpec | undefined {
  return AGENT_REGISTRY.find((a) => a.name === name);
}

/** "scheduler, worker, ... or stats", for messages. */
export function agentList(last = 'or'): string {
  return `${AGENT_NAMES.slice(0, -1).join(', ')} ${last} ${AGENT_NAMES[AGENT_NAMES.length - 1]}`;
}
