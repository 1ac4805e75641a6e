/**
 * The `couchstage` command in process (`main(argv, out, err)` from scripts/cli/main.ts) against the
 * real server, as the test users: submit, status, kill, retry, help and the usage errors.
 * Each call sees COUCHDB_URL = the acting user's URL and COUCHSTAGE_DB_PREFIX = this file's prefix.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { main } from '../../../scripts/cli/main';
import { formatSize } from '../../../scripts/cli/commands/format';
import { connectionFailure } from '../../../scripts/client/connection';
import { COMMANDS } from '../../../scripts/cli/commands/usage';
import { RETRYABLE_STATES, TRANSFER_STATES, type TransferState } from '../../../views/schema';
import { createTestEnv, type Actor, type TestEnv } from '../../support/env';

type Doc = Record<string, unknown> & { _id: string; _rev?: string };

interface Run {
  code: number;
  out: string;
  err: string;
}

let env: TestEnv;
let tmp: string;

beforeAll(async () => {
  env = await createTestEnv();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-cli-'));
  // The sites jobDoc names: submit refuses transfers between sites that are not configured.
  const sites = ['T2_CH_CERN', 'T2_IT_Pisa'].map((name) => ({
    _id: 'site:' + name,
    type: 'site',
    name,
    endpoints: { file: 'file:///tmp/' + name },
    tfc: [{ protocol: 'file', path_match: '/+(.*)', result: `file:///tmp/${name}/$1` }],
  }));
  const res = await env
    .as('ops')
    .use(env.dbs.config)
    .bulk({ docs: sites as never[] });
  if (res.some((r) => r.error)) throw new Error('configuring sites: ' + JSON.stringify(res));
});
afterAll(async () => {
  fs.rmSync(tmp, { recursive: true, force: true });
  await env?.cleanup();
});

const ENV_KEYS = [
  'COUCHDB_URL',
  'COUCHSTAGE_DB_PREFIX',
  'COUCHSTAGE_USER',
  'COUCHSTAGE_PASSWORD',
  'COUCHSTAGE_ANSWER_TIMEOUT',
] as const;

/** Runs the CLI as `actor` (or with the given environment), restoring process.env afterwards. */
async function cli(actor: Actor | { env: Record<string, string> }, ...argv: string[]): Promise<Run> {
  const saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  const vars =
    typeof actor === 'string' ? { COUCHDB_URL: env.urlAs(actor), COUCHSTAGE_DB_PREFIX: env.prefix } : actor.env;
  const out: string[] = [];
  const err: string[] = [];
  try {
    for (const k of ENV_KEYS) delete process.env[k];
    Object.assign(process.env, vars);
    const code = await main(
      argv,
      (l) => out.push(l),
      (l) => err.push(l),
    );
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    for (const k of ENV_KEYS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}

/** A port nothing listens on: a command that runs there fails to connect. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let fileCounter = 0;
function inputFile(content: string): string {
  const file = path.join(tmp, `input-${++fileCounter}.json`);
  fs.writeFileSync(file, content);
  return file;
}

const sha224 = (s: string) => createHash('sha224').update(s, 'utf8').digest('hex');

let lfnCounter = 0;
/** What a job writes: only the fields it must give; the CLI fills in the rest. */
function jobDoc(workflow: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const n = ++lfnCounter;
  return {
    workflow,
    jobid: String(n),
    source: 'T2_CH_CERN',
    destination: 'T2_IT_Pisa',
    source_lfn: `/store/temp/user/${env.names.owner}/${workflow}/out_${n}.root`,
    destination_lfn: `/store/user/${env.names.owner}/${workflow}/out_${n}.root`,
    size: 1000 + n,
    checksums: { adler32: '0badcafe' },
    publish: false,
    ...overrides,
  };
}

/** Per-document results sorted by id: the embedded server answers `_bulk_docs` in its own order. */
const byId = <T extends { id: string }>(rows: T[]) =>
  [...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

const transfers = () => env.admin.use<Doc>(env.dbs.transfers);

/** The stored documents for these ids as the admin reads them (null = absent). */
async function storedDocs(ids: string[]): Promise<(Doc | null)[]> {
  const res = await transfers().fetch({ keys: ids });
  return res.rows.map((r) => ('doc' in r && r.doc ? (r.doc as Doc) : null));
}

/** A job reads and writes its own user's areas: jobDoc's owner paths become the submitter's. */
function ownedBy(actor: Actor, docs: Record<string, unknown>[]): Record<string, unknown>[] {
  const name = env.names[actor as 'owner'];
  const move = (u: unknown) => (typeof u === 'string' ? u.replace(`/user/${env.names.owner}/`, `/user/${name}/`) : u);
  return docs.map((d) => ({ ...d, source_lfn: move(d.source_lfn), destination_lfn: move(d.destination_lfn) }));
}

async function submitAs(actor: Actor, given: Record<string, unknown>[]): Promise<Doc[]> {
  const docs = ownedBy(actor, given);
  const run = await cli(actor, 'submit', inputFile(JSON.stringify(docs)), '--json');
  expect(run).toMatchObject({ code: 0, err: '' });
  return (await storedDocs(docs.map((d) => sha224(String(d.source_lfn))))) as Doc[];
}

/** Moves a stored transfer along `states` as the agent user, one write per transition. */
async function moveAsAgent(id: string, states: TransferState[]): Promise<void> {
  const db = env.as('agent').use<Doc>(env.dbs.transfers);
  for (const state of states) {
    const doc = await db.get(id);
    await db.insert({ ...doc, state, last_update: new Date().toISOString() } as never);
  }
}

describe('couchstage submit', () => {
  it('refuses a transfer to a site that is not configured, naming it and the configured ones, and submits nothing', async () => {
    const good = jobDoc('sites');
    const bad = jobDoc('sites', { destination: 'T2_XX_Nowhere' });
    const run = await cli('owner', 'submit', inputFile(JSON.stringify([good, bad])));
    expect(run.code).toBe(2);
    expect(run.err).toMatch(
      /unknown site T2_XX_Nowhere: no site:<name> in the config database \(configured: T2_CH_CERN, T2_IT_Pisa\)\nnothing was submitted/,
    );
    const ids = [good, bad].map((d) => createHash('sha224').update(String(d.source_lfn)).digest('hex'));
    const found = await env.admin.use(env.dbs.transfers).fetch({ keys: ids });
    expect(found.rows.filter((r) => 'doc' in r && r.doc)).toEqual([]);
  });

  it('submits a single JSON document as the owner, with _id = sha224(source_lfn) and the defaults filled', async () => {
    const doc = jobDoc('single');
    const before = Date.now();
    const run = await cli('owner', 'submit', inputFile(JSON.stringify(doc)));
    const after = Date.now();
    const id = sha224(String(doc.source_lfn));
    expect(run).toEqual({ code: 0, out: `submitted ${id}\n1 submitted, 0 refused`, err: '' });
    const [stored] = await storedDocs([id]);
    expect(stored).toEqual({
      ...doc,
      _id: id,
      _rev: expect.stringMatching(/^1-/),
      type: 'transfer',
      user: env.names.owner,
      state: 'new',
      priority: 3,
      job_retry_count: 0,
      file_type: 'output',
      created_at: expect.any(String),
    });
    const created = Date.parse(String(stored!.created_at));
    expect(new Date(created).toISOString()).toBe(stored!.created_at);
    expect(created).toBeGreaterThanOrEqual(before);
    expect(created).toBeLessThanOrEqual(after);
  });

  it('keeps explicit values over the defaults', async () => {
    // A group is named by a member of it (role couchstage-group-<group>).
    const doc = jobDoc('explicit', {
      priority: 5,
      file_type: 'log',
      job_retry_count: 2,
      created_at: '2026-01-31T12:00:00Z',
      group: env.group,
    });
    const [stored] = await submitAs('member', [doc]);
    expect(stored).toMatchObject({
      priority: 5,
      file_type: 'log',
      job_retry_count: 2,
      created_at: '2026-01-31T12:00:00Z',
      group: env.group,
      state: 'new',
    });
  });

  it('submits a JSON array in one go', async () => {
    const docs = [jobDoc('array'), jobDoc('array'), jobDoc('array')];
    const run = await cli('owner', 'submit', inputFile(JSON.stringify(docs, null, 2)), '--json');
    expect(run.code).toBe(0);
    const ids = docs.map((d) => sha224(String(d.source_lfn)));
    const report = JSON.parse(run.out);
    expect(report.failed).toBe(0);
    expect(byId(report.results)).toEqual(byId(ids.map((id) => ({ id, ok: true }))));
    const stored = await storedDocs(ids);
    stored.forEach((s, i) =>
      expect(s).toMatchObject({
        ...docs[i],
        _id: ids[i],
        user: env.names.owner,
        state: 'new',
        type: 'transfer',
        priority: 3,
      }),
    );
  });

  it('submits NDJSON (one document per line, blank lines and CRLF tolerated)', async () => {
    const docs = [jobDoc('ndjson'), jobDoc('ndjson'), jobDoc('ndjson')];
    const text = docs.map((d) => JSON.stringify(d)).join('\r\n') + '\n\n';
    const run = await cli('owner', 'submit', inputFile(text));
    expect(run.code).toBe(0);
    expect(run.out).toContain('3 submitted, 0 refused');
    const stored = await storedDocs(docs.map((d) => sha224(String(d.source_lfn))));
    stored.forEach((s, i) =>
      expect(s).toMatchObject({ source_lfn: docs[i].source_lfn, user: env.names.owner, state: 'new' }),
    );
  });

  it('refuses a resubmission of the same source_lfn as a conflict (exit 1) and leaves the original untouched', async () => {
    const doc = jobDoc('resubmit');
    const [original] = await submitAs('owner', [doc]);
    const again = { ...doc, size: 999999, jobid: 'retry-of-' + doc.jobid };
    const run = await cli('owner', 'submit', inputFile(JSON.stringify(again)));
    expect(run.code).toBe(1);
    expect(run.out).toContain(`refused   ${original._id}: conflict: already submitted (same source_lfn)`);
    expect(run.out).toContain('0 submitted, 1 refused');
    expect(await storedDocs([original._id])).toEqual([original]);
  });

  it('in a batch, stores the new documents and reports only the resubmitted one', async () => {
    const doc = jobDoc('batch-resubmit');
    const [original] = await submitAs('owner', [doc]);
    const fresh = jobDoc('batch-resubmit');
    const run = await cli('owner', 'submit', inputFile(JSON.stringify([fresh, doc])), '--json');
    expect(run.code).toBe(1);
    const report = JSON.parse(run.out);
    expect(report.failed).toBe(1);
    expect(byId(report.results)).toEqual(
      byId([
        { id: sha224(String(fresh.source_lfn)), ok: true },
        { id: original._id, ok: false, error: 'conflict: already submitted (same source_lfn)' },
      ]),
    );
    expect((await storedDocs([sha224(String(fresh.source_lfn))]))[0]).toMatchObject({ source_lfn: fresh.source_lfn });
    expect(await storedDocs([original._id])).toEqual([original]);
  });

  describe('malformed input: exit 2, a message naming the problem, nothing stored', () => {
    it('bad JSON', async () => {
      const run = await cli('owner', 'submit', inputFile('{"workflow": "badjson", "size": '));
      expect(run.code).toBe(2);
      expect(run.out).toBe('');
      expect(run.err).toMatch(/^couchstage submit: line 1: not JSON/);
    });

    it('one NDJSON line that is not JSON among good ones', async () => {
      const docs = [jobDoc('badline'), jobDoc('badline')];
      const run = await cli(
        'owner',
        'submit',
        inputFile(`${JSON.stringify(docs[0])}\n{"oops"\n${JSON.stringify(docs[1])}\n`),
      );
      expect(run.code).toBe(2);
      expect(run.err).toMatch(/line 2: not JSON/);
      expect(await storedDocs(docs.map((d) => sha224(String(d.source_lfn))))).toEqual([null, null]);
    });

    it.each([
      ['size -1', 'size', { size: -1 }],
      ['a relative source_lfn', 'source_lfn', { source_lfn: 'store/temp/x.root' }],
      ['a bad adler32', 'checksums.adler32', { checksums: { adler32: 'xyz' } }],
      ['an unknown field', 'destinaton', { destinaton: 'T2_X' }],
      ['priority 9', 'priority', { priority: 9 }],
    ])('one document with %s among good ones names %s', async (_label, field, bad) => {
      const docs = [jobDoc('onebad'), jobDoc('onebad', bad), jobDoc('onebad')];
      const run = await cli('owner', 'submit', inputFile(JSON.stringify(docs)));
      expect(run.code).toBe(2);
      expect(run.out).toBe('');
      expect(run.err).toContain(`document 2: ${field}: `);
      expect(run.err).toContain('nothing was submitted');
      const ids = docs.map((d) => (typeof d.source_lfn === 'string' ? sha224(d.source_lfn) : 'none'));
      expect(await storedDocs(ids)).toEqual([null, null, null]);
    });

    it('a JSON value that is not an object', async () => {
      const good = jobDoc('notobject');
      const run = await cli('owner', 'submit', inputFile(JSON.stringify([good, 'just a string'])));
      expect(run.code).toBe(2);
      expect(run.err).toContain('document 2: must be a JSON object');
      expect(await storedDocs([sha224(String(good.source_lfn))])).toEqual([null]);
    });

    it('an empty file', async () => {
      const run = await cli('owner', 'submit', inputFile('  \n'));
      expect(run.code).toBe(2);
      expect(run.err).toContain('no input');
    });

    it('a file that does not exist', async () => {
      const run = await cli('owner', 'submit', path.join(tmp, 'no-such-file.json'));
      expect(run.code).toBe(2);
      expect(run.err).toContain('cannot read ' + path.join(tmp, 'no-such-file.json'));
    });
  });

  it("refuses (server side) a document in another user's name, naming user, and stores nothing", async () => {
    const doc = jobDoc('impostor', { user: env.names.other });
    const run = await cli('owner', 'submit', inputFile(JSON.stringify(doc)));
    expect(run.code).toBe(1);
    const id = sha224(String(doc.source_lfn));
    expect(run.out).toContain(`refused   ${id}: forbidden: user: must be your own user name (${env.names.owner})`);
    expect(await storedDocs([id])).toEqual([null]);
  });
});

describe('couchstage status --json', () => {
  type Row = { user: string; workflow: string; state: TransferState; files: number; bytes: number };

  beforeAll(async () => {
    // Two users, two workflows each, documents in several states.
    for (const actor of ['owner', 'other'] as const) {
      for (const wf of ['stat-a', 'stat-b']) {
        const docs = await submitAs(actor, [jobDoc(wf), jobDoc(wf), jobDoc(wf), jobDoc(wf)]);
        await moveAsAgent(docs[0]._id, ['acquired', 'submitted', 'done']);
        await moveAsAgent(docs[1]._id, ['acquired', 'submitted', 'failed']);
        if (wf === 'stat-b') await moveAsAgent(docs[2]._id, ['killed']);
      }
    }
  });

  /** Files and bytes computed from the documents themselves (`_all_docs`), optionally filtered. */
  async function fromDocs(filter: (d: Doc) => boolean = () => true) {
    const all = await transfers().list({ include_docs: true });
    const docs = all.rows.map((r) => r.doc as Doc).filter((d) => d.type === 'transfer' && filter(d));
    const states = Object.fromEntries(TRANSFER_STATES.map((s) => [s, { files: 0, bytes: 0 }]));
    const rows = new Map<string, Row>();
    for (const d of docs) {
      const state = d.state as TransferState;
      states[state].files++;
      states[state].bytes += d.size as number;
      const key = JSON.stringify([d.user, d.workflow, state]);
      const row = rows.get(key) || {
        user: d.user as string,
        workflow: d.workflow as string,
        state,
        files: 0,
        bytes: 0,
      };
      row.files++;
      row.bytes += d.size as number;
      rows.set(key, row);
    }
    const sort = (a: Row, b: Row) =>
      JSON.stringify([a.user, a.workflow, a.state]) < JSON.stringify([b.user, b.workflow, b.state]) ? -1 : 1;
    return { count: docs.length, states, rows: [...rows.values()].sort(sort) };
  }

  const sortRows = (rows: Row[]) =>
    [...rows].sort((a, b) =>
      JSON.stringify([a.user, a.workflow, a.state]) < JSON.stringify([b.user, b.workflow, b.state]) ? -1 : 1,
    );

  it('over all users: per-state totals and per user/workflow/state rows equal the documents', async () => {
    const expected = await fromDocs();
    expect(expected.count).toBeGreaterThanOrEqual(16);
    const run = await cli('owner', 'status', '--all', '--json');
    expect(run).toMatchObject({ code: 0, err: '' });
    const report = JSON.parse(run.out);
    expect(report).toMatchObject({ user: null, workflow: null });
    expect(report.states).toEqual(expected.states);
    expect(sortRows(report.rows)).toEqual(expected.rows);
    // Both users and both workflows are there, and in more than one state (and the group member's one file).
    expect(new Set(report.rows.map((r: Row) => r.user))).toEqual(
      new Set([env.names.owner, env.names.other, env.names.member]),
    );
    expect(report.states.done.files).toBeGreaterThanOrEqual(4);
    expect(report.states.failed.files).toBeGreaterThanOrEqual(4);
    expect(report.states.killed.files).toBeGreaterThanOrEqual(2);
  });

  it('per user (--user): only that user, equal to the documents', async () => {
    const expected = await fromDocs((d) => d.user === env.names.other);
    const run = await cli('owner', 'status', '--user', env.names.other, '--json');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.out);
    expect(report.user).toBe(env.names.other);
    expect(report.states).toEqual(expected.states);
    expect(sortRows(report.rows)).toEqual(expected.rows);
  });

  it('per workflow (--user --workflow): only that workflow, equal to the documents', async () => {
    const expected = await fromDocs((d) => d.user === env.names.owner && d.workflow === 'stat-b');
    const run = await cli('owner', 'status', '--user', env.names.owner, '--workflow', 'stat-b', '--json');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.out);
    expect(report).toMatchObject({ user: env.names.owner, workflow: 'stat-b' });
    expect(report.states).toEqual(expected.states);
    expect(report.states).toMatchObject({
      new: { files: 1 },
      done: { files: 1 },
      failed: { files: 1 },
      killed: { files: 1 },
    });
    expect(sortRows(report.rows)).toEqual(expected.rows);
  });

  it('a workflow prefix does not count another workflow', async () => {
    // `stat` is a prefix of stat-a and stat-b: no workflow of that name, so an error, not their counts.
    const run = await cli('owner', 'status', '--user', env.names.owner, '--workflow', 'stat', '--json');
    expect(run).toMatchObject({ code: 1, out: '' });
    expect(run.err).toContain(`no workflow stat for user ${env.names.owner}`);
  });

  it('prints a table without --json, with the same numbers (sizes in binary units)', async () => {
    const expected = await fromDocs((d) => d.user === env.names.owner && d.workflow === 'stat-a');
    const run = await cli('owner', 'status', '--user', env.names.owner, '--workflow', 'stat-a');
    expect(run.code).toBe(0);
    expect(run.out).toContain(`transfers of ${env.names.owner} in stat-a`);
    const done = expected.states.done;
    expect(run.out).toMatch(new RegExp(`\\n  done +${done.files} +${formatSize(done.bytes).replace('.', '\\.')}\\n`));
    expect(run.out).not.toContain(` ${done.bytes} `);
  });

  it("by default shows only the signed-in user's workflows", async () => {
    const expected = await fromDocs((d) => d.user === env.names.owner);
    const run = await cli('owner', 'status', '--json');
    expect(run).toMatchObject({ code: 0, err: '' });
    const report = JSON.parse(run.out);
    expect(report.user).toBe(env.names.owner);
    expect(report.states).toEqual(expected.states);
    expect(sortRows(report.rows)).toEqual(expected.rows);
    const text = await cli('other', 'status');
    expect(text.out).toContain(`transfers of ${env.names.other}`);
    expect(text.out).not.toContain(env.names.owner);
  });

  it("--workflow alone is one of the signed-in user's workflows", async () => {
    const expected = await fromDocs((d) => d.user === env.names.owner && d.workflow === 'stat-a');
    const run = await cli('owner', 'status', '--workflow', 'stat-a', '--json');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.out)).toMatchObject({ user: env.names.owner, workflow: 'stat-a', states: expected.states });
  });

  it('--all with --workflow or --user is a usage error (exit 2)', async () => {
    const wf = await cli('owner', 'status', '--all', '--workflow', 'stat-a');
    expect(wf.code).toBe(2);
    expect(wf.err).toContain("--workflow is one user's workflow");
    const user = await cli('owner', 'status', '--all', '--user', env.names.other);
    expect(user.code).toBe(2);
    expect(user.err).toContain('--all and --user');
  });

  it("--all prints every user's rows in aligned columns, sizes in binary units", async () => {
    const expected = await fromDocs();
    const run = await cli('owner', 'status', '--all');
    expect(run.code).toBe(0);
    const lines = run.out.split('\n');
    const split = lines.indexOf('by user / workflow / state:');
    expect(split).toBeGreaterThan(0);
    const totals = lines.slice(1, split);
    const rows = lines.slice(split + 1);
    expect(totals).toHaveLength(TRANSFER_STATES.length + 1);
    expect(rows).toHaveLength(expected.rows.length + 1);
    // The size column is right-aligned and last: aligned rows are all as long as the header.
    for (const block of [totals, rows]) expect(new Set(block.map((l) => l.length)).size).toBe(1);
    // Names of different lengths: the workflow column starts at the same place on every row.
    const col = rows[0].indexOf('workflow');
    for (const l of rows) expect([l[col - 1], l[col] !== ' ']).toEqual([' ', true]);
    for (const r of expected.rows) {
      expect(
        rows.some(
          (l) =>
            l
              .trim()
              .split(/\s{2,}/)
              .join('|') === [r.user, r.workflow, r.state, r.files, formatSize(r.bytes)].join('|'),
        ),
      ).toBe(true);
    }
  });

  it('agent --jobs takes a positive number, and only for the worker (exit 2, nothing started)', async () => {
    for (const [args, message] of [
      [['worker', '--jobs', '0'], '--jobs must be a positive number'],
      [['worker', '--jobs', 'x'], '--jobs must be a positive number'],
      [['scheduler', '--jobs', '2'], '--jobs is for the worker'],
    ] as const) {
      const run = await cli('owner', 'agent', ...args, '--once');
      expect(run.code).toBe(2);
      expect(run.err).toContain(message);
    }
  });
});

