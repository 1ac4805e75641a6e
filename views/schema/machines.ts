/**
 * The four state machines as data: transfer, publication (a done transfer's `publication_state`),
 * data-handling request, transfer job. Each definition lists its states' moves for agents, its
 * terminal states, its named groups and its conflict rank; `can`, `transition`, the terminal test,
 * the groups and the ranks that validate_doc_update, the agents, the stats, the page, the CLI and
 * the conflict rule use are all derived from it. Plain data and small functions: this module is
 * compiled into CouchDB's JS engine with the validation function.
 */

export type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class TransitionError extends Error {}

export interface MachineSpec<S extends string, G extends string> {
  /** Used in messages: "transfer <id>: a -> b is not allowed". */
  readonly name: string;
  /** The document field holding the state. */
  readonly field: string;
  /** The state the machine's documents are created in. */
  readonly initial: S;
  /** States a document without the field (absent or null) may enter; by default the initial one. */
  readonly entry?: readonly S[];
  /**
   * Allowed moves for agents (`from -> [to]`); every state is a key. Staying in the same state is
   * always allowed (lease renewals, progress). Operators and server admins may set any state.
   */
  readonly transitions: Readonly<Record<S, readonly S[]>>;
  readonly terminal: readonly S[];
  readonly groups: Readonly<Record<G, readonly S[]>>;
  /** Lowest first: on a conflict the revision with the higher rank wins (agents/lib/conflicts.ts). */
  readonly rank: readonly S[];
  /** `transition` stamps `last_update` with the time of the move. */
  readonly stamp: boolean;
  /** Entering a terminal state stamps `finished_at` and sets these fields to null. */
  readonly finish?: { readonly clear: readonly string[] };
}

export interface Machine<S extends string, G extends string> extends MachineSpec<S, G> {
  readonly states: readonly S[];
  readonly ranks: Readonly<Record<S, number>>;
  /** A state of this machine (bad input from a document or a command line). */
  is(u: unknown): u is S;
  /** `from` null or undefined: the document has no state yet (see `entry`). */
  can(from: S | null | undefined, to: S): boolean;
  isTerminal(state: S): boolean;
  inGroup(group: G, state: S): boolean;
  /**
   * The one way agents move a document of this machine: checks `can`, applies `fields`, sets the
   * state, stamps `last_update` (if the machine does) and `finished_at` on a terminal state; fields
   * set to undefined are dropped. Throws TransitionError on a move the machine does not allow.
   */
  transition<D extends { readonly _id: string }>(doc: D, to: S, now: Date, fields?: Partial<Mutable<D>>): D;
}

export function defineMachine<S extends string, G extends string>(spec: MachineSpec<S, G>): Machine<S, G> {
  const states = Object.keys(spec.transitions) as S[];
  const ranks = {} as Record<S, number>;
  for (let i = 0; i < spec.rank.length; i++) ranks[spec.rank[i]] = i;
  const has = (list: readonly S[], s: unknown) => list.indexOf(s as S) >= 0;
  const m: Machine<S, G> = {
    ...spec,
    states,
    ranks,
    is: (u: unknown): u is S => typeof u === 'string' && has(states, u),
    can: (from, to) =>
      from === undefined || from === null
        ? has(spec.entry || [spec.initial], to)
        : has(states, from) && has(states, to) && (from === to || has(spec.transitions[from], to)),
    isTerminal: (state) => has(spec.terminal, state),
    inGroup: (group, state) => has(spec.groups[group], state),
    transition(doc, to, now, fields) {
      const from = (doc as unknown as Record<string, S>)[spec.field];
      if (!m.can(from, to))
        throw new TransitionError(spec.name + ' ' + doc._id + ': ' + from + ' -> ' + to + ' is not allowed');
      const next: Record<string, unknown> = { ...doc, ...(fields || {}) };
      next[spec.field] = to;
      if (spec.stamp) next.last_update = now.toISOString();
      if (spec.finish && has(spec.terminal, to)) {
        next.finished_at = now.toISOString();
        for (let i = 0; i < spec.finish.clear.length; i++) next[spec.finish.clear[i]] = null;
      }
      for (const k of Object.keys(next)) if (next[k] === undefined) delete next[k];
      return next as unknown as typeof doc;
    },
  };
  return m;
}

