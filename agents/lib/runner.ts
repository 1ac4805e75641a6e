/**
 * The one agent runner (STYLE 8, 11, 12, 16): owns the loop, the feed, checkpoints, heartbeats,
 * backoff, metrics and shutdown; an agent is configuration plus `onChanges` and `tick`.
 *
 * Loop: read `_changes` from the checkpoint in bounded batches (normal feed while behind, longpoll
 * when caught up) -> agent.onChanges(batch) -> agent.tick() when due -> save the checkpoint (only
 * now: a crash replays at most one batch, and every effect is idempotent) -> heartbeat when due.
 * Transient errors (5xx, 429, network) back off 5 s -> 60 s; permanent ones stop the agent.
 */
import { hostname } from 'os';
import { performance } from 'perf_hooks';
import { randomBytes } from 'crypto';
import type { DbRole, HeartbeatDoc } from '../../views/schema';
import { Checkpointer, seqNumber, type Seq } from './checkpoint';
import type { Config } from './config';
import { connect, defaultBackoff, errorKind, fetchChanges, sleep, statusOf, type Backoff, type Change, type ChangesResult, type Db, type Server } from './couch';
import { LiveConfig } from './live-config';
import type { Logger } from './log';
import type { RunnerMetrics } from './metrics';
import { DatabaseMovedError, READONLY_DDOC } from './moved';

export interface AgentContext {
  readonly url: string;
  readonly server: Server;
  readonly dbs: Config['dbs'];
  readonly db: (role: DbRole) => Db;
  readonly config: LiveConfig;
  readonly log: Logger;
  readonly signal: AbortSignal;
  /** This process's identity in leases and heartbeats. */
  readonly instance: string;
  readonly now: () => Date;
  readonly metrics: RunnerMetrics;
}

export interface Agent {
  readonly name: string;
  /** The database whose `_changes` drive this agent. */
  readonly feed: DbRole;
  /** Read the feed with documents (default) or ids only, for agents that care about few of them. */
  readonly feedDocs?: boolean;
  /** Read the feed's documents with their `_conflicts` (the retrier resolves conflicts). */
  readonly feedConflicts?: boolean;
  /** How often `tick` runs when nothing changes (ms). */
  readonly tickMs: number;
  /** Called once at start, before the feed is followed: load what the agent keeps in memory. */
  load?(ctx: AgentContext): Promise<void>;
  /** Effects of a batch of changes (docs included); must be idempotent: the feed can replay. */
  onChanges?(changes: readonly Change[], ctx: AgentContext): Promise<void>;
  /** Queue work (scheduling, retries, leases); returns true when more work is waiting now. */
  tick?(ctx: AgentContext): Promise<boolean>;
  /** Called once when the agent stops cleanly (release what others would otherwise wait for). */
  close?(ctx: AgentContext): Promise<void>;
  /** Extra fields for the heartbeat document. */
  status?(): Record<string, unknown>;
}

export interface RunOptions {
  readonly once?: boolean;
  /** Changes per batch: bounded memory, and the most a crash can replay. */
  readonly batchSize?: number;
  readonly heartbeatMs?: number;
  readonly backoff?: Backoff;
  readonly instance?: string;
  readonly now?: () => Date;
}

/** 500 changes with docs is a few MB: small enough to hold, large enough for _bulk_docs writes. */
const DEFAULT_BATCH = 500;
/** A heartbeat every 30 s; `doctor` calls an agent dead after 3 missed ones. */
const DEFAULT_HEARTBEAT_MS = 30_000;
/** While a long feed streams by, checkpoint at most this often (ms); a crash replays at most that. */
const CHECKPOINT_MS = 1000;
/** While behind on the feed, act at least this often (ms). */
const INTERLEAVE_MS = 300;
/** Longpoll wait when caught up: short enough to tick, long enough to be idle-cheap. */
const LONGPOLL_MS = 10_000;