describe('couchstage kill', () => {
  it('as the owner sets kill_requested on a pending transfer and changes nothing else', async () => {
    const [doc] = await submitAs('owner', [jobDoc('kill')]);
    const run = await cli('owner', 'kill', doc._id);
    expect(run).toEqual({ code: 0, out: `requested ${doc._id}`, err: '' });
    const [after] = await storedDocs([doc._id]);
    expect(after).toEqual({ ...doc, kill_requested: true, _rev: expect.stringMatching(/^2-/) });
  });

  it('skips a done transfer with a reason and leaves it untouched', async () => {
    const [doc] = await submitAs('owner', [jobDoc('kill')]);
    await moveAsAgent(doc._id, ['acquired', 'submitted', 'done']);
    const [before] = await storedDocs([doc._id]);
    const run = await cli('owner', 'kill', doc._id, '--json');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.out)).toEqual([{ id: doc._id, result: 'skipped', reason: 'already done' }]);
    expect(await storedDocs([doc._id])).toEqual([before]);
  });

  it('as another user is refused by the server (naming user), exit 1, the document untouched', async () => {
    const [doc] = await submitAs('owner', [jobDoc('kill')]);
    const run = await cli('other', 'kill', doc._id, '--json');
    expect(run.code).toBe(1);
    const [outcome] = JSON.parse(run.out);
    expect(outcome).toMatchObject({ id: doc._id, result: 'refused' });
    expect(outcome.reason).toMatch(/^forbidden: user: /);
    expect(await storedDocs([doc._id])).toEqual([doc]);
  });

  it('with own and foreign ids in one call, reports each outcome under its own id', async () => {
    const own = await submitAs('owner', [jobDoc('kill-mixed'), jobDoc('kill-mixed')]);
    const [foreign] = await submitAs('other', [jobDoc('kill-mixed')]);
    const run = await cli('owner', 'kill', own[0]._id, foreign._id, own[1]._id, '--json');
    expect(run.code).toBe(1);
    const outcomes = JSON.parse(run.out) as { id: string; result: string; reason?: string }[];
    expect(byId(outcomes)).toEqual(
      byId([
        { id: own[0]._id, result: 'requested' },
        { id: foreign._id, result: 'refused', reason: expect.stringMatching(/^forbidden: user: /) },
        { id: own[1]._id, result: 'requested' },
      ]),
    );
    const stored = await storedDocs([own[0]._id, foreign._id, own[1]._id]);
    expect(stored.map((d) => d!.kill_requested)).toEqual([true, undefined, true]);
  });

  it('reports a missing id (exit 1) and still kills the others', async () => {
    const [doc] = await submitAs('owner', [jobDoc('kill')]);
    const missing = sha224('/store/temp/never/submitted.root');
    const run = await cli('owner', 'kill', missing, doc._id, '--json');
    expect(run.code).toBe(1);
    expect(JSON.parse(run.out)).toEqual(
      expect.arrayContaining([
        { id: missing, result: 'missing', reason: 'no such transfer' },
        { id: doc._id, result: 'requested' },
      ]),
    );
    expect((await storedDocs([doc._id]))[0]).toMatchObject({ kill_requested: true });
  });

  it('without ids or --workflow is a usage error (exit 2)', async () => {
    const run = await cli('owner', 'kill');
    expect(run.code).toBe(2);
    expect(run.err).toContain('give transfer ids, or --workflow W');
  });
});

