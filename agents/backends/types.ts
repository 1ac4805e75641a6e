// The storage layer's contract. Every backend (gfal2 for grid protocols, native for file:// URLs)
// implements TransferBackend; the transfer agent never talks to gfal2 or the filesystem directly.

/** fatal: retrying cannot help (permission, quota, missing source, bad URL) -> the caller fails the file.
 *  transient: worth retrying later (timeouts, dead SE, checksum mismatch, helper crash, anything unknown). */
export type ErrorClass = 'fatal' | 'transient';

export interface CopyRequest {
  /** Caller's id, echoed in the result (e.g. the CouchDB transfer document id). */
  id: string;
  source: string;
  destination: string;
  /** Bytes, if known: only used to size the batch timeout. */
  size?: number;
  /** Expected adler32 of the file: 8 lowercase hex digits. Checked on source and destination. */
  adler32: string;
  /**
   * The sites' storage roots (their endpoints for the protocol). A backend that sees the files
   * itself (native) resolves symbolic links and refuses a source or destination that ends up
   * outside its root; the URL check alone cannot see a link planted inside a user's area.
   */
  roots?: { readonly source?: string; readonly destination?: string };
}

export interface CopyResult {
  id: string;
  ok: boolean;
  /** The verified adler32 (equal to the expected one) when ok. */
  adler32?: string;
  bytes?: number;
  /** Wall time; for a bulk copy, the time of the bulk call the file was part of. */
  seconds: number;
  error?: string;
  errorClass?: ErrorClass;
}

export interface RemoveResult {
  url: string;
  ok: boolean;
  /** false when the file was already absent (still ok: remove is idempotent). */
  existed: boolean;
  error?: string;
  errorClass?: ErrorClass;
}

export interface StatResult {
  url: string;
  exists: boolean;
  size?: number;
  adler32?: string;
  /** Set when existence could not be determined (e.g. the SE is down); exists is then false. */
  error?: string;
}

export interface CopyOptions {
  /** 'stream': data flows through this host (gfal2: root->root is staged locally, see gfal2_helper.py).
   *  'tpc': root->root is a third-party copy between the SEs. Other protocol pairs ignore the mode. */
  mode?: 'stream' | 'tpc';
  /** Default true. */
  overwrite?: boolean;
  /** Aborting resolves the batch with transient 'cancelled' results for unfinished files. */
  signal?: AbortSignal;
}

export interface TransferBackend {
  readonly name: string;
  /** One result per request, same order; never throws for per-file errors. */
  copy(batch: readonly CopyRequest[], opts?: CopyOptions): Promise<CopyResult[]>;
  /** Idempotent: removing a missing file is ok with existed=false. */
  remove(urls: readonly string[]): Promise<RemoveResult[]>;
  stat(urls: readonly string[], withChecksum?: boolean): Promise<StatResult[]>;
  close(): Promise<void>;
}

export const ADLER32_RE = /^[0-9a-f]{8}$/;
