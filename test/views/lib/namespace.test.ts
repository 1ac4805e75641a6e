/**
 * Owners' namespaces (views/lib/namespace.ts): which LFNs a user's transfer may read and write,
 * which datasets it may publish into, and the site `namespaces` setting the config validation takes.
 */
import {
  DEFAULT_NAMESPACES,
  datasetOwnerProblem,
  groupsOf,
  ownerAreaProblem,
  siteNamespacesProblem,
  templateProblem,
  transferOwnerProblem,
} from '../../../views/lib/namespace';
import { siteProblem } from '../../../views/lib/checks';
import { GROUP_ROLE_PREFIX } from '../../../views/schema';

const fixture = (over: Record<string, unknown> = {}) => ({
  user: 'alice',
  source_lfn: '/store/temp/user/alice/wf/a.root',
  destination_lfn: '/store/user/alice/wf/a.root',
  publish: false,
  ...over,
});

describe('ownerAreaProblem with the CMS defaults', () => {
  const dest = DEFAULT_NAMESPACES.destination;
  it.each([
    ['the user area', '/store/user/alice/wf/a.root', [], null],
    ['deep in the user area', '/store/user/alice/a/b/c/d.root', [], null],
    ['the group area of a group held', '/store/group/higgs/wf/a.root', ['higgs'], null],
    ["another user's area", '/store/user/bob/wf/a.root', [], /own area, under \/store\/user\/alice\//],
    ['a user whose name starts with alice', '/store/user/alicex/a.root', [], /own area/],
    ['the area itself, no file below it', '/store/user/alice', [], /own area/],
    ['a file directly named like the user', '/store/user/alice.root', [], /own area/],
    ['a group area of a group not held', '/store/group/top/a.root', ['higgs'], /only the transfer's group higgs/],
    [
      'a group area without a group',
      '/store/group/higgs/a.root',
      [],
      /group: <group> and the role couchstage-group-<group>/,
    ],
    ['the temporary area', '/store/temp/user/alice/a.root', [], /own area/],
    ['outside /store', '/etc/passwd', [], /own area/],
  ])('%s', (_l, lfn, groups, expected) => {
    const p = ownerAreaProblem('destination_lfn', lfn, dest, 'alice', groups as string[]);
    if (expected === null) expect(p).toBeNull();
    else expect(p).toMatch(new RegExp('^destination_lfn: .*' + (expected as RegExp).source));
  });

  it("reads sources only from the user's own temporary area", () => {
    expect(
      ownerAreaProblem('source_lfn', '/store/temp/user/alice/wf/a.root', DEFAULT_NAMESPACES.source, 'alice', ['higgs']),
    ).toBeNull();
    expect(
      ownerAreaProblem('source_lfn', '/store/temp/user/bob/wf/a.root', DEFAULT_NAMESPACES.source, 'alice', []),
    ).toMatch(/^source_lfn: must be in your own area, under \/store\/temp\/user\/alice\//);
    expect(ownerAreaProblem('source_lfn', '/store/user/alice/a.root', DEFAULT_NAMESPACES.source, 'alice', [])).toMatch(
      /^source_lfn: /,
    );
  });

  it("takes a site's own templates, with the placeholder anywhere", () => {
    const ns = ['/eos/cms/store/{group}/rucio/', '/store/user/{user}/crab/'];
    expect(ownerAreaProblem('f', '/eos/cms/store/higgs/rucio/a.root', ns, 'alice', ['higgs'])).toBeNull();
    expect(ownerAreaProblem('f', '/eos/cms/store/higgs/other/a.root', ns, 'alice', ['higgs'])).toMatch(/^f: /);
    expect(ownerAreaProblem('f', '/store/user/alice/crab/a.root', ns, 'alice', [])).toBeNull();
    expect(ownerAreaProblem('f', '/store/user/alice/a.root', ns, 'alice', [])).toMatch(
      /^f: .*\/store\/user\/alice\/crab\//,
    );
  });
});

describe('transferOwnerProblem', () => {
  it.each([
    ["a transfer of the user's own files", fixture(), [], null],
    [
      'a user name that is not one path segment',
      fixture({
        user: 'bob/x',
        source_lfn: '/store/temp/user/bob/x/a.root',
        destination_lfn: '/store/user/bob/x/a.root',
      }),
      [],
      /^user: /,
    ],
    ['a user name ..', fixture({ user: '..' }), [], /^user: /],
    ['a group whose role is not held', fixture({ group: 'higgs' }), [], /^group: .*couchstage-group-higgs/],
    [
      'a group held, writing its area',
      fixture({ group: 'higgs', destination_lfn: '/store/group/higgs/a.root' }),
      ['higgs'],
      null,
    ],
    ["a source in another user's area", fixture({ source_lfn: '/store/temp/user/bob/a.root' }), [], /^source_lfn: /],
    [
      "a destination in another user's area",
      fixture({ destination_lfn: '/store/user/bob/a.root' }),
      [],
      /^destination_lfn: /,
    ],
    ["publishing the user's dataset", fixture({ publish: true, dataset: '/P/alice-v1/USER' }), [], null],
    [
      "publishing another user's dataset",
      fixture({ publish: true, dataset: '/P/bob-v1/USER' }),
      [],
      /^dataset: .*"alice-"/,
    ],
    [
      "a dataset whose name only starts with the user's",
      fixture({ publish: true, dataset: '/P/alicebob-v1/USER' }),
      [],
      /^dataset: /,
    ],
    [
      "publishing the group's dataset",
      fixture({ group: 'higgs', publish: true, dataset: '/P/higgs-v1/USER' }),
      ['higgs'],
      null,
    ],
    [
      'publishing a group dataset without the group',
      fixture({ publish: true, dataset: '/P/higgs-v1/USER' }),
      ['higgs'],
      /^dataset: /,
    ],
  ])('%s', (_l, doc, allowed, expected) => {
    const p = transferOwnerProblem(doc as never, DEFAULT_NAMESPACES, allowed as string[]);
    if (expected === null) expect(p).toBeNull();
    else expect(p).toMatch(expected as RegExp);
  });

  it('reads groups only from couchstage-group-<group> roles', () => {
    expect(
      groupsOf(['couchstage-user', GROUP_ROLE_PREFIX + 'higgs', GROUP_ROLE_PREFIX + 'a/b', GROUP_ROLE_PREFIX, 'higgs']),
    ).toEqual(['higgs']);
    expect(datasetOwnerProblem('d', '/P/top-v1/USER', 'alice', 'top')).toBeNull();
  });
});

describe('site namespaces (config validation)', () => {
  const site = (namespaces: unknown) => ({ name: 'T2_X', endpoints: { file: 'file:///d' }, tfc: [], namespaces });
  it.each([
    ['the defaults written out', DEFAULT_NAMESPACES, null],
    ['only a destination list', { destination: ['/store/user/{user}/'] }, null],
    ['a template without an owner', { destination: ['/store/public/'] }, /exactly one \{user\} or \{group\}/],
    ['two placeholders', { destination: ['/store/{group}/{user}/'] }, /exactly one/],
    ['a relative template', { source: ['store/temp/{user}/'] }, /absolute, ending with \//],
    ['no trailing slash', { source: ['/store/temp/{user}'] }, /ending with \//],
    ['a .. segment', { source: ['/store/../{user}/'] }, /segment "\.\."/],
    ['a % segment', { source: ['/store/%2e%2e/{user}/'] }, /not a plain name/],
    ['an empty list', { source: [] }, /list of 1 to 32/],
    ['an unknown key', { sources: ['/store/{user}/'] }, /\.sources: unknown field/],
  ])('%s', (_l, ns, expected) => {
    const p = siteProblem(site(ns) as never);
    if (expected === null) expect(p).toBeNull();
    else expect(p).toMatch(new RegExp('^namespaces.*' + (expected as RegExp).source));
  });

  it('checks a template alone', () => {
    expect(templateProblem('t', '/store/user/{user}/')).toBeNull();
    expect(siteNamespacesProblem('n', null)).toMatch(/^n: must be an object/);
  });
});
