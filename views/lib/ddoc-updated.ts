/**
 * CouchDB 3 answers a view query that was in flight while its design document changed with
 * `404 {"error":"not_found","reason":"Design document was updated or deleted"}` (fabric's
 * `ddoc_updated`): seen here during the staged upgrade's swap, one query in a few hundred under
 * load. On a 3-node cluster a node that did not take the COPY answered the same with a full stop,
 * `"Design document was updated or deleted."` (test/cluster/migrate-upgrade.test.ts, a query
 * through node b while node a swapped). The same query sent again reads the new design document,
 * so view clients send it once more on exactly these answers and on no other 404.
 */
export const DDOC_UPDATED_REASON = 'Design document was updated or deleted';

export function isDesignDocUpdated(status: number, reason: unknown): boolean {
  return (
    status === 404 &&
    typeof reason === 'string' &&
    (reason === DDOC_UPDATED_REASON || reason === DDOC_UPDATED_REASON + '.')
  );
}