export function instanceId(agent: string): string {
  return `${agent}@${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

async function heartbeat(ctx: AgentContext, agent: Agent, seq: Seq, rev: { value?: string }): Promise<void> {
  const db = ctx.db('transfers');
  const doc: HeartbeatDoc = {
    _id: `heartbeat:${agent.name}:${ctx.instance}`,
    type: 'heartbeat', agent: agent.name, instance: ctx.instance, at: ctx.now().toISOString(),
    host: hostname(), pid: process.pid, seq: seqNumber(seq), ...(agent.status ? agent.status() : {}),
  };
  try {
    const res = await db.insert({ ...doc, ...(rev.value ? { _rev: rev.value } : {}) } as never);
    rev.value = res.rev;
  } catch (err) {
    if (statusOf(err) !== 409) throw err;
    const cur = await db.get(doc._id);
    rev.value = cur._rev;
  }
}

export async function runAgent(agent: Agent, base: { url: string; dbs: Config['dbs']; log: Logger; metrics: RunnerMetrics; signal: AbortSignal }, opts: RunOptions = {}): Promise<void> {
  const server = connect(base.url);
  const instance = opts.instance || instanceId(agent.name);
  const log = base.log.child({ agent: agent.name, instance });
  const config = new LiveConfig(base.url, base.dbs.config, log);
  const ctx: AgentContext = {
    url: base.url, server, dbs: base.dbs, db: (role) => server.use(base.dbs[role]), config, log, signal: base.signal, instance,
    now: opts.now || (() => new Date()), metrics: base.metrics,
  };
  const backoff = opts.backoff || defaultBackoff;
  const feedDb = base.dbs[agent.feed];
  const checkpoints = new Checkpointer(ctx.db(agent.feed), agent.name);
  const batchSize = opts.batchSize || DEFAULT_BATCH;
  const heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const hbRev: { value?: string } = {};
  let failures = 0;
  let seq: Seq = 0;
  let configFollow: Promise<void> | null = null;
  let lastTick = 0;
  let lastBeat = 0;
  let lastSave = 0;
  let savedSeq: Seq = 0;
  let more = false;

  for (;;) {
    if (base.signal.aborted) break;
    try {
      if (!configFollow) {
        await config.load();
        seq = await checkpoints.read();
        savedSeq = seq;
        if (agent.load) await agent.load(ctx);
        if (!opts.once) configFollow = config.follow(base.signal);
        else configFollow = Promise.resolve();
        log.info('agent started', { since: seq });
      }
      let caughtUp = false;
      let changed = 0;
      while (!caughtUp && !base.signal.aborted) {
        const readStart = performance.now();
        const res: ChangesResult = await fetchChanges(ctx.url, feedDb, { since: seq, limit: batchSize, include_docs: agent.feedDocs !== false, feed: 'normal', conflicts: agent.feedConflicts || undefined }, base.signal);
        base.metrics.changes.inc({ agent: agent.name }, res.results.length);
        base.metrics.feedLag.set({ agent: agent.name }, res.pending ?? 0);
        // migrate-db paused or moved this database: stop here, the process follows (agents/lib/moved.ts).
        if (res.results.some((r) => r.id === READONLY_DDOC && !r.deleted)) throw new DatabaseMovedError(`${feedDb} is read-only now`);
        if (res.results.length && agent.onChanges) {
          const end = base.metrics.passSeconds.startTimer({ agent: agent.name });
          await agent.onChanges(res.results, ctx);
          end();
        }
        log.debug('feed batch', { changes: res.results.length, ms: Math.round(performance.now() - readStart) });
        changed += res.results.length;
        if (String(res.last_seq) !== String(seq)) {
          seq = res.last_seq;
          // Effects of this batch are saved: checkpoint now, or at least once a second while a
          // long feed streams by (every checkpoint is a write that wakes the other agents).
          if (res.results.length < batchSize || Date.now() - lastSave >= CHECKPOINT_MS) {
            await checkpoints.save(seq);
            savedSeq = seq;
            lastSave = Date.now();
          }
        }
        caughtUp = res.results.length < batchSize;
        // While catching up on a long feed, keep working: an agent that waited for the whole
        // backlog before acting would leave the rest of the pipeline idle.
        if (!caughtUp && !opts.once && agent.tick && Date.now() - lastTick >= INTERLEAVE_MS) {
          more = await agent.tick(ctx);
          lastTick = Date.now();
        }
      }
      if (agent.tick && (opts.once || more || changed > 0 || Date.now() - lastTick >= agent.tickMs)) {
        // --once: tick until the queue is drained (bounded, in case an agent always says "more").
        for (let i = 0; i < (opts.once ? 10_000 : 1) && !base.signal.aborted; i++) {
          const end = base.metrics.passSeconds.startTimer({ agent: agent.name });
          more = await agent.tick(ctx);
          end();
          lastTick = Date.now();
          if (!more) break;
        }
      }
      if (Date.now() - lastBeat >= heartbeatMs) {
        await heartbeat(ctx, agent, seq, hbRev);
        lastBeat = Date.now();
      }
      failures = 0;
      if (opts.once) break;
      if (!more && !base.signal.aborted) {
        // Caught up and idle: wait for the next change or the next tick. The embedded server
        // ignores longpoll's timeout (it waits a minute), so the client enforces it.
        const wait = Math.min(LONGPOLL_MS, agent.tickMs);
        const idle = AbortSignal.any([base.signal, AbortSignal.timeout(wait + 250)]);
        try {
          await fetchChanges(ctx.url, feedDb, { since: seq, limit: 1, feed: 'longpoll', timeout: wait }, idle);
        } catch (err) {
          if (!idle.aborted) throw err;
        }
      }
    } catch (err) {
      if (base.signal.aborted) break;
      if (err instanceof DatabaseMovedError) throw err;
      const kind = errorKind(err);
      base.metrics.errors.inc({ agent: agent.name, class: kind });
      if (kind === 'permanent') {
        log.error('permanent error, stopping', { error: (err as Error).message });
        throw err;
      }
      const ms = backoff.delay(failures++);
      log.warn('transient error, backing off', { error: (err as Error).message, ms });
      await sleep(ms, base.signal);
    }
  }
  await configFollow?.catch(() => undefined);
  if (String(savedSeq) !== String(seq)) await checkpoints.save(seq).catch((err) => log.warn('final checkpoint failed', { error: (err as Error).message }));
  await agent.close?.(ctx).catch((err) => log.warn('close failed', { error: (err as Error).message }));
  log.info('agent stopped', { seq });
}