// ---------------------------------------------------------------------------------------------
// Transfer (the job writes `new`; only agents move it on; drawn in ./documents.ts)
// ---------------------------------------------------------------------------------------------

export const TransferState = {
  new: 'new',
  acquired: 'acquired',
  submitted: 'submitted',
  done: 'done',
  retry: 'retry',
  failed: 'failed',
  killed: 'killed',
  expired: 'expired',
} as const;
export type TransferState = (typeof TransferState)[keyof typeof TransferState];

const T = TransferState;
/** Ended without a copy: failures on the page, and what a user may ask to retry. */
const UNSUCCESSFUL: readonly TransferState[] = [T.failed, T.killed, T.expired];

export const TransferMachine = /* @__PURE__ */ defineMachine({
  name: 'transfer',
  field: 'state',
  initial: T.new,
  transitions: {
    new: [T.acquired, T.failed, T.killed, T.expired],
    // acquired -> done/retry: a copy that ended within `mark_submitted_after` seconds was never
    // marked submitted (one write per file less; see agents/worker/effects.ts).
    acquired: [T.submitted, T.done, T.retry, T.new, T.failed, T.killed, T.expired],
    submitted: [T.done, T.retry, T.failed, T.killed],
    retry: [T.new, T.acquired, T.failed, T.killed, T.expired],
    done: [],
    failed: [T.new],
    killed: [T.new],
    expired: [T.new],
  },
  /** States a transfer stays in unless a user asks for a retry. */
  terminal: ([T.done] as TransferState[]).concat(UNSUCCESSFUL),
  groups: {
    /** On a link's slots (`max_active`), carried by a transfer job. */
    active: [T.acquired, T.submitted],
    /** A user may ask for a resubmission (`retry_requested`). */
    retryable: UNSUCCESSFUL,
    /** Counted as failures (the overview's failure rows, the failures page). */
    failure: UNSUCCESSFUL,
    /** A kill the retrier makes itself; a submitted file is being copied and its worker kills it. */
    killable: [T.new, T.retry, T.acquired],
  },
  /**
   * Furthest along the lifecycle first (read bottom up): done (a verified copy), then the terminal
   * states (no agent undoes them; failed and killed carry a reason the user acts on, expired says
   * only that nothing happened), then the pipeline: submitted > retry > acquired > new.
   */
  rank: [T.new, T.acquired, T.retry, T.submitted, T.expired, T.killed, T.failed, T.done],
  stamp: true,
});

// ---------------------------------------------------------------------------------------------
// Publication (only for `publish: true`, only once `done`)
//   not_published -> publishing -> published
//                        |  ^------------------+
//                        +-> publication_failed  (after publication_max_retry)
// ---------------------------------------------------------------------------------------------

export const PublicationState = {
  notPublished: 'not_published',
  publishing: 'publishing',
  published: 'published',
  failed: 'publication_failed',
} as const;
export type PublicationState = (typeof PublicationState)[keyof typeof PublicationState];

const P = PublicationState;

export const PublicationMachine = /* @__PURE__ */ defineMachine({
  name: 'publication',
  field: 'publication_state',
  initial: P.notPublished,
  transitions: {
    not_published: [P.publishing],
    publishing: [P.published, P.failed, P.notPublished],
    published: [],
    publication_failed: [P.publishing],
  },
  /** A done transfer's first publication_state: the worker's not_published, or the publisher's publishing. */
  entry: [P.notPublished, P.publishing],
  terminal: [P.published],
  groups: {
    /** Assigned to a block: the block's files are these. */
    inBlock: [P.publishing, P.published],
  },
  rank: [P.notPublished, P.failed, P.publishing, P.published],
  stamp: true,
});

