/**
 * Limits and formats shared by validation, the CLI and the page: lengths, counts, and the regular
 * expressions for site names, checksums, revisions, dates and dataset names. Separate because
 * every topic's checks use them (views/lib/checks/, views/lib/paths.ts).
 */

export const Limits = {
  /** Long enough for CMS LFNs (/store/user/<name>/<primary>/<processed>/<date>/<n>/file.root). */
  lfnMaxLength: 1024,
  nameMaxLength: 128,
  workflowMaxLength: 256,
  reasonMaxLength: 4096,
  /** Keeps a document far below CouchDB's 8 MB max_document_size even with 100s of attempts. */
  attemptsMax: 1000,
  priorityMin: 1,
  priorityMax: 5,
} as const;

/** Site names: CMS style `T2_CH_CERN`; safe in ids, URLs and view keys. */
export const SITE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const ADLER32_RE = /^[0-9a-fA-F]{8}$/;
/** A document revision `N-hash` (CouchDB and PouchDB write hex hashes; replicated ones may differ). */
export const REV_RE = /^[1-9][0-9]{0,9}-[0-9A-Za-z]{1,128}$/;
export const ISO_DATE_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
/** `/primary/processed/TIER`, e.g. `/GenericTTbar/alice-crab_test-v1/USER`. */
export const DATASET_RE = /^\/[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Z][A-Z0-9-]*$/;
// eslint-disable-next-line no-control-regex
export const CONTROL_CHARS_RE = /[\u0000-\u001f\u007f-\u009f]/;
