/**
 * The scale-out setup shared by the single-node scale test and the cluster's scale and chaos
 * tests: one link T2_CH_CERN -> T2_IT_Pisa with room for every file, jobs of 100 files, blocks of
 * `perBlock`, and the ten agents of a scale run (3 schedulers, 3 workers on the instant backend,
 * 2 retriers, 2 publishers). `expectScaleInvariants` (scale-invariants.ts) checks what they leave.
 */
import * as fs from 'fs';
import { configure, makeStorage, startAgent, type AgentProcess, type Storage } from './agents';
import type { TestEnv } from './env';

/** The ten agents of a scale run: [agent, instance]. */
export const SCALE_AGENTS: readonly (readonly [string, string])[] = [
  ['scheduler', 'scheduler-0'],
  ['scheduler', 'scheduler-1'],
  ['scheduler', 'scheduler-2'],
  ['worker', 'worker-0'],
  ['worker', 'worker-1'],
  ['worker', 'worker-2'],
  ['retrier', 'retrier-0'],
  ['retrier', 'retrier-1'],
  ['publisher', 'publisher-0'],
  ['publisher', 'publisher-1'],
];

/** Storage for both sites and the config of a scale run. */
export async function configureScale(env: TestEnv, perBlock: number): Promise<Storage> {
  const storage = makeStorage(['T2_CH_CERN', 'T2_IT_Pisa']);
  await configure(
    env,
    storage,
    { max_files_per_transfer: 100, lease_seconds: 30, max_files_per_block: perBlock, block_closure_timeout: 3600 },
    [{ source: 'T2_CH_CERN', destination: 'T2_IT_Pisa', max_active: 1000 }],
  );
  return storage;
}

/**
 * Starts the ten agents; `extraEnv(i)` gives agent i its environment (a node URL of a cluster,
 * say). With `metrics`, each serves its Prometheus metrics on a free port (read by the tests).
 */
export function startScaleAgents(
  env: TestEnv,
  opts: { metrics?: boolean; extraEnv?: (i: number) => Record<string, string> } = {},
): AgentProcess[] {
  return SCALE_AGENTS.map(([name, instance], i) =>
    startAgent(
      env,
      name,
      [
        ...(name === 'worker' ? ['--backend', 'instant'] : []),
        '--instance',
        instance,
        ...(opts.metrics ? ['--metrics-port', '0'] : []),
      ],
      opts.extraEnv?.(i) ?? {},
    ),
  );
}

/** Stops the agents; with COUCHSTAGE_TEST_DUMP set, leaves each one's output in /tmp/<tag>-<agent>-<i>.log. */
export async function stopScaleAgents(agents: readonly AgentProcess[], tag: string): Promise<void> {
  await Promise.all(agents.map((a) => a.stop()));
  if (process.env.COUCHSTAGE_TEST_DUMP)
    for (const [i, a] of agents.entries()) fs.writeFileSync(`/tmp/${tag}-${a.name}-${i}.log`, a.output.join(''));
}
