/**
 * adler32 (the backends' streaming implementation) against known values, zlib and xrdadler32;
 * error classification as a table.
 */
import { execFileSync } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Adler32, adler32 } from '../../../agents/backends/adler32';
import { checksumMismatch, classifyError, errnoName, type ErrorFacts } from '../../../agents/backends/errors';
import { fileAdler32 } from '../../../agents/backends/native';

/** zlib's adler32 through the Debian python: an implementation independent of ours. */
function zlibAdler32(file: string): string {
  const code = 'import sys,zlib;print("%08x" % zlib.adler32(open(sys.argv[1],"rb").read()))';
  return execFileSync('/usr/bin/python3', ['-c', code, file]).toString().trim();
}

describe('adler32', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-adler-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['', '00000001'],
    ['a', '00620062'],
    ['abc', '024d0127'],
    ['Wikipedia', '11e60398'],
    ['The quick brown fox jumps over the lazy dog', '5bdc0fda'],
  ])('adler32(%j) = %s', (text, hex) => {
    expect(adler32(Buffer.from(text))).toBe(hex);
  });

  it('gives the same value however the data is split', () => {
    const data = randomBytes(200_000);
    const whole = adler32(data);
    for (const step of [1, 7, 5552, 5553, 65536, 150_000]) {
      const sum = new Adler32();
      for (let i = 0; i < data.length; i += step) sum.update(data.subarray(i, i + step));
      expect(sum.hex()).toBe(whole);
    }
  });

  it('stays exact on 20 MiB of 0xff (the worst case for the running sums)', () => {
    const file = path.join(dir, 'ff.bin');
    fs.writeFileSync(file, Buffer.alloc(20 << 20, 0xff));
    expect(adler32(fs.readFileSync(file))).toBe(zlibAdler32(file));
  });

  it('matches xrdadler32 and zlib on a random 5 MB file, streamed', async () => {
    const file = path.join(dir, 'random.bin');
    fs.writeFileSync(file, randomBytes(5_000_000));
    const xrd = execFileSync('/usr/bin/xrdadler32', [file]).toString().split(/\s+/)[0];
    expect(await fileAdler32(file)).toBe(xrd);
    expect(xrd).toBe(zlibAdler32(file));
  });
});

describe('classifyError', () => {
  const table: Array<[string, ErrorFacts, 'fatal' | 'transient']> = [
    ['EACCES', { errno: 'EACCES', message: 'open failed' }, 'fatal'],
    ['EPERM number', { errno: 1, message: 'Operation not permitted' }, 'fatal'],
    ['permission text only', { message: 'Failed to open file (Permission denied)' }, 'fatal'],
    [
      'XRootD not authorized',
      { errno: 3010, message: 'Server responded with an error: [3010] not authorized' },
      'fatal',
    ],
    ['ENOSPC', { errno: 28, message: 'write failed' }, 'fatal'],
    ['EDQUOT', { errno: 'EDQUOT', message: 'write failed' }, 'fatal'],
    ['XRootD over quota', { errno: 3021, message: 'over quota' }, 'fatal'],
    ['missing source', { errno: 'ENOENT', message: 'no such file', side: 'source' }, 'fatal'],
    [
      'missing source, side in message',
      { errno: 2, message: 'Unable to open /x; no such file or directory (source)' },
      'fatal',
    ],
    ['missing source, XRootD code in text', { errno: 3011, message: '[3011] Unable to open /x (source)' }, 'fatal'],
    ['missing destination dir', { errno: 'ENOENT', message: 'no such file', side: 'destination' }, 'transient'],
    ['unsupported protocol', { errno: 93, message: 'Protocol not supported or path/url invalid: foo://x' }, 'fatal'],
    [
      'invalid URL',
      { errno: 'EINVAL', message: 'invalid URL for source: file URLs must be file:///absolute/path' },
      'fatal',
    ],
    [
      'invalid checksum in request',
      { errno: 22, message: "invalid adler32 '': expected 8 lowercase hex digits" },
      'fatal',
    ],
    ['EINVAL of unknown cause', { errno: 'EINVAL', message: 'something odd' }, 'transient'],
    ['timeout', { errno: 'ETIMEDOUT', message: 'operation expired' }, 'transient'],
    ['timeout text', { message: '[ERROR] Operation expired: timed out' }, 'transient'],
    ['connection refused', { errno: 111, message: 'Failed to stat file (Connection refused)' }, 'transient'],
    ['host unreachable', { errno: 'EHOSTUNREACH', message: 'connect failed' }, 'transient'],
    [
      'dead source SE is not a missing source',
      { errno: 111, message: 'source root://h:1 unreachable', side: 'source' },
      'transient',
    ],
    [
      'checksum mismatch on source',
      { errno: 84, message: checksumMismatch('deadbeef', '0d75f5c1'), side: 'source' },
      'transient',
    ],
    ['XRootD checksum error', { errno: 3019, message: 'CheckSum error' }, 'transient'],
    ['helper crash', { message: 'gfal2 helper died (signal SIGKILL)' }, 'transient'],
    ['cancelled', { message: 'cancelled' }, 'transient'],
    ['unknown', { errno: 'EIO', message: 'Input/output error' }, 'transient'],
    ['nothing at all', {}, 'transient'],
  ];
  it.each(table.map(([name, facts, cls]) => [`${name} -> ${cls}`, facts, cls] as const))(
    '%s',
    (_title, facts, expected) => {
      expect(classifyError(facts)).toBe(expected);
    },
  );

  it('normalises errno forms', () => {
    expect(errnoName(2)).toBe('ENOENT');
    expect(errnoName('2')).toBe('ENOENT');
    expect(errnoName('EACCES')).toBe('EACCES');
    expect(errnoName(3011)).toBe('ENOENT');
    expect(errnoName(undefined, 'Server responded with an error: [3009] no space')).toBe('ENOSPC');
    expect(errnoName(99999)).toBeUndefined();
  });

  it('words checksum mismatches with both values', () => {
    expect(checksumMismatch('0000abcd', '12345678')).toBe('checksum mismatch: expected 0000abcd, source has 12345678');
  });
});