describe('couchstage retry --workflow', () => {
  const PATHS: Record<TransferState, TransferState[]> = {
    new: [],
    acquired: ['acquired'],
    submitted: ['acquired', 'submitted'],
    retry: ['acquired', 'submitted', 'retry'],
    done: ['acquired', 'submitted', 'done'],
    failed: ['acquired', 'submitted', 'failed'],
    killed: ['killed'],
    expired: ['expired'],
  };

  it('as the owner sets retry_requested on the failed, killed and expired transfers only', async () => {
    const docs = await submitAs(
      'owner',
      TRANSFER_STATES.map(() => jobDoc('retry-wf')),
    );
    // Same workflow name for the other user: never touched by the owner's retry.
    const [othersFailed] = await submitAs('other', [jobDoc('retry-wf')]);
    await moveAsAgent(othersFailed._id, PATHS.failed);
    for (let i = 0; i < TRANSFER_STATES.length; i++) await moveAsAgent(docs[i]._id, PATHS[TRANSFER_STATES[i]]);
    const before = await storedDocs(docs.map((d) => d._id));
    expect(before.map((d) => d!.state)).toEqual(TRANSFER_STATES);
    const othersBefore = await storedDocs([othersFailed._id]);

    const run = await cli('owner', 'retry', '--workflow', 'retry-wf', '--json');
    expect(run).toMatchObject({ code: 0, err: '' });
    const outcomes = JSON.parse(run.out) as { id: string; result: string; reason?: string }[];
    expect(outcomes).toHaveLength(TRANSFER_STATES.length);

    const after = await storedDocs(docs.map((d) => d._id));
    TRANSFER_STATES.forEach((state, i) => {
      const outcome = outcomes.find((o) => o.id === docs[i]._id);
      if (RETRYABLE_STATES.includes(state)) {
        expect(outcome).toEqual({ id: docs[i]._id, result: 'requested' });
        expect(after[i]).toEqual({ ...before[i], retry_requested: true, _rev: expect.any(String) });
      } else {
        expect(outcome).toEqual({ id: docs[i]._id, result: 'skipped', reason: expect.stringContaining(`is ${state}`) });
        expect(after[i]).toEqual(before[i]);
      }
    });
    expect(await storedDocs([othersFailed._id])).toEqual(othersBefore);
  });

  it('a second retry skips what is already requested', async () => {
    const run = await cli('owner', 'retry', '--workflow', 'retry-wf', '--json');
    expect(run.code).toBe(0);
    const outcomes = JSON.parse(run.out) as { result: string; reason?: string }[];
    expect(outcomes.filter((o) => o.reason === 'retry already requested')).toHaveLength(RETRYABLE_STATES.length);
    expect(outcomes.every((o) => o.result === 'skipped')).toBe(true);
  });

  it("for another user's workflow (--user) is refused by the server and changes nothing", async () => {
    const [doc] = await submitAs('other', [jobDoc('retry-foreign')]);
    await moveAsAgent(doc._id, PATHS.failed);
    const [before] = await storedDocs([doc._id]);
    const run = await cli('owner', 'retry', '--workflow', 'retry-foreign', '--user', env.names.other, '--json');
    expect(run.code).toBe(1);
    expect(JSON.parse(run.out)).toEqual([
      { id: doc._id, result: 'refused', reason: expect.stringMatching(/^forbidden: user: /) },
    ]);
    expect(await storedDocs([doc._id])).toEqual([before]);
  });
});

