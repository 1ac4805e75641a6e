/**
 * The catalogue's deterministic ids, computed from content (views/schema CatalogId + SHA-224), shared
 * by validate_doc_update (which refuses any other id), the publisher, the CLI and migration.
 * Pure JavaScript: it compiles into CouchDB's engine with the validate function.
 */
import { CatalogId, uuidFromHex } from '../schema';
import { sha224Hex } from './sha224';

/** `file:<sha224(lfn)>`. */
export function fileIdOf(lfn: string): string {
  return CatalogId.file(sha224Hex(lfn));
}

/** `replica:<sha224(lfn)>:<site>`. */
export function replicaIdOf(lfn: string, site: string): string {
  return CatalogId.replica(sha224Hex(lfn), site);
}

/** The file's GUID: a UUID from SHA-224 of `guid:` + LFN (stable across replays and migrations). */
export function guidOf(lfn: string): string {
  return uuidFromHex(sha224Hex('guid:' + lfn));
}

/**
 * A block's name, `<dataset>#<uuid>`: the uuid comes from the owner, the dataset and the id of the
 * first transfer put into it, so whoever (re)computes it from the same inputs gets the same block.
 */
export function blockNameOf(dataset: string, owner: string, firstTransferId: string): string {
  return dataset + '#' + uuidFromHex(sha224Hex('block:' + owner + '\u0000' + dataset + '\u0000' + firstTransferId));
}

/** The id a well-formed catalogue document must have, from its content. */
export function expectedCatalogId(doc: { readonly [k: string]: unknown }): string | null {
  switch (doc.type) {
    case 'dataset':
      return CatalogId.dataset(doc.name as string);
    case 'block':
      return CatalogId.block(doc.name as string);
    case 'file':
      return fileIdOf(doc.lfn as string);
    case 'replica':
      return replicaIdOf(doc.lfn as string, doc.site as string);
    case 'quota':
      return CatalogId.quota(doc.user as string);
    default:
      return null;
  }
}
