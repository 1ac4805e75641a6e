/**
 * Counters of writes that caches elsewhere in the server depend on, kept by
 * patches/leveldown-cache.ts (every write of every database passes through it).
 */
/**
 * Bumped whenever any database writes a `_local/_security` document or is closed: memos of
 * security objects (patches/pouchdb-security-get-security.ts) are valid only for the generation they were read in.
 */
let securityGen = 0;
/** A write of a security document or a close of a database: every security memo ends. */
export const bumpSecurityGeneration = (): void => {
  securityGen++;
};
export const securityGeneration = (): number => securityGen;
export const SECURITY_KEY = '_local/_security';

/**
 * Writes per database location, for caches of what a database holds elsewhere (the remembered
 * users of authz/identity.ts end with any write of `_users`): changes with every batch, clear and reopen.
 */
export const writeCounts = new Map<string, { id: number; n: number }>();
let opened = 0;
/** A new counter of writes for the database at `location`. */
export function countWrites(location: string): { id: number; n: number } {
  const c = { id: ++opened, n: 0 };
  writeCounts.set(location, c);
  return c;
}
export function writeCounter(location: string): string {
  const c = writeCounts.get(location);
  return c ? `${c.id}:${c.n}` : 'none';
}