describe('couchstage retry / kill: output and unknown workflows', () => {
  it('retry --workflow prints only what it changed, and one line for the rest', async () => {
    const docs = await submitAs('owner', [
      jobDoc('retry-quiet'),
      jobDoc('retry-quiet'),
      jobDoc('retry-quiet'),
      jobDoc('retry-quiet'),
    ]);
    for (const d of docs.slice(0, 3)) await moveAsAgent(d._id, ['acquired', 'submitted', 'done']);
    await moveAsAgent(docs[3]._id, ['acquired', 'submitted', 'failed']);
    const run = await cli('owner', 'retry', '--workflow', 'retry-quiet');
    expect(run).toEqual({ code: 0, out: `requested ${docs[3]._id}\nunchanged 3: 3 done`, err: '' });
    const again = await cli('owner', 'retry', '--workflow', 'retry-quiet');
    expect(again).toEqual({ code: 0, out: 'unchanged 4: 3 done, 1 retry already requested', err: '' });
  });

  it.each(['retry', 'kill', 'status'])(
    '%s --workflow of no workflow says so (exit 1) and changes nothing',
    async (command) => {
      const run = await cli('owner', command, '--workflow', 'nosuch');
      expect(run).toEqual({
        code: 1,
        out: '',
        err: `couchstage ${command}: no workflow nosuch for user ${env.names.owner}`,
      });
      const other = await cli('owner', command, '--workflow', 'nosuch', '--user', env.names.other);
      expect(other.code).toBe(1);
      expect(other.err).toContain(`no workflow nosuch for user ${env.names.other}`);
    },
  );
});

