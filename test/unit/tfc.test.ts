/**
 * LFN -> PFN in the style of CMS's trivial file catalogue (views/lib/tfc.ts): ordered rules per
 * protocol, `$n` groups, chained protocols, and the rule checks the config validate_doc_update runs.
 */
import { lfnToPfn, tfcRuleProblem } from '../../views/lib/tfc';
import type { TfcRule } from '../../views/schema';

const site = (tfc: TfcRule[]) => ({ tfc });

/** Shaped after a CMS storage.xml: a `direct` (POSIX) mapping and xrootd/gsiftp chained onto it. */
const CERN: TfcRule[] = [
  { protocol: 'direct', path_match: '/+store/temp/(.*)', result: '/eos/cms/tmp/$1' },
  { protocol: 'direct', path_match: '/+store/(.*)', result: '/eos/cms/store/$1' },
  { protocol: 'root', chain: 'direct', path_match: '/+(.*)', result: 'root://eoscms.cern.ch//$1' },
  { protocol: 'gsiftp', chain: 'direct', path_match: '/eos/cms/(.*)', result: 'gsiftp://eoscmsftp.cern.ch:2811/eos/cms/$1' },
  { protocol: 'file', path_match: '/+store/(user|temp)/([^/]+)/(.*)', result: 'file:///data/$1/$2/$3' },
];

describe('lfnToPfn', () => {
  it('applies the first matching rule of the protocol', () => {
    expect(lfnToPfn(site(CERN), 'direct', '/store/user/alice/a.root')).toBe('/eos/cms/store/user/alice/a.root');
  });

  it('stops at the first match even when a later rule also matches (order matters)', () => {
    expect(lfnToPfn(site(CERN), 'direct', '/store/temp/user/alice/a.root')).toBe('/eos/cms/tmp/user/alice/a.root');
    const reversed = [CERN[1], CERN[0]];
    expect(lfnToPfn(site(reversed), 'direct', '/store/temp/user/alice/a.root')).toBe('/eos/cms/store/temp/user/alice/a.root');
  });

  it('substitutes several groups ($1..$3) in order', () => {
    expect(lfnToPfn(site(CERN), 'file', '/store/user/alice/wf/0000/a.root')).toBe('file:///data/user/alice/wf/0000/a.root');
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
    expect(lfnToPfn(site(CERN), 'root', '/store/user/alice/a.root')).toBe('root://eoscms.cern.ch//eos/cms/store/user/alice/a.root');
    expect(lfnToPfn(site(CERN), 'root', '/store/temp/user/alice/a.root')).toBe('root://eoscms.cern.ch//eos/cms/tmp/user/alice/a.root');
    expect(lfnToPfn(site(CERN), 'gsiftp', '/store/user/alice/a.root')).toBe('gsiftp://eoscmsftp.cern.ch:2811/eos/cms/store/user/alice/a.root');
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
    const longLoop: TfcRule[] = ['a', 'b', 'c', 'd'].map((p, i, all) => ({ protocol: p, chain: all[(i + 1) % all.length], path_match: '(.*)', result: '$1' }));
    expect(lfnToPfn(site(longLoop), 'a', '/store/a.root')).toBeNull();
  });

  it('allows a chain as deep as a real catalogue (8 steps)', () => {
    const rules: TfcRule[] = [{ protocol: 'p0', path_match: '(.*)', result: '$1' }];
    for (let i = 1; i <= 8; i++) rules.push({ protocol: 'p' + i, chain: 'p' + (i - 1), path_match: '(.*)', result: '$1/' + i });
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
    ['a path_match that only compiles inside the anchoring group', 'tfc[0].path_match', { ...good, path_match: '/store/x)|(.*' }],
    ['an empty result', 'tfc[0].result', { ...good, result: '' }],
    ['a missing result', 'tfc[0].result', { ...good, result: undefined }],
  ])('refuses %s, naming %s', (_label, field, rule) => {
    const problem = tfcRuleProblem('tfc[0]', rule);
    expect(problem).not.toBeNull();
    expect(problem!.startsWith(field + ': ')).toBe(true);
  });
});
