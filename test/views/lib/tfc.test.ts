/**
 * LFN -> PFN in the style of CMS's trivial file catalogue (views/lib/tfc.ts): ordered rules per
 * protocol, `$n` groups, chained protocols, and the rule checks the config validate_doc_update runs.
 */
import { lfnToPfn, pfnRootProblem, tfcRuleProblem } from '../../../views/lib/tfc';
import { choosePfns, transferPfns } from '../../../agents/lib/pfn';
import { pfnAt } from '../../../agents/lib/catalog-access';
import type { TfcRule } from '../../../views/schema';

const site = (tfc: TfcRule[]) => ({ tfc });

/** Shaped after a CMS storage.xml: a `direct` (POSIX) mapping and xrootd/gsiftp chained onto it. */
const CERN: TfcRule[] = [
  { protocol: 'direct', path_match: '/+store/temp/(.*)', result: '/eos/cms/tmp/$1' },
  { protocol: 'direct', path_match: '/+store/(.*)', result: '/eos/cms/store/$1' },
  { protocol: 'root', chain: 'direct', path_match: '/+(.*)', result: 'root://eoscms.cern.ch//$1' },
  {
    protocol: 'gsiftp',
    chain: 'direct',
    path_match: '/eos/cms/(.*)',
    result: 'gsiftp://eoscmsftp.cern.ch:2811/eos/cms/$1',
  },
  { protocol: 'file', path_match: '/+store/(user|temp)/([^/]+)/(.*)', result: 'file:///data/$1/$2/$3' },
];