describe('couchstage files', () => {
  let docs: Doc[];
  const REASON = 'checksum mismatch: source 0badcafe, destination 12345678';

  beforeAll(async () => {
    docs = await submitAs('owner', [
      jobDoc('files-wf'),
      jobDoc('files-wf', { size: 5 * 1024 * 1024 }),
      jobDoc('files-wf'),
    ]);
    await moveAsAgent(docs[0]._id, ['acquired', 'submitted', 'done']);
    await moveAsAgent(docs[1]._id, ['acquired', 'submitted']);
    const db = env.as('agent').use<Doc>(env.dbs.transfers);
    const cur = await db.get(docs[1]._id);
    await db.insert({
      ...cur,
      state: 'failed',
      failure_reason: REASON,
      last_update: new Date().toISOString(),
    } as never);
    // Same workflow name for another user: never listed with the owner's.
    await submitAs('other', [jobDoc('files-wf')]);
  });

  it("lists the own workflow's files with state, size and failure reason, in aligned columns", async () => {
    const run = await cli('owner', 'files', '--workflow', 'files-wf');
    expect(run).toMatchObject({ code: 0, err: '' });
    const lines = run.out.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^state +size +attempts +destination_lfn +failure_reason$/);
    const col = lines[0].indexOf('destination_lfn');
    for (const l of lines.slice(1)) expect(l.slice(col)).toMatch(/^\/store\/user\//);
    const failed = lines.find((l) => l.startsWith('failed'))!;
    expect(failed).toContain(formatSize(5 * 1024 * 1024));
    expect(failed.endsWith(`${docs[1].destination_lfn}  ${REASON}`)).toBe(true);
    expect(run.out).not.toContain(env.names.other);
  });

  it('--state keeps one state; --json prints one JSON object per line', async () => {
    const run = await cli('owner', 'files', '--workflow', 'files-wf', '--state', 'failed', '--json');
    expect(run.code).toBe(0);
    expect(run.out.split('\n').map((l) => JSON.parse(l))).toEqual([
      {
        id: docs[1]._id,
        state: 'failed',
        size: 5 * 1024 * 1024,
        source_lfn: docs[1].source_lfn,
        destination_lfn: docs[1].destination_lfn,
        failure_reason: REASON,
        attempts: 0,
        last_update: expect.any(String),
      },
    ]);
    const all = await cli('owner', 'files', '--workflow', 'files-wf', '--json');
    expect(
      all.out
        .split('\n')
        .map((l) => JSON.parse(l).id)
        .sort(),
    ).toEqual(docs.map((d) => d._id).sort());
    const none = await cli('owner', 'files', '--workflow', 'files-wf', '--state', 'expired');
    expect(none).toEqual({ code: 0, out: 'no files of files-wf are expired', err: '' });
  });

  it('an unknown workflow is an error (exit 1), as is a bad --state or a missing --workflow (exit 2)', async () => {
    expect(await cli('owner', 'files', '--workflow', 'nosuch')).toEqual({
      code: 1,
      out: '',
      err: `couchstage files: no workflow nosuch for user ${env.names.owner}`,
    });
    expect(await cli('owner', 'files', '--workflow', 'nosuch', '--state', 'failed')).toMatchObject({
      code: 1,
      out: '',
    });
    const bad = await cli('owner', 'files', '--workflow', 'files-wf', '--state', 'broken');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--state must be one of new, ');
    expect((await cli('owner', 'files')).code).toBe(2);
  });

  it("--user is for operators: a plain user is refused another user's files, an operator sees them", async () => {
    const refused = await cli('other', 'files', '--workflow', 'files-wf', '--user', env.names.owner);
    expect(refused).toMatchObject({ code: 2, out: '' });
    expect(refused.err).toContain('--user is for operators');
    const ops = await cli('ops', 'files', '--workflow', 'files-wf', '--user', env.names.owner, '--json');
    expect(ops.code).toBe(0);
    expect(ops.out.split('\n')).toHaveLength(3);
  });
});

