/**
 * The one agent runner, so every agent resumes, backs off and stops the same way: owns the loop,
 * the feed, checkpoints, heartbeats, backoff, metrics and shutdown; an agent is configuration plus
 * `onChanges` and `tick`.
 *
 * Loop: read `_changes` from the checkpoint (agents/lib/checkpoint.ts) in bounded batches (normal
 * feed while behind, longpoll when caught up) -> agent.onChanges(batch) -> agent.tick() when due ->
 * save the checkpoint (only now: a crash replays at most one batch, and every effect is idempotent)
 * -> heartbeat when due. Transient errors (5xx, 429, network) back off 5 s -> 60 s; permanent ones
 * stop the agent.
 */
import { hostname } from 'os';
import { performance } from 'perf_hooks';
import { randomBytes } from 'crypto';
import { DocId, HEARTBEAT_MS, READONLY_DDOC_ID, type DbRole, type HeartbeatDoc } from '../../views/schema';
import { Checkpointer, seqNumber, type Seq } from './checkpoint';
import type { Config } from '../platform/config';
import {
  connect,
  defaultBackoff,
  errorKind,
  fetchChanges,
  sleep,
  withTimeout,
  type Backoff,
  type Change,
  type ChangesResult,
  type Db,
  type Server,
} from '../platform/couch';
import { get, update, type Stored } from '../platform/docs';
import { LiveConfig } from './live-config';
import type { Logger } from '../platform/log';
import type { RunnerMetrics } from '../platform/metrics';
import { DatabaseMovedError } from './moved';

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
/** While a long feed streams by, checkpoint at most this often (ms); a crash replays at most that. */
const CHECKPOINT_MS = 1000;
/** While behind on the feed, act at least this often (ms). */
const INTERLEAVE_MS = 300;
/** Longpoll wait when caught up: short enough to tick, long enough to be idle-cheap. */
const LONGPOLL_MS = 10_000;

