/** Which answers a view client sends once more: CouchDB's "design document changed" 404, in both forms seen. */
import { isDesignDocUpdated } from '../../../views/lib/ddoc-updated';

describe('isDesignDocUpdated', () => {
  it('takes the single node’s reason and the cluster’s, with its full stop', () => {
    expect(isDesignDocUpdated(404, 'Design document was updated or deleted')).toBe(true);
    expect(isDesignDocUpdated(404, 'Design document was updated or deleted.')).toBe(true);
  });
  it('refuses every other answer', () => {
    expect(isDesignDocUpdated(404, 'missing')).toBe(false);
    expect(isDesignDocUpdated(404, 'deleted')).toBe(false);
    expect(isDesignDocUpdated(500, 'Design document was updated or deleted')).toBe(false);
    expect(isDesignDocUpdated(404, 'Design document was updated or deleted..')).toBe(false);
    expect(isDesignDocUpdated(404, undefined)).toBe(false);
  });
});