describe('help of every command', () => {
  it.each(COMMANDS.map((c) => c.name))('%s --help and -h print its usage, exit 0 and run nothing', async (name) => {
    const dead = {
      env: { COUCHDB_URL: `http://u:p@127.0.0.1:${await closedPort()}`, COUCHSTAGE_DB_PREFIX: env.prefix },
    };
    for (const flag of ['--help', '-h']) {
      const run = await cli(dead, name, ...(name === 'agent' ? ['worker'] : []), flag);
      expect(run).toMatchObject({ code: 0, err: '' });
      expect(run.out.startsWith(`Usage: couchstage ${name}`)).toBe(true);
    }
    expect(await cli('owner', 'help', name)).toMatchObject({ code: 0, out: (await cli(dead, name, '--help')).out });
  });

  it('status --help on a live server prints the usage, not the status', async () => {
    const run = await cli('owner', 'status', '--all', '--help');
    expect(run).toMatchObject({ code: 0, err: '' });
    expect(run.out).toMatch(/^Usage: couchstage status /);
    expect(run.out).not.toContain('transfers of');
  });

  it('submit FILE --help submits nothing', async () => {
    const doc = jobDoc('help-submit');
    const run = await cli('owner', 'submit', inputFile(JSON.stringify(doc)), '--help');
    expect(run.code).toBe(0);
    expect(await storedDocs([sha224(String(doc.source_lfn))])).toEqual([null]);
  });

  it('catalog help (which the main help names) prints the catalogue queries', async () => {
    const run = await cli('owner', 'catalog', 'help');
    expect(run).toMatchObject({ code: 0, err: '' });
    expect(run.out).toMatch(/^Usage: couchstage catalog <query>/);
    for (const q of ['datasets', 'blocks', 'files', 'replicas', 'locations', 'site', 'ls', 'usage', 'migrate'])
      expect(run.out).toMatch(new RegExp(`\\n  ${q} `));
    expect((await cli('owner', 'catalog', 'blocks', '--help')).out).toBe(run.out);
  });

  it('help of an unknown command exits 2', async () => {
    expect((await cli('owner', 'help', 'frobnicate')).code).toBe(2);
    expect((await cli('owner', 'frobnicate', '--help')).code).toBe(2);
  });
});