describe('lfnToPfn', () => {
  it('applies the first matching rule of the protocol', () => {
    expect(lfnToPfn(site(CERN), 'direct', '/store/user/alice/a.root')).toBe('/eos/cms/store/user/alice/a.root');
  });

  it('stops at the first match even when a later rule also matches (order matters)', () => {
    expect(lfnToPfn(site(CERN), 'direct', '/store/temp/user/alice/a.root')).toBe('/eos/cms/tmp/user/alice/a.root');
    const reversed = [CERN[1], CERN[0]];
    expect(lfnToPfn(site(reversed), 'direct', '/store/temp/user/alice/a.root')).toBe(
      '/eos/cms/store/temp/user/alice/a.root',
    );
  });

  it('substitutes several groups ($1..$3) in order', () => {
    expect(lfnToPfn(site(CERN), 'file', '/store/user/alice/wf/0000/a.root')).toBe(
      'file:///data/user/alice/wf/0000/a.root',
    );
  });

  it('replaces a group that did not participate in the match by the empty string', () => {
    const rules: TfcRule[] = [{ protocol: 'file', path_match: '/store/(x)?(.*)', result: 'file:///d/[$1]$2' }];
    expect(lfnToPfn(site(rules), 'file', '/store/a.root')).toBe('file:///d/[]a.root');
  });

  it('matches the whole name, not a part of it', () => {
    const rules: TfcRule[] = [{ protocol: 'file', path_match: '/store/(.*)\\.root', result: 'file:///d/$1' }];
    expect(lfnToPfn(site(rules), 'file', '/store/a.root')).toBe('file:///d/a');
    expect(lfnToPfn(site(rules), 'file', '/store/a.root.tmp')).toBeNull();
    expect(lfnToPfn(site(rules), 'file', '/other/store/a.root')).toBeNull();
  });

  it('keeps the whole name matched even when the pattern has alternatives', () => {
    const rules: TfcRule[] = [{ protocol: 'file', path_match: '/store/a|/store/b', result: 'file:///d' }];
    expect(lfnToPfn(site(rules), 'file', '/store/a')).toBe('file:///d');
    expect(lfnToPfn(site(rules), 'file', '/store/a/more')).toBeNull();
    expect(lfnToPfn(site(rules), 'file', '/x/store/b')).toBeNull();
  });

  it('maps through the chained protocol first, then matches its result (root -> direct)', () => {
    expect(lfnToPfn(site(CERN), 'root', '/store/user/alice/a.root')).toBe(
      'root://eoscms.cern.ch//eos/cms/store/user/alice/a.root',
    );
    expect(lfnToPfn(site(CERN), 'root', '/store/temp/user/alice/a.root')).toBe(
      'root://eoscms.cern.ch//eos/cms/tmp/user/alice/a.root',
    );
    expect(lfnToPfn(site(CERN), 'gsiftp', '/store/user/alice/a.root')).toBe(
      'gsiftp://eoscmsftp.cern.ch:2811/eos/cms/store/user/alice/a.root',
    );
  });

  it('skips a chained rule whose chained protocol does not map the name, and tries the next rule', () => {
    const rules: TfcRule[] = [
      { protocol: 'direct', path_match: '/store/(.*)', result: '/data/$1' },
      { protocol: 'root', chain: 'direct', path_match: '/(.*)', result: 'root://chained//$1' },
      { protocol: 'root', path_match: '/(.*)', result: 'root://plain//$1' },
    ];
    expect(lfnToPfn(site(rules), 'root', '/store/a.root')).toBe('root://chained//data/a.root');
    expect(lfnToPfn(site(rules), 'root', '/other/a.root')).toBe('root://plain//other/a.root');
  });

  it('follows chains of several steps', () => {
    const rules: TfcRule[] = [
      { protocol: 'a', path_match: '/store/(.*)', result: '/a/$1' },
      { protocol: 'b', chain: 'a', path_match: '/a/(.*)', result: '/b/$1' },
      { protocol: 'c', chain: 'b', path_match: '/b/(.*)', result: 'c://host/$1' },
    ];
    expect(lfnToPfn(site(rules), 'c', '/store/x.root')).toBe('c://host/x.root');
  });

  it('answers null when no rule of the protocol matches', () => {
    expect(lfnToPfn(site(CERN), 'direct', '/other/a.root')).toBeNull();
    expect(lfnToPfn(site(CERN), 'root', '/other/a.root')).toBeNull();
  });

  it('answers null for a protocol the site has no rules for', () => {
    expect(lfnToPfn(site(CERN), 'davs', '/store/user/alice/a.root')).toBeNull();
    expect(lfnToPfn(site([]), 'root', '/store/user/alice/a.root')).toBeNull();
  });

  it('answers null (and returns) for a chain loop, however it is built', () => {
    const loop: TfcRule[] = [
      { protocol: 'root', chain: 'file', path_match: '(.*)', result: '$1' },
      { protocol: 'file', chain: 'root', path_match: '(.*)', result: '$1' },
    ];
    expect(lfnToPfn(site(loop), 'root', '/store/a.root')).toBeNull();
    expect(lfnToPfn(site(loop), 'file', '/store/a.root')).toBeNull();
    const longLoop: TfcRule[] = ['a', 'b', 'c', 'd'].map((p, i, all) => ({
      protocol: p,
      chain: all[(i + 1) % all.length],
      path_match: '(.*)',
      result: '$1',
    }));
    expect(lfnToPfn(site(longLoop), 'a', '/store/a.root')).toBeNull();
  });

  it('allows a chain as deep as a real catalogue (8 steps)', () => {
    const rules: TfcRule[] = [{ protocol: 'p0', path_match: '(.*)', result: '$1' }];
    for (let i = 1; i <= 8; i++)
      rules.push({ protocol: 'p' + i, chain: 'p' + (i - 1), path_match: '(.*)', result: '$1/' + i });
    expect(lfnToPfn(site(rules), 'p8', '/s')).toBe('/s/1/2/3/4/5/6/7/8');
  });
});

