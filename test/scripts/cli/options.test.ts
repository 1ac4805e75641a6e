/**
 * Every option that takes a value works as `--name VALUE` as well as `--name=VALUE`: the parser
 * knows which options take one (scripts/cli/main.ts VALUED), so each option a command reads must be
 * in that list, or `--name VALUE` leaves the option unset and VALUE as a stray positional.
 */
import * as fs from 'fs';
import * as path from 'path';
import { main, VALUED } from '../../../scripts/cli/main';
import { parseArgs } from '../../../scripts/client/args';
import { createTestEnv, type TestEnv } from '../../support/env';

const ROOT = path.resolve(__dirname, '..', '..', '..');

/** Option names the commands read as values: flag(args, 'x') and count(args, 'x'). */
function valuedOptionsRead(): Map<string, string> {
  const found = new Map<string, string>();
  const dirs = [
    path.join(ROOT, 'scripts', 'cli'),
    path.join(ROOT, 'scripts', 'cli', 'commands'),
    path.join(ROOT, 'scripts', 'client'),
  ];
  const files = dirs.flatMap((d) => fs.readdirSync(d).map((f) => path.join(d, f)));
  for (const file of files.filter((f) => f.endsWith('.ts'))) {
    for (const m of fs.readFileSync(file, 'utf8').matchAll(/\b(?:flag|count)\(args, '([a-z][a-z-]*)'\)/g))
      found.set(m[1], path.relative(ROOT, file));
  }
  return found;
}

describe('options with a value', () => {
  it('finds the options the commands read (the scan works)', () => {
    const read = valuedOptionsRead();
    for (const name of ['user-name', 'as', 'workflow', 'backend', 'demo-files', 'agents', 'bytes'])
      expect(read.has(name)).toBe(true);
  });

  it('lists every option a command reads as taking a value', () => {
    const missing = [...valuedOptionsRead()]
      .filter(([name]) => !VALUED.includes(name))
      .map(([name, file]) => `--${name} (${file})`);
    expect(missing).toEqual([]);
  });

  it.each(VALUED.map((v) => [v]))('--%s VALUE parses as --%s=VALUE', (name) => {
    const spaced = parseArgs(['status', `--${name}`, 'v-1', '--json'], VALUED);
    const joined = parseArgs(['status', `--${name}=v-1`, '--json'], VALUED);
    expect(spaced).toEqual(joined);
    expect(spaced.flags[name]).toBe('v-1');
    expect(spaced.positional).toEqual(['status']);
  });
});

describe('--user-name', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv();
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  async function status(...argv: string[]): Promise<{ code: number; err: string }> {
    const keys = ['COUCHDB_URL', 'COUCHSTAGE_DB_PREFIX', 'COUCHSTAGE_USER', 'COUCHSTAGE_PASSWORD'] as const;
    const saved = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
    const err: string[] = [];
    try {
      for (const k of keys) delete process.env[k];
      Object.assign(process.env, { COUCHDB_URL: env.adminUrl, COUCHSTAGE_DB_PREFIX: env.prefix });
      const code = await main(
        ['status', '--json', ...argv],
        () => undefined,
        (l) => err.push(l),
      );
      return { code, err: err.join('\n') };
    } finally {
      for (const k of keys) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  }

  it.each([
    ['--user-name NAME', (name: string) => ['--user-name', name]],
    ['--user-name=NAME', (name: string) => [`--user-name=${name}`]],
  ])('%s acts as that user', async (_form, opt) => {
    expect((await status(...opt(env.names.owner), '--password', env.password)).code).toBe(0);
    // The wrong password is refused only if the command really signs in as that user (as the
    // admin of COUCHDB_URL it would succeed).
    const wrong = await status(...opt(env.names.owner), '--password', 'not-the-password');
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/401|unauthorized|Name or password/i);
  });
});
