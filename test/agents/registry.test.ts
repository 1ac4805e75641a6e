/**
 * The agent registry drives everything that names agents: each record builds the agent it
 * names, and the CLI's help, its usage checks (`agent`, `doctor --agents`) and `start` (see
 * test/scripts/cli/start.test.ts, which expects exactly the registry's agents to run) read it.
 */
import { AGENT_NAMES, AGENT_REGISTRY, agentSpec } from '../../agents/registry';
import { buildAgents } from '../../agents/main';
import { createBackend } from '../../agents/backends';
import { Tracker } from '../../agents/lib/tracker';
import { main, HELP } from '../../scripts/cli/main';
import { commandHelp } from '../../scripts/cli/commands/usage';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    argv,
    (l) => out.push(l),
    (l) => err.push(l),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('agent registry', () => {
  it('has seven agents, each named once', () => {
    expect(AGENT_NAMES).toEqual(['scheduler', 'worker', 'retrier', 'publisher', 'requests', 'deleter', 'stats']);
    expect(new Set(AGENT_NAMES).size).toBe(AGENT_NAMES.length);
  });

  it.each(AGENT_REGISTRY.map((a) => [a.name, a] as const))(
    '%s: its factory builds the agent of that name',
    (name, spec) => {
      const backend = spec.needsBackend ? createBackend('native') : null;
      expect(spec.build({ tracker: new Tracker(), backend }).name).toBe(name);
      if (spec.needsBackend)
        expect(() => spec.build({ tracker: new Tracker(), backend: null })).toThrow(/needs a storage backend/);
    },
  );

  it('combines agents over one feed, and keeps the worker alone', () => {
    expect(buildAgents(['scheduler', 'retrier'], null).name).toBe('scheduler+retrier');
    expect(agentSpec('worker')!.ownProcess).toBe(true);
    expect(agentSpec('nope')).toBeUndefined();
  });

  it('gives the help its list and its lines', () => {
    const usage = commandHelp('agent')!;
    for (const a of AGENT_REGISTRY) {
      expect(usage).toContain(a.name);
      expect(usage).toContain(a.help);
    }
    expect(HELP).toContain(`run one agent: ${AGENT_NAMES.slice(0, -1).join(', ')} or stats`);
    expect(commandHelp('doctor')).toContain(AGENT_NAMES.join(','));
  });

  it('checks `agent` and `doctor --agents` against it', async () => {
    const none = await run('agent');
    expect(none.code).toBe(2);
    for (const n of AGENT_NAMES) expect(none.err).toContain(n);
    const bad = await run('doctor', '--agents', 'scheduler,shceduler');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('unknown agent shceduler');
    expect(bad.err).toContain(AGENT_NAMES.join(', '));
    const unknown = await run('agent', 'nope', '--once');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain(`unknown or repeated agent in "nope" (one or more of ${AGENT_NAMES.join(', ')})`);
    const together = await run('agent', 'worker,stats', '--once');
    expect(together.err).toContain('the worker runs in a process of its own');
  });
});
