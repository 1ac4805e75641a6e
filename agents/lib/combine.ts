/**
 * Several agents in one process over one `_changes` feed: `couchstage agent scheduler,retrier`.
 * Each agent still decides alone; they share the feed read (and, where they are built with one,
 * the tracker), which halves what the server sends for the two agents that read every transfer.
 * Standalone agents remain the unit of scaling out; this is the compact deployment.
 */
import type { Agent, AgentContext } from './runner';

export function combineAgents(agents: readonly Agent[]): Agent {
  if (agents.length === 1) return agents[0];
  const feed = agents[0].feed;
  if (agents.some((a) => a.feed !== feed)) throw new Error('combined agents must follow the same database');
  return {
    name: agents.map((a) => a.name).join('+'),
    feed,
    feedDocs: agents.some((a) => a.feedDocs !== false),
    feedConflicts: agents.some((a) => a.feedConflicts),
    tickMs: Math.min(...agents.map((a) => a.tickMs)),
    async load(ctx: AgentContext) {
      for (const a of agents) if (a.load) await a.load(ctx);
    },
    async onChanges(changes, ctx) {
      for (const a of agents) if (a.onChanges) await a.onChanges(changes, ctx);
    },
    async tick(ctx: AgentContext) {
      let more = false;
      for (const a of agents) if (a.tick) more = (await a.tick(ctx)) || more;
      return more;
    },
    async close(ctx: AgentContext) {
      for (const a of agents) if (a.close) await a.close(ctx);
    },
    status: () => Object.fromEntries(agents.map((a) => [a.name, a.status ? a.status() : {}])),
  };
}
