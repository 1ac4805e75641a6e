/**
 * Shape checks shared by validate_doc_update (compiled into CouchDB), the CLI (before a submit) and
 * the agents. Each returns the first problem as "<field>: <why>", or null when the value is good.
 * Pure functions over plain JSON; no Node APIs (they run inside CouchDB's JS engine).
 *   ./basic.ts         the primitives: one value's checks (text, dates, names, LFNs, lists) and combinators
 *   ./transfer.ts      transfers, transfer jobs, heartbeats
 *   ./config.ts        sites, links, settings
 *   ./catalog.ts       datasets, blocks, files, replicas, quotas
 *   ./data-request.ts  data requests
 * Every check reads the schema's parts (views/schema/limits.ts ...), not its index: the index
 * re-exports the guards built on these checks.
 */
// The primitives by name: basic.ts also exports the combinators the topic files share, which stay inside.
export {
  cleanPathProblem,
  datasetProblem,
  isObject,
  isOneOf,
  isoDateProblem,
  jsonOf,
  lfnProblem,
  listProblem,
  revProblem,
  siteNameProblem,
  stateProblem,
  textProblem,
  type Json,
  type Problem,
} from './basic';
export * from './transfer';
export * from './config';
export * from './catalog';
export * from './data-request';
