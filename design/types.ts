import type { DbRole } from '../views/schema';

/** CouchDB's builtin reduces; custom JS reduces are avoided (STYLE 3). */
export type BuiltinReduce = '_count' | '_sum' | '_stats' | '_approx_count_distinct';

export interface ViewSpec {
  /** TypeScript module (from the project root) whose default export is the map function. */
  readonly map: string;
  readonly reduce?: BuiltinReduce;
}

/** A Mango index (`_index`): CouchDB builds these natively, without JavaScript. */
export interface MangoIndexSpec {
  readonly name: string;
  readonly fields: readonly (string | Record<string, 'asc' | 'desc'>)[];
  readonly partial_filter_selector?: Record<string, unknown>;
}

/** One design document: which database, which functions, which attachments. */
export interface DesignSpec {
  readonly db: DbRole;
  readonly name: string;
  readonly validate?: string;
  readonly views?: Readonly<Record<string, ViewSpec>>;
  /** Builds the attachments (the monitoring page). */
  readonly attachments?: (root: string) => Promise<Record<string, Attachment>>;
  /** Mango indexes that belong with this design document's database. */
  readonly indexes?: readonly MangoIndexSpec[];
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
  readonly indexes: readonly MangoIndexSpec[];
}
