/**
 * The embedded server's own hardening, on a server this file starts (whatever COUCHDB_URL says):
 * no request served before its admin exists, passwords hashed and verified as CouchDB 3.4 does,
 * everything it writes readable by its user only, every malformed body a JSON 400, and bodies
 * above `max_http_request_size` refused while they stream, other clients served meanwhile, and a
 * 50,000-document `_bulk_docs` written in steps, other clients answered between them.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { ensureEmbeddedAdmin } from '../admin';
import type { EmbeddedState } from '../state';
import { Supervisor } from '../supervisor';
import { BODY_CASES, LEAK, SECURITY_CASES, contentTypeOf } from './bad-input-cases';

// The child's script, main.ts, as the root build bundles it (scripts/build.mjs).
const ENTRY = path.resolve(__dirname, '..', '..', '..', 'dist', 'server.js');
let tmp: string;
let supervisor: Supervisor;
let base: string;
let state: EmbeddedState;

const basic = (name: string, pw: string) => ({
  Authorization: 'Basic ' + Buffer.from(`${name}:${pw}`).toString('base64'),
});
const admin = () => basic(state.admin.name, state.admin.password);
const JSON_TYPE = { 'Content-Type': 'application/json' };

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-hardening-'));
  supervisor = new Supervisor({ dataDir: path.join(tmp, 'couchdb'), port: 0, entry: ENTRY });
  base = await supervisor.start();
  state = await ensureEmbeddedAdmin({ stateDir: tmp }, base);
  expect((await fetch(base + '/hardening', { method: 'PUT', headers: admin() })).status).toBe(201);
});
afterAll(async () => {
  await supervisor?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('no request before the admin exists', () => {
  it('the server does not start on a data directory without an admin (it would serve every request as an admin)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-noadmin-'));
    try {
      const child = spawn(process.execPath, [ENTRY, '--data-dir', dir, '--port', '0'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      // Either it exits, or it listens (prints its port), which is the failure: then it is stopped.
      const code = await new Promise<number | null | 'listening'>((resolve) => {
        child.on('exit', resolve);
        child.stdout.once('data', () => resolve('listening'));
      });
      if (code === 'listening') child.kill('SIGKILL');
      expect({ code, out }).toEqual({ code: 1, out: '' });
      expect(err).toMatch(/no server admin in .*config\.json/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('deleting every admin at run time makes nobody an admin (no "admin party"): anonymous requests cannot create one', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-lastadmin-'));
    const sup = new Supervisor({ dataDir: path.join(dir, 'couchdb'), port: 0, entry: ENTRY });
    try {
      const url = await sup.start();
      const own = await ensureEmbeddedAdmin({ stateDir: dir }, url);
      const del = await fetch(`${url}/_config/admins/${own.admin.name}`, {
        method: 'DELETE',
        headers: basic(own.admin.name, own.admin.password),
      });
      expect(del.status).toBe(200);
      expect(await (await fetch(url + '/_session')).json()).toMatchObject({ userCtx: { name: null, roles: [] } });
      expect((await fetch(url + '/_config/admins/evil', { method: 'PUT', body: '"evil"' })).status).toBe(401);
      expect((await fetch(url + '/_session', { headers: basic('evil', 'evil') })).status).toBe(401);
    } finally {
      await sup.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the supervisor has written the admin, hashed as CouchDB 3.4 hashes it, before the first start', () => {
    const cfg = JSON.parse(fs.readFileSync(path.join(tmp, 'couchdb', 'config.json'), 'utf8'));
    expect(Object.keys(cfg.admins)).toEqual([state.admin.name]);
    expect(cfg.admins[state.admin.name]).toMatch(/^-pbkdf2:sha256-[0-9a-f]{64},[0-9a-f]{32},600000$/);
    expect(fs.readFileSync(path.join(tmp, 'couchdb', 'config.json'), 'utf8')).not.toContain(state.admin.password);
  });
});

describe('passwords as CouchDB 3.4 stores them', () => {
  // Written by Apache CouchDB 3.4.3 (the shared node) for the password "pw1".
  const COUCH_USER = {
    name: 'couch_written',
    type: 'user',
    roles: [],
    password_scheme: 'pbkdf2',
    pbkdf2_prf: 'sha256',
    salt: 'ca97eca82c1ad6bffa3e4cc337db279a',
    iterations: 600000,
    derived_key: '9b4fe73e80525fd35f6b72398d2adbfce044a84d3f96b8544caf8a838f69b196',
  };

  it('a user document written by CouchDB 3.4.3 signs in here with its password, and only with it', async () => {
    const put = await fetch(base + '/_users/org.couchdb.user:couch_written', {
      method: 'PUT',
      headers: { ...admin(), ...JSON_TYPE },
      body: JSON.stringify(COUCH_USER),
    });
    expect(put.status).toBe(201);
    const ok = await fetch(base + '/_session', { headers: basic('couch_written', 'pw1') });
    expect(await ok.json()).toMatchObject({ userCtx: { name: 'couch_written' } });
    expect((await fetch(base + '/hardening', { headers: basic('couch_written', 'pw2') })).status).toBe(401);
  });
});

describe("files are the service user's alone", () => {
  it('every directory under the data directory is 0700 and every file 0600 (config, server.json, LevelDB files of _users and every db, logs)', async () => {
    await fetch(base + '/hardening/doc', { method: 'PUT', headers: { ...admin(), ...JSON_TYPE }, body: '{"a":1}' });
    const wrong: string[] = [];
    const names: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        const mode = fs.statSync(p).mode & 0o777;
        names.push(path.relative(tmp, p));
        if (e.isDirectory()) {
          if (mode !== 0o700) wrong.push(`${p} ${mode.toString(8)}`);
          walk(p);
        } else if (mode !== 0o600) wrong.push(`${p} ${mode.toString(8)}`);
      }
    };
    expect(fs.statSync(tmp).mode & 0o777).toBe(0o700);
    walk(tmp);
    expect(names).toEqual(
      expect.arrayContaining([
        'server.json',
        'couchdb/config.json',
        'couchdb/log.txt',
        'couchdb/server-stderr.log',
        expect.stringMatching(/^couchdb\/db\/_users\/.+\.log$/),
        expect.stringMatching(/^couchdb\/db\/hardening\//),
      ]),
    );
    expect(wrong).toEqual([]);
  });
});

describe('every malformed body is a JSON 400', () => {
  it.each([...SECURITY_CASES, ...BODY_CASES].map((c) => [`${c.path}: ${c.name}`, c] as const))('%s', async (_n, c) => {
    const res = await fetch(`${base}/hardening${c.path}`, {
      method: c.method,
      body: c.body,
      headers: { ...admin(), ...contentTypeOf(c) },
    });
    const text = await res.text();
    expect(res.status).toBe(400);
    expect(JSON.parse(text)).toEqual({ error: expect.any(String), reason: expect.any(String) });
    expect(text).not.toMatch(LEAK);
  });
});

describe('[chttpd] max_http_request_size (64 MiB here)', () => {
  /** A 400 MB `_find` sent in 1 MiB pieces until the server answers. */
  function bigFind(declareLength: boolean): Promise<{ status?: number; body: string; sentMiB: number }> {
    return new Promise((resolve) => {
      const headers: Record<string, string> = { ...admin(), ...JSON_TYPE };
      if (declareLength) headers['Content-Length'] = String(400 * 1024 * 1024);
      const u = new URL(base);
      const req = http.request({ host: u.hostname, port: u.port, path: '/hardening/_find', method: 'POST', headers });
      let sent = 0;
      let done = false;
      const chunk = Buffer.alloc(1024 * 1024, 'x');
      req.on('response', (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => {
          done = true;
          req.destroy();
          resolve({ status: res.statusCode, body, sentMiB: sent / 1048576 });
        });
      });
      req.on('error', () => {
        if (!done) {
          done = true;
          resolve({ body: '', sentMiB: sent / 1048576 });
        }
      });
      req.write('{"selector":{"a":"');
      const pump = () => {
        while (!done && sent < 400 * 1048576) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        if (!done) req.end('"}}');
      };
      pump();
    });
  }

  it.each([
    ['chunked', false],
    ['with its Content-Length', true],
  ] as const)(
    'a 400 MB body sent %s is refused with 413 while it streams; another client is served meanwhile; same process after',
    async (_n, declared) => {
      const pid = supervisor.pid;
      let served = 0;
      let stop = false;
      const other = (async () => {
        while (!stop) {
          const r = await fetch(base + '/hardening', { headers: admin() });
          if (r.status === 200) served++;
          await r.text();
        }
      })();
      const res = await bigFind(declared);
      stop = true;
      await other;
      expect(res.status).toBe(413);
      expect(JSON.parse(res.body)).toEqual({ error: 'too_large', reason: 'the request entity is too large' });
      expect(res.sentMiB).toBeLessThan(400);
      expect(served).toBeGreaterThan(0);
      expect(supervisor.pid).toBe(pid);
      expect(supervisor.restarts).toBe(0);
      expect((await fetch(base + '/hardening', { headers: admin() })).status).toBe(200);
    },
  );
});

