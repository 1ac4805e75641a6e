/**
 * The catalogue's queries, each one or two HTTP requests on the `query` views
 * (design/catalog-query.ts) or the primary index. Shared by `couchstage catalog` and the
 * benchmark. Block-centred answers join through the block documents: a file, replica or location
 * counts only when its block document exists, so a block in the middle of a migration is seen
 * whole or not at all (catalog-join.ts). The queries are in catalog-names.ts (datasets, blocks,
 * files, names, parentage, directories) and catalog-placement.ts (replicas, locations, sites,
 * usage); this file keeps the one import path.
 */
export { visibleBlocks, type Catalog } from './catalog-join';
export * from './catalog-names';
export * from './catalog-placement';
