/**
 * The embedded server as its callers run it: dist/server.js (main.ts, built by the root build) as
 * a supervised child process (supervisor.ts) with its admin from ensureEmbeddedAdmin. This file
 * starts its own server, so it pins down the engine's own behaviour: its admin, the routes that
 * used to crash express-pouchdb, restart after a kill.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ensureEmbeddedAdmin } from '../admin';
import type { EmbeddedState } from '../state';
import { Supervisor } from '../supervisor';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const ENTRY = path.join(ROOT, 'dist', 'server.js');

let tmp: string;
let supervisor: Supervisor;
let base: string;
let state: EmbeddedState;
const logged: string[] = [];

function auth(name: string, password: string): Record<string, string> {
  return { Authorization: 'Basic ' + Buffer.from(`${name}:${password}`).toString('base64') };
}
const adminHeaders = () => auth(state.admin.name, state.admin.password);

async function get(
  pathname: string,
  headers: Record<string, string> = adminHeaders(),
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(base + pathname, { headers });
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text);
  } catch {
    body = { text };
  }
  return { status: res.status, body };
}

/** The server answers its welcome (`GET /`) within a second. */
async function answers(): Promise<boolean> {
  try {
    const res = await fetch(base + '/', { signal: AbortSignal.timeout(1_000) });
    return res.status === 200 && typeof ((await res.json()) as { version?: unknown }).version === 'string';
  } catch {
    return false;
  }
}

async function pollUntil(what: string, ok: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await ok()) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  expect(fs.existsSync(ENTRY)).toBe(true); // built by the root build (node scripts/build.mjs)
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-embedded-'));
  supervisor = new Supervisor({
    dataDir: path.join(tmp, 'couchdb'),
    port: 0,
    entry: ENTRY,
    log: (l) => logged.push(l),
  });
  base = await supervisor.start();
  state = await ensureEmbeddedAdmin({ stateDir: tmp }, base);
});