describe('doctor --agents', () => {
  it('an unknown agent name is a usage error that lists the known ones (exit 2)', async () => {
    const run = await cli('admin', 'doctor', '--agents', 'scheduler,bogus');
    expect(run).toMatchObject({ code: 2, out: '' });
    expect(run.err).toContain('unknown agent bogus');
    expect(run.err).toContain('scheduler, worker, retrier, publisher, requests, deleter, stats');
  });
});

describe('a server that does not answer', () => {
  it.each([
    ['status'],
    ['status', '--all'],
    ['files', '--workflow', 'w'],
    ['retry', '--workflow', 'w'],
    ['kill', 'some-id'],
    ['catalog', 'datasets'],
    ['quota', 'show'],
  ])('%s: names the URL without credentials and what to check (exit 1)', async (...argv) => {
    const port = await closedPort();
    const run = await cli(
      { env: { COUCHDB_URL: `http://someone:s3cret-pw@127.0.0.1:${port}`, COUCHSTAGE_DB_PREFIX: env.prefix } },
      ...argv,
    );
    expect(run).toMatchObject({ code: 1, out: '' });
    expect(run.err).toContain(`couchstage ${argv[0]}: http://127.0.0.1:${port} did not answer (ECONNREFUSED)`);
    expect(run.err).toContain('Is the server running');
    expect(run.err).toContain('COUCHDB_URL');
    expect(run.err).not.toContain('s3cret-pw');
    expect(run.err).not.toContain('error happened in your connection');
  });

  it('submit names it too, and an unknown host as well', async () => {
    const port = await closedPort();
    const submit = await cli(
      { env: { COUCHDB_URL: `http://someone:s3cret-pw@127.0.0.1:${port}`, COUCHSTAGE_DB_PREFIX: env.prefix } },
      'submit',
      inputFile(JSON.stringify(jobDoc('dead'))),
    );
    expect(submit.code).toBe(1);
    expect(submit.err).toContain(`http://127.0.0.1:${port} did not answer (ECONNREFUSED)`);
    const host = await cli(
      { env: { COUCHDB_URL: 'http://someone:s3cret-pw@no-such-host.invalid:5984', COUCHSTAGE_DB_PREFIX: env.prefix } },
      'status',
    );
    expect(host.code).toBe(1);
    expect(host.err).toMatch(/http:\/\/no-such-host\.invalid:5984 did not answer \((ENOTFOUND|EAI_AGAIN)\)/);
    expect(host.err).not.toContain('s3cret-pw');
  });

  it('a server that accepts and never answers is reported after the answer timeout, not waited for', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((sock) => void sockets.push(sock));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      for (const argv of [['status'], ['catalog', 'datasets'], ['files', '--workflow', 'w']]) {
        const run = await cli(
          {
            env: {
              COUCHDB_URL: `http://someone:s3cret-pw@127.0.0.1:${port}`,
              COUCHSTAGE_DB_PREFIX: env.prefix,
              COUCHSTAGE_ANSWER_TIMEOUT: '1',
            },
          },
          ...argv,
        );
        expect(run).toMatchObject({ code: 1, out: '' });
        expect(run.err).toContain(
          `couchstage ${argv[0]}: http://127.0.0.1:${port} did not answer (no answer within 1 s;`,
        );
        expect(run.err).toContain('COUCHSTAGE_ANSWER_TIMEOUT');
        expect(run.err).not.toContain('s3cret-pw');
      }
      // The bound is on waiting for an answer: a real server's answers are unaffected.
      expect(
        (
          await cli(
            {
              env: {
                COUCHDB_URL: env.urlAs('owner'),
                COUCHSTAGE_DB_PREFIX: env.prefix,
                COUCHSTAGE_ANSWER_TIMEOUT: '1',
              },
            },
            'status',
          )
        ).code,
      ).toBe(0);
    } finally {
      for (const sock of sockets) sock.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('timeouts count as not answering; HTTP errors do not', () => {
    expect(
      connectionFailure(
        Object.assign(new TypeError('fetch failed'), {
          cause: Object.assign(new Error('Connect Timeout Error'), { code: 'UND_ERR_CONNECT_TIMEOUT' }),
        }),
      ),
    ).toBe('UND_ERR_CONNECT_TIMEOUT');
    expect(
      connectionFailure(new Error('error happened in your connection. Reason: Error: connect ETIMEDOUT 10.0.0.1:5984')),
    ).toBe('ETIMEDOUT');
    expect(
      connectionFailure(Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' })),
    ).toBe('timeout');
    expect(connectionFailure(Object.assign(new Error('missing'), { statusCode: 404, error: 'not_found' }))).toBeNull();
  });
});

describe('sizes', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [1024 * 1024 - 1, '1.0 MiB'],
    [5 * 1024 ** 3, '5.0 GiB'],
    [1.25 * 1024 ** 4, '1.3 TiB'],
  ])('%d bytes print as %s', (bytes, text) => {
    expect(formatSize(bytes)).toBe(text);
  });
});

