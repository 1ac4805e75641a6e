/**
 * The README's first example, run as written: with `couchstage start` running (its own data
 * directory and embedded server, demo storage and users, no demo traffic), the shell block under
 * "A job submitting a transfer with curl" is taken from README.md and run by bash in the project
 * folder; only the server's address is this test's port instead of 5984. The transfer it submits
 * reaches done, its copy is where the destination's TFC puts it, and the page in Chromium, signed
 * in as alice, shows it under done, on its link and in alice's row.
 */
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { freePort, stopStorageElements } from '../../scripts/se/xrootd';
import { eventually, launch } from '../app/browser';

const ROOT = path.resolve(__dirname, '..', '..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The first sh block after the heading. */
export function readmeBlock(heading: string): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(`### ${heading}\n`);
  if (at < 0) throw new Error(`README.md has no "### ${heading}"`);
  const m = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!m) throw new Error(`no sh block under "${heading}"`);
  return m[1];
}

describe("the README's first transfer, followed literally", () => {
  let dataDir: string;
  let child: ChildProcess | null = null;
  const output: string[] = [];
  let base: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-readme-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    env = { ...process.env, COUCHSTAGE_DATA_DIR: dataDir, COUCHSTAGE_PORT: String(port) };
    for (const k of [
      'COUCHDB_URL',
      'COUCHSTAGE_DB_PREFIX',
      'COUCHSTAGE_USER',
      'COUCHSTAGE_PASSWORD',
      'COUCHSTAGE_AGENT_PASSWORD',
    ])
      delete env[k];
    child = spawn(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), 'start', '--no-traffic'], {
      env,
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (b) => output.push(String(b)));
    child.stderr!.on('data', (b) => output.push(String(b)));
    const deadline = Date.now() + 120_000;
    while (!/Press Ctrl-C/.test(output.join(''))) {
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`start did not come up:\n${output.join('')}`);
      await sleep(100);
    }
  }, 150_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
    }
    await stopStorageElements(path.join(dataDir, 'se'));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('puts the file, submits it with curl, and it reaches done, on the page too', async () => {
    const block = readmeBlock('A job submitting a transfer with curl');
    expect(block).toContain('http://127.0.0.1:5984/transfers/');
    const script = block.split('http://127.0.0.1:5984').join(base);
    const res = spawnSync('bash', ['-euo', 'pipefail', '-c', script], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    const said = `${res.stdout}\n${res.stderr}`;
    if (res.status !== 0) throw new Error(`the README block exited ${res.status}:\n${said}`);
    expect(res.stdout).toMatch(/"ok":true/);
    // The block's own last line: status of its workflow, which exits 1 when the workflow has no
    // file (so the block would have failed above). Its state is checked below: after the block's
    // 15 s wait the copy may still be in flight on a loaded machine.
    expect(res.stdout).toMatch(/transfers of alice in mytask/);

    const lfn = /LFN=(\S+)/.exec(block)![1];
    const id = spawnSync('bash', ['-c', `printf %s "${lfn}" | sha224sum | cut -d' ' -f1`], {
      encoding: 'utf8',
    }).stdout.trim();
    const state = JSON.parse(fs.readFileSync(path.join(dataDir, 'server.json'), 'utf8')) as {
      admin: { name: string; password: string };
    };
    const auth = 'Basic ' + Buffer.from(`${state.admin.name}:${state.admin.password}`).toString('base64');
    const doc = await eventually(
      async () => {
        const d = (await (await fetch(`${base}/transfers/${id}`, { headers: { Authorization: auth } })).json()) as {
          state: string;
          user: string;
          size: number;
          checksums: { adler32: string };
          destination: string;
        };
        return d.state === 'done' ? d : null;
      },
      'the README transfer in state done',
      60_000,
    );
    expect(doc).toMatchObject({ user: 'alice', size: 1048576, destination: 'T2_IT_Pisa' });
    expect(doc.checksums.adler32).toMatch(/^[0-9a-f]{8}$/);

    const browser = await launch();
    try {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      expect(
        (await context.request.post(`${base}/_session`, { data: { name: 'alice', password: 'alice-demo' } })).ok(),
      ).toBe(true);
      const page = await context.newPage();
      await page.goto(`${base}/transfers/_design/monitor/index.html`);
      await eventually(
        async () =>
          Number(
            (await page.locator('#states tr[data-key="done"] td[data-col=files]').first().innerText()).replace(
              /[^0-9]/g,
              '',
            ),
          ) >= 1,
        'done on the page',
      );
      expect(await page.locator('td[data-link="T2_CH_CERN->T2_IT_Pisa"] .big').innerText()).toMatch(/^1 done$/);
      expect(await page.locator('#users tr[data-key="alice"]').count()).toBe(1);
    } finally {
      await browser.close();
    }
  }, 240_000);
});