afterAll(async () => {
  await supervisor?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('startup and admin', () => {
  it('listens on a loopback port picked at start (port 0)', () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(base).not.toBe('http://127.0.0.1:0');
    expect(supervisor.url).toBe(base);
  });

  it('is no admin party any more: the admin is required for admin routes', async () => {
    expect((await get('/_config', {})).status).toBe(401);
    expect((await get('/_config')).status).toBe(200);
    expect((await get('/_session')).body).toMatchObject({
      userCtx: { name: state.admin.name, roles: expect.arrayContaining(['_admin']) },
    });
  });

  it('ensureEmbeddedAdmin a second time returns the same credentials, and keeps them in a 0600 file', async () => {
    const again = await ensureEmbeddedAdmin({ stateDir: tmp }, base);
    expect(again).toEqual(state);
    const file = path.join(tmp, 'server.json');
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual(state);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('ensureEmbeddedAdmin refuses credentials the server does not accept', async () => {
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-embedded-other-'));
    try {
      fs.writeFileSync(
        path.join(other, 'server.json'),
        JSON.stringify({ ...state, admin: { name: 'admin', password: 'wrong' } }),
      );
      await expect(ensureEmbeddedAdmin({ stateDir: other }, base)).rejects.toThrow(/not accepted by the server/);
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });
});

describe('routes that used to crash express-pouchdb answer an error and the server lives on', () => {
  const db = 'crash_routes';

  beforeAll(async () => {
    const res = await fetch(`${base}/${db}`, { method: 'PUT', headers: adminHeaders() });
    expect(res.status).toBe(201);
  });

  it('GET /_changes?filter=_selector answers 400 and the server still answers, same process', async () => {
    const pid = supervisor.pid;
    const r = await get('/_changes?filter=_selector');
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: 'bad_request', reason: expect.stringContaining('_selector') });
    await sleep(300);
    expect(await answers()).toBe(true);
    expect(supervisor.pid).toBe(pid);
  });

  it('GET /<db>/_changes?filter=_selector answers 400 too', async () => {
    const pid = supervisor.pid;
    const r = await get(`/${db}/_changes?filter=_selector`);
    expect(r.status).toBe(400);
    await sleep(300);
    expect(await answers()).toBe(true);
    expect(supervisor.pid).toBe(pid);
  });

  it('POST /<db>/_changes?filter=_selector with a selector answers 400', async () => {
    const pid = supervisor.pid;
    const res = await fetch(`${base}/${db}/_changes?filter=_selector`, {
      method: 'POST',
      headers: { ...adminHeaders(), 'Content-Type': 'application/json' },
      body: JSON.stringify({ selector: { type: 'transfer' } }),
    });
    expect(res.status).toBe(400);
    await sleep(300);
    expect(await answers()).toBe(true);
    expect(supervisor.pid).toBe(pid);
  });

  it('an unknown builtin filter (no slash) answers 400', async () => {
    const r = await get(`/${db}/_changes?filter=nosuch`);
    expect(r.status).toBe(400);
    expect(r.body.reason).toContain('nosuch');
  });

  it('GET /<db>/_changes?filter=nosuch/filter answers an error and does not kill the server (same pid)', async () => {
    const pid = supervisor.pid;
    const restarts = supervisor.restarts;
    const r = await get(`/${db}/_changes?filter=nosuch/filter`);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    // The process used to die a moment after answering: give it that moment.
    await sleep(500);
    expect(await answers()).toBe(true);
    expect(await get(`/${db}`)).toMatchObject({ status: 200, body: { db_name: db } });
    expect(supervisor.pid).toBe(pid);
    expect(supervisor.restarts).toBe(restarts);
  });

  it('ordinary _changes requests still work (no filter, _doc_ids)', async () => {
    expect((await get(`/${db}/_changes`)).status).toBe(200);
    expect((await get(`/${db}/_changes?filter=_doc_ids&doc_ids=${encodeURIComponent('["a"]')}`)).status).toBe(200);
  });
});

describe('supervision', () => {
  it('restarts the server after SIGKILL on the same port, with its data and admin intact', async () => {
    const db = 'survives_kill';
    expect((await fetch(`${base}/${db}`, { method: 'PUT', headers: adminHeaders() })).status).toBe(201);
    const put = await fetch(`${base}/${db}/doc1`, {
      method: 'PUT',
      headers: { ...adminHeaders(), 'Content-Type': 'application/json' },
      body: JSON.stringify({ value: 42 }),
    });
    expect(put.status).toBe(201);
    const { rev } = (await put.json()) as { rev: string };

    const pid = supervisor.pid!;
    const restarts = supervisor.restarts;
    process.kill(pid, 'SIGKILL');
    await pollUntil('a new process answers', async () => supervisor.pid !== pid && (await answers()), 30_000);
    expect(() => process.kill(pid, 0)).toThrow(); // the old one is gone

    expect(supervisor.restarts).toBe(restarts + 1);
    expect(supervisor.url).toBe(base);
    expect(logged.join('\n')).toMatch(/embedded server exited \(SIGKILL\); restarting on port \d+/);
    expect(await get(`/${db}/doc1`)).toEqual({ status: 200, body: { _id: 'doc1', _rev: rev, value: 42 } });
    expect((await get('/_session')).body).toMatchObject({
      userCtx: { name: state.admin.name, roles: expect.arrayContaining(['_admin']) },
    });
    expect((await get('/_config', {})).status).toBe(401);
    expect(await ensureEmbeddedAdmin({ stateDir: tmp }, base)).toEqual(state);
  });

  it('stop() ends the child and does not restart it', async () => {
    const pid = supervisor.pid!;
    const restarts = supervisor.restarts;
    await supervisor.stop();
    expect(() => process.kill(pid, 0)).toThrow();
    await sleep(1_500);
    expect(await answers()).toBe(false);
    expect(supervisor.restarts).toBe(restarts);
  });
});