export function instanceId(agent: string): string {
  return `${agent}@${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

/** One running agent: its context and where it is in its feed. */
interface Run {
  readonly agent: Agent;
  readonly ctx: AgentContext;
  readonly opts: RunOptions;
  readonly feedDb: string;
  readonly checkpoints: Checkpointer;
  readonly batchSize: number;
  readonly heartbeatMs: number;
  /** The last heartbeat written (its revision is the next one's). */
  beat: Stored<HeartbeatDoc> | null;
  seq: Seq;
  savedSeq: Seq;
  configFollow: Promise<void> | null;
  lastTick: number;
  lastBeat: number;
  lastSave: number;
  more: boolean;
}

async function heartbeat(run: Run, stopped = false): Promise<void> {
  const { ctx, agent } = run;
  const db = ctx.db('transfers');
  const at = ctx.now().toISOString();
  const doc: HeartbeatDoc = {
    _id: DocId.heartbeat(agent.name, ctx.instance),
    type: 'heartbeat',
    agent: agent.name,
    instance: ctx.instance,
    at,
    host: hostname(),
    pid: process.pid,
    seq: seqNumber(run.seq),
    ...(agent.status ? agent.status() : {}),
    ...(stopped ? { stopped_at: at } : {}),
  };
  // A 409 (another write of this instance's beat landed first): that beat stands, and the next
  // one is written on its revision.
  const saved = await update<HeartbeatDoc>(db, doc._id, () => doc, { from: run.beat, onConflict: 'stop' });
  run.beat = saved ?? (await get<HeartbeatDoc>(db, doc._id));
}

function startRun(agent: Agent, base: RunBase, opts: RunOptions): Run {
  const server = connect(base.url);
  const instance = opts.instance || instanceId(agent.name);
  const log = base.log.child({ agent: agent.name, instance });
  const config = new LiveConfig(base.url, base.dbs.config, log);
  const ctx: AgentContext = {
    url: base.url,
    server,
    dbs: base.dbs,
    db: (role) => server.use(base.dbs[role]),
    config,
    log,
    signal: base.signal,
    instance,
    now: opts.now || (() => new Date()),
    metrics: base.metrics,
  };
  const feedDb = base.dbs[agent.feed];
  return {
    agent,
    ctx,
    opts,
    feedDb,
    // Checkpoints live in the service database, which plain users can neither read nor write.
    checkpoints: new Checkpointer(ctx.db('service'), ctx.db(agent.feed), feedDb, agent.name, log),
    batchSize: opts.batchSize || DEFAULT_BATCH,
    heartbeatMs: opts.heartbeatMs ?? HEARTBEAT_MS,
    beat: null,
    seq: 0,
    savedSeq: 0,
    configFollow: null,
    lastTick: 0,
    lastBeat: 0,
    lastSave: 0,
    more: false,
  };
}

/** Once, and again after an error before it: live config, checkpoint, the agent's own state. */
async function loadOnce(run: Run): Promise<void> {
  if (run.configFollow) return;
  const { ctx, agent } = run;
  await ctx.config.load();
  run.seq = await run.checkpoints.read();
  run.savedSeq = run.seq;
  if (agent.load) await agent.load(ctx);
  run.configFollow = run.opts.once ? Promise.resolve() : ctx.config.follow(ctx.signal);
  ctx.log.info('agent started', { since: run.seq });
}

/** Reads the feed in batches until caught up, acting on each; returns the changes seen. */
async function catchUp(run: Run): Promise<number> {
  const { ctx, agent, opts, batchSize } = run;
  let caughtUp = false;
  let changed = 0;
  while (!caughtUp && !ctx.signal.aborted) {
    const readStart = performance.now();
    const res: ChangesResult = await fetchChanges(
      ctx.url,
      run.feedDb,
      {
        since: run.seq,
        limit: batchSize,
        include_docs: agent.feedDocs !== false,
        feed: 'normal',
        conflicts: agent.feedConflicts || undefined,
      },
      ctx.signal,
    );
    ctx.metrics.changes.inc({ agent: agent.name }, res.results.length);
    ctx.metrics.feedLag.set({ agent: agent.name }, res.pending ?? 0);
    // migrate-db paused or moved this database: stop here, the process follows (agents/lib/moved.ts).
    if (res.results.some((r) => r.id === READONLY_DDOC_ID && !r.deleted))
      throw new DatabaseMovedError(`${run.feedDb} is read-only now`);
    if (res.results.length && agent.onChanges) {
      const end = ctx.metrics.passSeconds.startTimer({ agent: agent.name });
      await agent.onChanges(res.results, ctx);
      end();
    }
    ctx.log.debug('feed batch', { changes: res.results.length, ms: Math.round(performance.now() - readStart) });
    changed += res.results.length;
    await checkpointBatch(run, res);
    caughtUp = res.results.length < batchSize;
    // While catching up on a long feed, keep working: an agent that waited for the whole
    // backlog before acting would leave the rest of the pipeline idle.
    if (!caughtUp && !opts.once && agent.tick && Date.now() - run.lastTick >= INTERLEAVE_MS) {
      run.more = await agent.tick(ctx);
      run.lastTick = Date.now();
    }
  }
  return changed;
}

/** The batch's effects are saved: checkpoint now, or at least once a second while a long feed
 * streams by (every checkpoint is a write that wakes the other agents). */
async function checkpointBatch(run: Run, res: ChangesResult): Promise<void> {
  if (String(res.last_seq) === String(run.seq)) return;
  run.seq = res.last_seq;
  if (res.results.length < run.batchSize || Date.now() - run.lastSave >= CHECKPOINT_MS) {
    await run.checkpoints.save(run.seq);
    run.savedSeq = run.seq;
    run.lastSave = Date.now();
  }
}

async function tickIfDue(run: Run, changed: number): Promise<void> {
  const { ctx, agent, opts } = run;
  if (!agent.tick || !(opts.once || run.more || changed > 0 || Date.now() - run.lastTick >= agent.tickMs)) return;
  // --once: tick until the queue is drained (bounded, in case an agent always says "more").
  for (let i = 0; i < (opts.once ? 10_000 : 1) && !ctx.signal.aborted; i++) {
    const end = ctx.metrics.passSeconds.startTimer({ agent: agent.name });
    run.more = await agent.tick(ctx);
    end();
    run.lastTick = Date.now();
    if (!run.more) break;
  }
}

async function beatIfDue(run: Run): Promise<void> {
  if (Date.now() - run.lastBeat < run.heartbeatMs) return;
  await heartbeat(run);
  run.lastBeat = Date.now();
}

/** Caught up and idle: wait for the next change or the next tick. The embedded server ignores
 * longpoll's timeout (it waits a minute), so the client enforces it. */
async function waitForChange(run: Run): Promise<void> {
  const { ctx, agent } = run;
  const wait = Math.min(LONGPOLL_MS, agent.tickMs);
  const idle = withTimeout(ctx.signal, wait + 250);
  try {
    await fetchChanges(ctx.url, run.feedDb, { since: run.seq, limit: 1, feed: 'longpoll', timeout: wait }, idle.signal);
  } catch (err) {
    if (!idle.signal.aborted) throw err;
  } finally {
    idle.clear();
  }
}

/** Transient errors back off (the returned delay); permanent ones and a moved database stop the agent. */
function classifyFailure(run: Run, err: unknown, failures: number, backoff: Backoff): number {
  const { ctx, agent } = run;
  if (err instanceof DatabaseMovedError) throw err;
  const kind = errorKind(err);
  ctx.metrics.errors.inc({ agent: agent.name, class: kind });
  if (kind === 'permanent') {
    ctx.log.error('permanent error, stopping', { error: (err as Error).message });
    throw err;
  }
  const ms = backoff.delay(failures);
  ctx.log.warn('transient error, backing off', { error: (err as Error).message, ms });
  return ms;
}

/** Final checkpoint, the agent's close, and the last beat; each failure only logged. */
async function stopRun(run: Run): Promise<void> {
  const { ctx, agent } = run;
  const log = ctx.log;
  await run.configFollow?.catch(() => undefined);
  if (String(run.savedSeq) !== String(run.seq))
    await run.checkpoints
      .save(run.seq)
      .catch((err) => log.warn('final checkpoint failed', { error: (err as Error).message }));
  await agent.close?.(ctx).catch((err) => log.warn('close failed', { error: (err as Error).message }));
  // The last beat says this instance stopped cleanly, so the page and doctor do not count it as
  // gone (views/lib/agent-health.ts); an instance killed before this line is told apart by its silence.
  if (run.lastBeat)
    await heartbeat(run, true).catch((err) => log.warn('final heartbeat failed', { error: (err as Error).message }));
  log.info('agent stopped', { seq: run.seq });
}

type RunBase = { url: string; dbs: Config['dbs']; log: Logger; metrics: RunnerMetrics; signal: AbortSignal };

export async function runAgent(agent: Agent, base: RunBase, opts: RunOptions = {}): Promise<void> {
  const run = startRun(agent, base, opts);
  const backoff = opts.backoff || defaultBackoff;
  let failures = 0;
  while (!base.signal.aborted) {
    try {
      await loadOnce(run);
      const changed = await catchUp(run);
      await tickIfDue(run, changed);
      await beatIfDue(run);
      failures = 0;
      if (opts.once) break;
      if (!run.more && !base.signal.aborted) await waitForChange(run);
    } catch (err) {
      if (base.signal.aborted) break;
      await sleep(classifyFailure(run, err, failures++, backoff), base.signal);
    }
  }
  await stopRun(run);
}