describe('a large _bulk_docs', () => {
  it('50,000 validated documents in one _bulk_docs: other clients are answered while it is written, and every document is written', async () => {
    const db = base + '/hardening_bulk';
    expect((await fetch(db, { method: 'PUT', headers: admin() })).status).toBe(201);
    const ddoc = {
      validate_doc_update: "function (doc) { if (typeof doc.n !== 'number') throw { forbidden: 'n: a number' }; }",
    };
    const put = await fetch(db + '/_design/v', {
      method: 'PUT',
      headers: { ...admin(), ...JSON_TYPE },
      body: JSON.stringify(ddoc),
    });
    expect(put.status).toBe(201);
    const N = 50_000;
    const docs = Array.from({ length: N }, (_, i) => ({
      _id: 'd' + String(i).padStart(6, '0'),
      n: i,
      pad: 'x'.repeat(200),
    }));
    docs[7] = { ...docs[7], n: 'seven' } as never; // refused by validation, the rest written
    let finished = false;
    let answeredDuring = 0;
    const gaps: number[] = [];
    const other = (async () => {
      let last = Date.now();
      while (!finished) {
        const r = await fetch(db, { headers: admin() });
        await r.text();
        if (!finished && r.status === 200) answeredDuring++;
        gaps.push(Date.now() - last);
        last = Date.now();
        await new Promise((res) => setTimeout(res, 20));
      }
    })();
    const t0 = Date.now();
    const res = await fetch(db + '/_bulk_docs', {
      method: 'POST',
      headers: { ...admin(), ...JSON_TYPE },
      body: JSON.stringify({ docs }),
    });
    const rows = (await res.json()) as { id: string; ok?: boolean; error?: string }[];
    const took = Date.now() - t0;
    finished = true;
    await other;
    console.log(
      `_bulk_docs of ${N}: ${took} ms; another client answered ${answeredDuring} times meanwhile, longest wait ${Math.max(...gaps)} ms`,
    );
    expect(res.status).toBe(201);
    expect(rows).toHaveLength(N);
    expect(rows.filter((r) => r.ok)).toHaveLength(N - 1);
    expect(rows.find((r) => !r.ok)).toMatchObject({ id: docs[7]._id, error: 'forbidden' });
    const info = (await (await fetch(db, { headers: admin() })).json()) as { doc_count: number };
    expect(info.doc_count).toBe(N - 1 + 1); // and the design document
    // Written in steps with the event loop free between them, not as one stretch of JavaScript:
    // the other client waits a step at a time, not for most of the request (57 of 60 s before).
    expect(answeredDuring).toBeGreaterThanOrEqual(10);
    expect(Math.max(...gaps)).toBeLessThan(took / 4);
  });
});
