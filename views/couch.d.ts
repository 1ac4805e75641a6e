/** Globals CouchDB (and PouchDB) give design functions. */
declare function emit(key: unknown, value?: unknown): void;
