/**
 * The schema's one entry point: `import ... from 'views/schema'`.
 *   ./documents.ts  document types, fields, roles, limits, formats
 *   ./machines.ts   the four state machines (transfer, publication, request, transfer job)
 *   ./ids.ts        every document id and id prefix
 *   ./guards.ts     type guards built on the validation's shape checks
 * Everything here compiles into CouchDB's JS engine too (no Node APIs).
 */
export * from './documents';
export * from './machines';
export * from './ids';
export * from './guards';
