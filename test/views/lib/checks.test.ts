/**
 * The shape checks shared by validate_doc_update, the CLI and the agents (views/lib/checks/),
 * table-driven, and the plain-JS SHA-224 the transfers validate_doc_update uses for ASO's id
 * convention (views/lib/sha224.ts), against Node's crypto.
 */
import { createHash } from 'crypto';
import { datasetProblem, isoDateProblem, lfnProblem, siteNameProblem, textProblem } from '../../../views/lib/checks';
import { sha224Hex } from '../../../views/lib/sha224';
import { Limits } from '../../../views/schema';

type Row = readonly [label: string, value: unknown, expected: null | RegExp];

/** `null` = accepted; a RegExp = refused with a message that starts with the field name. */
function table(check: (field: string, u: unknown) => string | null, rows: readonly Row[]) {
  it.each(rows.map((r) => [r[0], r[1], r[2]] as const))('%s', (_label, value, expected) => {
    const problem = check('f', value);
    if (expected === null) expect(problem).toBeNull();
    else {
      expect(problem).toMatch(/^f: /);
      expect(problem).toMatch(expected);
    }
  });
}

const lfnOfLength = (n: number) => '/store/user/' + 'a'.repeat(n - '/store/user/'.length);

describe('lfnProblem', () => {
  table(lfnProblem, [
    ['a CMS user LFN', '/store/user/alice/GenericTTbar/crab_test/260126_120000/0000/out_1.root', null],
    ['a temp LFN', '/store/temp/user/alice.1a2b/out.root', null],
    ['a single-segment file', '/a', null],
    ['dots inside names', '/store/user/a..b/.hidden/x.y.z', null],
    [
      'ASCII punctuation that decoding and normalisation leave alone',
      '/store/user/a-b_c.d+e=f,g@h~i:j/<x>!$&\'()*[]{}|^`"k.root',
      null,
    ],
    ['a ; (path parameters in HTTP/WebDAV URLs)', '/store/user/a;b.root', /must not contain % \? # ; or/],
    ['exactly the maximum length', lfnOfLength(Limits.lfnMaxLength), null],
    ['one character over the maximum', lfnOfLength(Limits.lfnMaxLength + 1), /longer than 1024/],
    ['empty', '', /non-empty string/],
    ['not a string', 42, /non-empty string/],
    ['null', null, /non-empty string/],
    ['relative', 'store/user/a.root', /absolute/],
    ['the root alone', '/', /must name a file/],
    ['a trailing slash', '/store/user/dir/', /must name a file/],
    ['an empty // segment', '/store//user/a.root', /no empty \/\/ segment/],
    ['a leading //', '//store/a.root', /no empty \/\/ segment/],
    ['a .. segment', '/store/user/../../etc/passwd', /\.\. segments/],
    ['a trailing .. segment', '/store/user/..', /\.\. segments/],
    ['a . segment', '/store/./user/a.root', /no \. segment/],
    ['a space', '/store/user/a b.root', /whitespace/],
    ['a tab', '/store/user/a\tb.root', /whitespace/],
    ['a newline', '/store/user/a\n/b.root', /whitespace/],
    ['a NUL', '/store/user/a\u0000.root', /NUL/],
    ['DEL', '/store/user/a\u007f.root', /control/],
    ['a no-break space', '/store/user/a\u00a0b.root', /whitespace/],
    ['a C1 control (U+009B, 8-bit CSI)', '/store/user/a\u009b31m.root', /control/],
    ['a line separator (U+2028)', '/store/user/a\u2028b.root', /whitespace/],
    // Anything that changes once the LFN is a URL (percent-decoding, query, fragment) or a path.
    ['%2e%2e segments (decoded: ..)', '/store/temp/user/alice/%2e%2e/%2e%2e/etc/passwd', /% \? # ; or \\/],
    ['..%2F (decoded: ../)', '/store/temp/user/alice/..%2F..%2Fetc/passwd', /% \? # ; or \\/],
    ['an encoded letter (%61)', '/store/user/alice/%61.root', /% \? # ; or \\/],
    ['a lone percent sign', '/store/user/alice/100%.root', /% \? # ; or \\/],
    ['a ? (URL query, XRootD CGI)', '/store/user/alice/a.root?oss.cgroup=x', /% \? # ; or \\/],
    ['a # (URL fragment)', '/store/user/alice/a.root#x', /% \? # ; or \\/],
    ['a backslash', '/store/user/alice/..\\..\\x', /% \? # ; or \\/],
    ['fullwidth dots (NFKC: ..)', '/store/user/alice/\uff0e\uff0e/x.root', /printable ASCII/],
    ['a ligature (NFKC: fi)', '/store/user/alice/\ufb01le.root', /printable ASCII/],
    ['a combining diaeresis (NFC: u + U+0308 = ü)', '/store/user/ju\u0308rgen/x.root', /printable ASCII/],
    ['accented, CJK and astral names', '/store/user/jürgen/データ/😀.root', /printable ASCII/],
    ['a lone surrogate', '/store/user/\ud800.root', /printable ASCII/],
    ['a fullwidth solidus (NFKC: /)', '/store/user/alice\uff0f..\uff0fbob/x.root', /printable ASCII/],
  ]);

  it('accepts only LFNs that percent-decoding, URL parsing and NFKC all leave unchanged', () => {
    const accepted = [
      '/store/user/alice/a.root',
      '/store/user/a..b/.hidden/x.y.z',
      '/store/temp/user/alice.1a2b/out.root',
    ];
    for (const lfn of accepted) {
      expect(lfnProblem('f', lfn)).toBeNull();
      expect(decodeURIComponent(lfn)).toBe(lfn);
      expect(new URL('file://' + lfn).pathname).toBe(lfn);
      expect(lfn.normalize('NFKC')).toBe(lfn);
    }
  });
});

describe('datasetProblem', () => {
  table(datasetProblem, [
    ['a USER dataset', '/GenericTTbar/alice-crab_test-v1/USER', null],
    ['dots, dashes and underscores', '/Prim_1.a-b/proc.2_x-y/AODSIM', null],
    ['a tier with digits and dashes', '/Prim/proc/MINIAOD-V2', null],
    ['two parts only', '/Prim/proc', /\/primary\/processed\/TIER/],
    ['four parts', '/Prim/proc/USER/extra', /\/primary\/processed\/TIER/],
    ['a lowercase tier', '/Prim/proc/user', /\/primary\/processed\/TIER/],
    ['a tier starting with a digit', '/Prim/proc/1USER', /\/primary\/processed\/TIER/],
    ['no leading slash', 'Prim/proc/USER', /\/primary\/processed\/TIER/],
    ['a trailing slash', '/Prim/proc/USER/', /\/primary\/processed\/TIER/],
    ['an empty primary', '//proc/USER', /\/primary\/processed\/TIER/],
    ['a primary starting with a dash', '/-Prim/proc/USER', /\/primary\/processed\/TIER/],
    ['a space', '/Pr im/proc/USER', /\/primary\/processed\/TIER/],
    ['a newline at the end', '/Prim/proc/USER\n', /\/primary\/processed\/TIER/],
    ['unicode', '/Prüm/proc/USER', /\/primary\/processed\/TIER/],
    ['not a string', ['/Prim/proc/USER'], /\/primary\/processed\/TIER/],
  ]);
});

describe('isoDateProblem', () => {
  table(isoDateProblem, [
    ['UTC with Z', '2026-01-31T12:00:00Z', null],
    ['with milliseconds', '2026-01-31T12:00:00.123Z', null],
    ['with nanoseconds', '2026-01-31T12:00:00.123456789Z', null],
    ['with a positive offset', '2026-01-31T12:00:00+01:00', null],
    ['with a negative offset', '2026-01-31T12:00:00-05:30', null],
    ['Date#toISOString output', new Date(0).toISOString(), null],
    ['29 February of a leap year', '2028-02-29T00:00:00Z', null],
    ['a date only', '2026-01-31', /ISO 8601/],
    ['no time zone', '2026-01-31T12:00:00', /ISO 8601/],
    ['a space instead of T', '2026-01-31 12:00:00Z', /ISO 8601/],
    ['month 13', '2026-13-01T00:00:00Z', /ISO 8601/],
    ['day 32', '2026-01-32T00:00:00Z', /ISO 8601/],
    ['30 February', '2026-02-30T00:00:00Z', /ISO 8601/],
    ['29 February of a common year', '2026-02-29T00:00:00Z', /ISO 8601/],
    ['31 April', '2026-04-31T00:00:00Z', /ISO 8601/],
    ['minute 60', '2026-01-31T12:60:00Z', /ISO 8601/],
    ['offset +25:00', '2026-01-31T12:00:00+25:00', /ISO 8601/],
    ['ten fraction digits', '2026-01-31T12:00:00.1234567890Z', /ISO 8601/],
    ['a trailing newline', '2026-01-31T12:00:00Z\n', /ISO 8601/],
    ['a number (epoch ms)', 1769860800000, /ISO 8601/],
    ['a Date object', new Date(0), /ISO 8601/],
    ['free text', 'yesterday', /ISO 8601/],
  ]);
});

describe('siteNameProblem', () => {
  table(siteNameProblem, [
    ['a CMS site', 'T2_CH_CERN', null],
    ['dots and dashes', 'T3_US-FNAL.lpc', null],
    ['one character', 'X', null],
    ['64 characters', 'T' + 'x'.repeat(63), null],
    ['65 characters', 'T' + 'x'.repeat(64), /site name/],
    ['empty', '', /site name/],
    ['leading underscore', '_T2', /site name/],
    ['leading dot', '.T2', /site name/],
    ['a slash', 'T2/CERN', /site name/],
    ['a colon (would break link ids)', 'T2:CERN', /site name/],
    ['a space', 'T2 CERN', /site name/],
    ['a trailing newline', 'T2_CH_CERN\n', /site name/],
    ['unicode', 'T2_CH_ZÜRICH', /site name/],
    ['not a string', 2, /site name/],
  ]);
});

describe('textProblem', () => {
  const check = (f: string, u: unknown) => textProblem(f, u, 8);
  table(check, [
    ['printable', 'wf-1 ok', null],
    ['unicode', 'größe', null],
    ['exactly the maximum', '12345678', null],
    ['over the maximum', '123456789', /longer than 8/],
    ['empty', '', /non-empty/],
    ['a tab', 'a\tb', /control/],
    ['a C1 control (U+0085)', 'a\u0085b', /control/],
    ['not a string', 1, /non-empty/],
  ]);
});

describe('sha224Hex (plain JS, runs inside CouchDB) equals Node crypto', () => {
  const node = (s: string) => createHash('sha224').update(s, 'utf8').digest('hex');

  /** A small seeded PRNG (mulberry32): the same 200 strings on every run. */
  function rng(seed: number): () => number {
    return () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  /** Code units from every UTF-8 length class, astral pairs, and (rarely) lone surrogates. */
  function randomString(next: () => number): string {
    const length = Math.floor(next() * 300);
    let s = '';
    while (s.length < length) {
      const kind = next();
      if (kind < 0.4) s += String.fromCharCode(0x20 + Math.floor(next() * 0x5f));
      else if (kind < 0.55) s += String.fromCharCode(0x80 + Math.floor(next() * 0x780));
      else if (kind < 0.75) s += String.fromCharCode(0x800 + Math.floor(next() * (0xd800 - 0x800)));
      else if (kind < 0.8) s += String.fromCharCode(0xe000 + Math.floor(next() * 0x2000));
      else if (kind < 0.97) s += String.fromCodePoint(0x10000 + Math.floor(next() * 0xfffff));
      else s += String.fromCharCode(0xd800 + Math.floor(next() * 0x800));
    }
    return s;
  }

  it('for 200 random strings (ASCII, 2-, 3- and 4-byte UTF-8, lone surrogates)', () => {
    const next = rng(224);
    const strings = Array.from({ length: 200 }, () => randomString(next));
    expect(strings.some((s) => /[\ud800-\udbff][\udc00-\udfff]/.test(s))).toBe(true);
    expect(strings.map(sha224Hex)).toEqual(strings.map(node));
  });

  it.each([
    ['the empty string', ''],
    ['"abc" (FIPS 180 test vector)', 'abc'],
    ['55 bytes (padding fits in one block)', 'x'.repeat(55)],
    ['56 bytes (padding needs a second block)', 'x'.repeat(56)],
    ['64 bytes (exactly one block)', 'x'.repeat(64)],
    ['a 1024-character LFN', lfnOfLength(1024)],
    ['a 3-byte character across a block boundary', 'x'.repeat(63) + '€'],
    ['an astral character', '/store/user/😀.root'],
    ['a lone high surrogate', '/store/user/\ud800.root'],
    ['a lone low surrogate', '/store/user/\udc00.root'],
    ['a high surrogate at the end', 'abc\ud83d'],
    ['two high surrogates then a low one', '\ud800\ud800\udc00'],
  ])('for %s', (_label, s) => {
    expect(sha224Hex(s)).toBe(node(s));
  });

  it('matches the published SHA-224 of "abc"', () => {
    expect(sha224Hex('abc')).toBe('23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7');
  });
});