// ---------------------------------------------------------------------------------------------
// Data-handling request (replicate, upload, delete)
//   [new] --claimed--> [running] --every file settled--> (done) | (partially_failed) | (failed)
//     +--one-pass upload, or nothing to do--------------------^   (running -> running: leases, progress)
// ---------------------------------------------------------------------------------------------

export const DataRequestState = {
  new: 'new',
  running: 'running',
  done: 'done',
  partiallyFailed: 'partially_failed',
  failed: 'failed',
} as const;
export type DataRequestState = (typeof DataRequestState)[keyof typeof DataRequestState];

const R = DataRequestState;
const DATA_REQUEST_OPEN: readonly DataRequestState[] = [R.new, R.running];
const DATA_REQUEST_FAILURE: readonly DataRequestState[] = [R.partiallyFailed, R.failed];

export const DataRequestMachine = /* @__PURE__ */ defineMachine({
  name: 'request',
  field: 'state',
  initial: R.new,
  transitions: {
    // An upload is verified and registered in one pass: new -> a final state directly.
    new: ([R.running, R.done] as DataRequestState[]).concat(DATA_REQUEST_FAILURE),
    running: ([R.done] as DataRequestState[]).concat(DATA_REQUEST_FAILURE),
    done: [],
    partially_failed: [],
    failed: [],
  },
  terminal: ([R.done] as DataRequestState[]).concat(DATA_REQUEST_FAILURE),
  groups: {
    /** Work left to do. */
    open: DATA_REQUEST_OPEN,
    /** Finished with files that could not be handled. */
    failure: DATA_REQUEST_FAILURE,
  },
  rank: [R.new, R.running, R.failed, R.partiallyFailed, R.done],
  stamp: true,
  finish: { clear: ['lease', 'next_attempt_at'] },
});

// ---------------------------------------------------------------------------------------------
// Transfer job: queued -> active -> done (active -> active: lease renewals and takeovers)
// ---------------------------------------------------------------------------------------------

export const TransferJobState = { queued: 'queued', active: 'active', done: 'done' } as const;
export type TransferJobState = (typeof TransferJobState)[keyof typeof TransferJobState];

const J = TransferJobState;

export const TransferJobMachine = /* @__PURE__ */ defineMachine({
  name: 'transfer job',
  field: 'state',
  initial: J.queued,
  transitions: {
    queued: [J.active],
    active: [J.done],
    done: [],
  },
  terminal: [J.done],
  groups: {
    /** Work for a worker: to claim, or to take over once its lease expired. */
    open: [J.queued, J.active],
  },
  rank: [J.queued, J.active, J.done],
  // A job has no last_update; its lease says when it was last touched.
  stamp: false,
  finish: { clear: ['lease'] },
});

// ---------------------------------------------------------------------------------------------
// Derived names (what the rest of the tree imports)
// ---------------------------------------------------------------------------------------------

export const TRANSFER_STATES: readonly TransferState[] = TransferMachine.states;
export const TERMINAL_STATES: readonly TransferState[] = TransferMachine.terminal;
export const RETRYABLE_STATES: readonly TransferState[] = TransferMachine.groups.retryable;
export const PUBLICATION_STATES: readonly PublicationState[] = PublicationMachine.states;
export const DATA_REQUEST_STATES: readonly DataRequestState[] = DataRequestMachine.states;
export const REQUEST_TERMINAL_STATES: readonly DataRequestState[] = DataRequestMachine.terminal;
export const TRANSFER_JOB_STATES: readonly TransferJobState[] = TransferJobMachine.states;

export function isTerminal(state: TransferState): boolean {
  return TransferMachine.isTerminal(state);
}