describe('tfcRuleProblem', () => {
  const good = { protocol: 'root', path_match: '/+(.*)', result: 'root://host//$1' };

  it.each([
    ['a plain rule', good],
    ['a chained rule', { ...good, chain: 'direct' }],
    ['a protocol with digits, dots, dashes and +', { ...good, protocol: 'srm+v2.2-x' }],
  ])('accepts %s', (_label, rule) => {
    expect(tfcRuleProblem('tfc[0]', rule)).toBeNull();
  });

  it.each([
    ['not an object', 'tfc[0]', 'root'],
    ['null', 'tfc[0]', null],
    ['an array', 'tfc[0]', [good]],
    ['an unknown field', 'tfc[0].destination_match', { ...good, destination_match: '.*' }],
    ['a missing protocol', 'tfc[0].protocol', { ...good, protocol: undefined }],
    ['an uppercase protocol', 'tfc[0].protocol', { ...good, protocol: 'Root' }],
    ['a chain that is not a protocol name', 'tfc[0].chain', { ...good, chain: 'no such' }],
    ['a chain to its own protocol', 'tfc[0].chain', { ...good, chain: 'root' }],
    ['an empty path_match', 'tfc[0].path_match', { ...good, path_match: '' }],
    ['a path_match that is not a string', 'tfc[0].path_match', { ...good, path_match: 1 }],
    ['a path_match that does not compile', 'tfc[0].path_match', { ...good, path_match: '/store/(.*' }],
    ['a path_match with an out-of-order range', 'tfc[0].path_match', { ...good, path_match: '[z-a]' }],
    [
      'a path_match that only compiles inside the anchoring group',
      'tfc[0].path_match',
      { ...good, path_match: '/store/x)|(.*' },
    ],
    ['an empty result', 'tfc[0].result', { ...good, result: '' }],
    ['a missing result', 'tfc[0].result', { ...good, result: undefined }],
  ])('refuses %s, naming %s', (_label, field, rule) => {
    const problem = tfcRuleProblem('tfc[0]', rule);
    expect(problem).not.toBeNull();
    expect(problem!.startsWith(field + ': ')).toBe(true);
  });
});

