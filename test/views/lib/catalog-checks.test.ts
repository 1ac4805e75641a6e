/**
 * The catalogue's additions to the shared shape checks: a transfer's optional `parents` (the
 * catalogue file's parentage), and the dispatch of catalogue documents by type.
 */
import { catalogDocProblem, transferSubmissionProblem } from '../../../views/lib/checks';
import { expectedCatalogId } from '../../../views/lib/catalog-ids';
import { transferFixture } from '../../support/env';

describe('transfer parents', () => {
  it('accepts a list of LFNs', () => {
    expect(
      transferSubmissionProblem(transferFixture('alice', { parents: ['/store/data/a.root', '/store/data/b.root'] })),
    ).toBeNull();
  });
  it.each([
    ['not a list', '/store/data/a.root', 'parents: must be an array'],
    ['a relative path', ['store/a.root'], 'parents[0]: must be an absolute path starting with /'],
    ['too many', Array.from({ length: 1001 }, (_, i) => `/store/p/${i}.root`), 'parents: more than 1000 entries'],
  ])('refuses %s', (_label, parents, problem) => {
    expect(transferSubmissionProblem(transferFixture('alice', { parents }))).toBe(problem);
  });
});

describe('catalogue documents by type', () => {
  it('refuses an unknown type and has no id for it', () => {
    expect(catalogDocProblem({ type: 'site' })).toMatch(/^type: /);
    expect(expectedCatalogId({ type: 'site' })).toBeNull();
  });
  it('names the first bad field of a quota', () => {
    expect(catalogDocProblem({ type: 'quota', user: 'alice', max_bytes: 1, max_files: 1.5 })).toBe(
      'max_files: must be a non-negative integer',
    );
  });
});
