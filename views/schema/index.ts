/**
 * The schema's one entry point: `import ... from 'views/schema'`. Views, validate_doc_update,
 * agents, the CLI and the page all import from here; nothing else declares a field or state name.
 *   ./databases.ts      databases, document types, roles, CouchDB's fields, the lease
 *   ./transfers.ts      transfer and transfer-job documents and their fields (the transfer machine drawn)
 *   ./agents.ts         the agents' own documents: locks, heartbeats, `_local` checkpoint ids
 *   ./config.ts         site, link and settings documents
 *   ./catalog.ts        dataset, block, file, replica and quota documents, catalogue ids
 *   ./data-requests.ts  data request documents (replicate, upload, delete)
 *   ./monitor-stats.ts  the monitoring roll-up document
 *   ./design-docs.ts    the read-only marker and the views clients query
 *   ./limits.ts         limits and formats shared by validation, the CLI and the page
 *   ./machines.ts       the four state machines (transfer, publication, request, transfer job)
 *   ./ids.ts            every document id and id prefix
 *   ./guards.ts         type guards built on the validation's shape checks
 * Everything here compiles into CouchDB's JS engine too (no Node APIs), because esbuild inlines
 * what a design function imports. Code under views/lib that the guards depend on (the checks)
 * imports the parts above, not this index, so that no import circle runs through it.
 */
export * from './databases';
export * from './transfers';
export * from './agents';
export * from './config';
export * from './catalog';
export * from './data-requests';
export * from './monitor-stats';
export * from './design-docs';
export * from './limits';
export * from './machines';
export * from './ids';
export * from './guards';
