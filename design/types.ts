import type { DbRole } from '../views/schema';

/** CouchDB's builtin reduces (Erlang, no JavaScript round trip per row); custom JS reduces are avoided. */
export type BuiltinReduce = '_count' | '_sum' | '_stats' | '_approx_count_distinct';

export interface ViewSpec {
  /** TypeScript module (from the project root) whose default export is the map function. */
  readonly map: string;
  readonly reduce?: BuiltinReduce;
}

/** One design document: which database, which functions, which attachments. */
export interface DesignSpec {
  readonly db: DbRole;
  readonly name: string;
  readonly validate?: string;
  readonly views?: Readonly<Record<string, ViewSpec>>;
  /** Builds the attachments (the monitoring page). */
  readonly attachments?: (root: string) => Promise<Record<string, Attachment>>;
}

export interface Attachment {
  readonly content_type: string;
  readonly data: Buffer;
}

export interface BuiltDesign {
  readonly db: DbRole;
  readonly id: string;
  /** The document without `_rev`, attachments inline (base64), stamped with version and hash. */
  readonly doc: Record<string, unknown>;
  /** Content hash of functions and attachments; a deploy with an equal hash is a no-op. */
  readonly hash: string;
}