describe('usage', () => {
  it('help prints the usage (exit 0)', async () => {
    const run = await cli('owner', 'help');
    expect(run.code).toBe(0);
    expect(run.out).toMatch(
      /^couchstage - asynchronous stage-out on CouchDB\n\nUsage: couchstage <command> \[options\]/,
    );
    for (const command of ['start', 'deploy', 'submit', 'status', 'kill', 'retry', 'help'])
      expect(run.out).toMatch(new RegExp(`\\n  ${command} `));
  });

  it('no command prints the usage too', async () => {
    const run = await cli('owner');
    expect(run.code).toBe(0);
    expect(run.out).toContain('Usage: couchstage');
  });

  it('an unknown command exits 2 and names it', async () => {
    const run = await cli('owner', 'frobnicate');
    expect(run.code).toBe(2);
    expect(run.out).toBe('');
    expect(run.err).toMatch(/^unknown command "frobnicate"/);
    expect(run.err).toContain('Usage: couchstage');
  });

  it('a valued option without its value exits 2', async () => {
    const run = await cli('owner', 'status', '--user');
    expect(run.code).toBe(2);
    expect(run.err).toBe('couchstage status: --user needs a value');
  });

  it.each([
    ['not a URL', 'not a url', 'COUCHDB_URL: not a URL: "not a url"'],
    ['not http', 'ftp://127.0.0.1:5984', 'COUCHDB_URL: must be http:// or https://'],
    ['a database URL', 'http://127.0.0.1:5984/transfers', 'COUCHDB_URL: must point to the server root, not a database'],
  ])('a bad COUCHDB_URL (%s) exits 2 with a clear message', async (_label, url, message) => {
    const run = await cli({ env: { COUCHDB_URL: url, COUCHSTAGE_DB_PREFIX: 'x_' } }, 'status');
    expect(run).toEqual({ code: 2, out: '', err: `couchstage status: ${message}` });
  });

  it('a bad COUCHSTAGE_DB_PREFIX exits 2', async () => {
    const run = await cli({ env: { COUCHDB_URL: env.urlAs('owner'), COUCHSTAGE_DB_PREFIX: 'Bad Prefix' } }, 'status');
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/^couchstage status: COUCHSTAGE_DB_PREFIX: /);
  });

  it('leaves process.env as it was', async () => {
    const before = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
    await cli('owner', 'status', '--json');
    expect(Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]))).toEqual(before);
  });
});