describe("pfnRootProblem and choosePfns: every PFN stays below its site's storage root", () => {
  const FILE_SITE = {
    name: 'T2_X',
    endpoints: { file: 'file:///data/se/T2_X' },
    tfc: [{ protocol: 'file', path_match: '/+(.*)', result: 'file:///data/se/T2_X/$1' }],
  };
  const ROOT_SITE = {
    name: 'T2_Y',
    endpoints: { root: 'root://127.0.0.1:1094' },
    tfc: [{ protocol: 'root', path_match: '/+(.*)', result: 'root://127.0.0.1:1094//$1' }],
  };

  it.each([
    ['a file PFN below the root', FILE_SITE, 'file', 'file:///data/se/T2_X/store/user/a/x.root', null],
    ['a root PFN (host//path)', ROOT_SITE, 'root', 'root://127.0.0.1:1094//store/user/a/x.root', null],
    [
      'a sibling directory whose name starts with the root',
      FILE_SITE,
      'file',
      'file:///data/se/T2_XY/x.root',
      /outside the storage root file:\/\/\/data\/se\/T2_X of T2_X/,
    ],
    ['the root itself', FILE_SITE, 'file', 'file:///data/se/T2_X', /outside/],
    [
      'a .. step out of the root',
      FILE_SITE,
      'file',
      'file:///data/se/T2_X/../../../etc/passwd',
      /outside.*\.\. segments/,
    ],
    [
      '%2e%2e, which URL parsing turns into ..',
      FILE_SITE,
      'file',
      'file:///data/se/T2_X/%2e%2e/%2e%2e/tmp/x',
      /outside.*% \? #/,
    ],
    [
      'a query (XRootD CGI)',
      ROOT_SITE,
      'root',
      'root://127.0.0.1:1094//store/x.root?xrd.wantprot=unix',
      /outside.*% \? #/,
    ],
    ['a fragment', ROOT_SITE, 'root', 'root://127.0.0.1:1094//store/x.root#y', /outside/],
    [
      'another host',
      ROOT_SITE,
      'root',
      'root://evil.example:1094//store/x.root',
      /outside the storage root root:\/\/127\.0\.0\.1:1094/,
    ],
    ['another port on the same host', ROOT_SITE, 'root', 'root://127.0.0.1:10940//store/x.root', /outside/],
    ['a protocol the site has no endpoint for', FILE_SITE, 'root', 'root://127.0.0.1:1094//x', /no root endpoint/],
  ])('%s', (_l, s, protocol, pfn, expected) => {
    const p = pfnRootProblem(s, protocol, pfn);
    if (expected === null) expect(p).toBeNull();
    else expect(p).toMatch(expected as RegExp);
  });

  it('refuses, with a reason, a TFC rule whose result leaves the root for a clean LFN', () => {
    const escaping = {
      ...FILE_SITE,
      tfc: [{ protocol: 'file', path_match: '/store/user/([^/]+)/(.*)', result: 'file:///home/$1/$2' }],
    };
    const sites = new Map<string, never>([
      ['T2_X', FILE_SITE as never],
      ['T2_Z', { ...escaping, name: 'T2_Z' } as never],
    ]);
    const ok = choosePfns(sites, 'T2_X', 'T2_X', '/store/temp/user/a/x.root', '/store/user/a/x.root');
    expect(ok).toEqual({
      ok: true,
      protocol: 'file',
      source_pfn: 'file:///data/se/T2_X/store/temp/user/a/x.root',
      destination_pfn: 'file:///data/se/T2_X/store/user/a/x.root',
    });
    const out = choosePfns(sites, 'T2_X', 'T2_Z', '/store/temp/user/a/x.root', '/store/user/a/.ssh/authorized_keys');
    expect(out).toEqual({
      ok: false,
      reason: expect.stringMatching(
        /^refused: pfn: file:\/\/\/home\/a\/\.ssh\/authorized_keys is outside the storage root file:\/\/\/data\/se\/T2_X of T2_Z/,
      ),
    });
  });

  it("refuses a transfer outside the sites' namespaces before mapping it, and follows a site's own namespaces", () => {
    const narrowed = { ...FILE_SITE, name: 'T2_N', namespaces: { destination: ['/store/user/{user}/crab/'] } };
    const sites = new Map<string, never>([
      ['T2_X', FILE_SITE as never],
      ['T2_N', narrowed as never],
    ]);
    const doc = {
      _id: 'x',
      user: 'a',
      source: 'T2_X',
      destination: 'T2_X',
      source_lfn: '/store/temp/user/a/x.root',
      destination_lfn: '/store/user/a/x.root',
      publish: false,
    };
    expect(transferPfns(doc as never, sites).ok).toBe(true);
    expect(transferPfns({ ...doc, source_lfn: '/store/temp/user/b/x.root' } as never, sites)).toEqual({
      ok: false,
      reason: expect.stringMatching(
        /^refused: source_lfn: must be in your own area, under \/store\/temp\/user\/a\/ \(site namespaces of T2_X -> T2_X\)/,
      ),
    });
    expect(transferPfns({ ...doc, destination: 'T2_N' } as never, sites)).toEqual({
      ok: false,
      reason: expect.stringMatching(/^refused: destination_lfn: .*\/store\/user\/a\/crab\//),
    });
    expect(
      transferPfns({ ...doc, destination: 'T2_N', destination_lfn: '/store/user/a/crab/x.root' } as never, sites).ok,
    ).toBe(true);
    // A replicate request's transfer keeps the catalogued LFN, and may not change it.
    const rt = { ...doc, _id: 'rt-1', source_lfn: '/store/user/b/x.root', destination_lfn: '/store/user/b/x.root' };
    expect(transferPfns(rt as never, sites).ok).toBe(true);
    expect(transferPfns({ ...rt, destination_lfn: '/store/user/a/x.root' } as never, sites)).toEqual({
      ok: false,
      reason: expect.stringMatching(/keeps its LFN/),
    });
  });
});

describe('pfnAt (data handling: upload checks and deletions)', () => {
  it("never names a PFN outside the site's storage root, so nothing there is stat-ed or removed", () => {
    const site = {
      _id: 'site:T2_X',
      type: 'site' as const,
      name: 'T2_X',
      endpoints: { file: 'file:///data/se/T2_X' },
      tfc: [
        { protocol: 'file', path_match: '/store/user/admin/(.*)', result: 'file:///etc/$1' },
        { protocol: 'file', path_match: '/+(.*)', result: 'file:///data/se/T2_X/$1' },
      ],
    };
    expect(pfnAt(site, '/store/user/alice/a.root', () => true)).toBe('file:///data/se/T2_X/store/user/alice/a.root');
    expect(pfnAt(site, '/store/user/admin/shadow', () => true)).toBeNull();
  });
});
