/**
 * `couchstage put`: a job's output file placed at its site's PFN (file:// storage from the test
 * support, real files), with the size and adler32 printed; refused, with nothing written, outside
 * the user's own source area, at an unknown site, or without a file.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../../../scripts/cli/main';
import { adler32 } from '../../../agents/backends/adler32';
import { configure, makeStorage, type Storage } from '../../support/agents';
import { createTestEnv, type Actor, type TestEnv } from '../../support/env';

let env: TestEnv;
let storage: Storage;
let tmp: string;

beforeAll(async () => {
  env = await createTestEnv();
  storage = makeStorage(['T2_CH_CERN', 'T2_IT_Pisa']);
  await configure(env, storage);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-put-test-'));
});
afterAll(async () => {
  storage?.cleanup();
  fs.rmSync(tmp, { recursive: true, force: true });
  await env?.cleanup();
});

async function cli(actor: Actor, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const keys = ['COUCHDB_URL', 'COUCHSTAGE_DB_PREFIX', 'COUCHSTAGE_USER', 'COUCHSTAGE_PASSWORD'];
  const saved = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
  const out: string[] = [];
  const err: string[] = [];
  try {
    for (const k of keys) delete process.env[k];
    Object.assign(process.env, { COUCHDB_URL: env.urlAs(actor), COUCHSTAGE_DB_PREFIX: env.prefix });
    const code = await main(
      argv,
      (l) => out.push(l),
      (l) => err.push(l),
    );
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    for (const k of keys) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k]!;
    }
  }
}

const onDisk = (site: string, lfn: string) => path.join(storage.sites[site], lfn);

describe('couchstage put', () => {
  it('puts random bytes at the PFN and prints the size and adler32 for eval', async () => {
    const lfn = `/store/temp/user/${env.names.owner}/put/out_1.root`;
    const r = await cli(
      'owner',
      'put',
      '--random',
      '4096',
      '--lfn',
      lfn,
      '--site',
      'T2_CH_CERN',
      '--backend',
      'native',
      '--shell',
    );
    expect(r).toMatchObject({ code: 0 });
    const data = fs.readFileSync(onDisk('T2_CH_CERN', lfn));
    expect(data.length).toBe(4096);
    expect(r.out).toBe(`SIZE=4096 ADLER32=${adler32(data)} PFN='file://${onDisk('T2_CH_CERN', lfn)}'`);
  });

  it('puts a local file, saying where and what it is', async () => {
    const local = path.join(tmp, 'local.root');
    fs.writeFileSync(local, 'the output of a job\n');
    const lfn = `/store/temp/user/${env.names.owner}/put/out_2.root`;
    const r = await cli('owner', 'put', local, '--lfn', lfn, '--site', 'T2_IT_Pisa', '--backend', 'native');
    expect(r.code).toBe(0);
    expect(fs.readFileSync(onDisk('T2_IT_Pisa', lfn), 'utf8')).toBe('the output of a job\n');
    expect(r.out).toBe(
      `put ${lfn} on T2_IT_Pisa (file://${onDisk('T2_IT_Pisa', lfn)}): size 20, adler32 ${adler32(Buffer.from('the output of a job\n'))}`,
    );
  });

  it.each([
    [
      "another user's area",
      (o: string, x: string) => ['--random', '10', '--lfn', `/store/temp/user/${x}/put/a.root`, '--site', 'T2_CH_CERN'],
      /must be in your own area, under \/store\/temp\/user\//,
    ],
    [
      'the destination area, not the source one',
      (o: string) => ['--random', '10', '--lfn', `/store/user/${o}/put/a.root`, '--site', 'T2_CH_CERN'],
      /must be in your own area/,
    ],
    [
      'an unknown site',
      (o: string) => ['--random', '10', '--lfn', `/store/temp/user/${o}/put/a.root`, '--site', 'T9_NO_WHERE'],
      /site T9_NO_WHERE is not configured/,
    ],
    [
      'a missing local file',
      (o: string) => ['/nonexistent/file', '--lfn', `/store/temp/user/${o}/put/a.root`, '--site', 'T2_CH_CERN'],
      /\/nonexistent\/file: no such file/,
    ],
    [
      'both a file and --random',
      (o: string) => ['x', '--random', '1', '--lfn', `/store/temp/user/${o}/put/a.root`, '--site', 'T2_CH_CERN'],
      /one of the two/,
    ],
    [
      'an unclean LFN',
      (o: string) => ['--random', '1', '--lfn', `/store/temp/user/${o}/../x/a.root`, '--site', 'T2_CH_CERN'],
      /lfn: /,
    ],
  ] as const)('refuses %s with exit 2 and writes nothing', async (_n, argv, re) => {
    const before = JSON.stringify(fs.readdirSync(storage.dir, { recursive: true }).sort());
    const r = await cli('owner', 'put', ...argv(env.names.owner, env.names.other), '--backend', 'native');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(re);
    expect(JSON.stringify(fs.readdirSync(storage.dir, { recursive: true }).sort())).toBe(before);
  });
});
