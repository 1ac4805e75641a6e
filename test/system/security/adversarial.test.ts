/**
 * The adversarial suite: over a thousand generated attacks (cases.ts) by a plain user or by
 * nobody against a deployed couchstage, on whichever engine the suite runs on. Every case must be
 * refused with a clear JSON 4xx (for `_bulk_docs`: every document refused), show no stack trace
 * or internal path, leak nothing, store nothing in any database, and leave the server answering.
 */
import { createTestEnv, transferFixture, type Actor, type TestEnv } from '../../support/env';
import { generateCases, replicatedCases, type AdvCase } from './cases';

interface Answer {
  status: number;
  text: string;
  json: unknown;
}

const STACK = /\n\s+at [^\n]*\(?[^\n]*:\d+:\d+\)?|\/node_modules\/|\/work\/|[A-Za-z]:\\/;

describe('adversarial suite', () => {
  let env: TestEnv;
  let cases: AdvCase[];
  const auth = (actor: Actor): Record<string, string> => {
    if (actor === 'anonymous') return {};
    const u = new URL(env.urlAs(actor));
    return {
      Authorization:
        'Basic ' +
        Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64'),
    };
  };

  async function send(c: AdvCase): Promise<Answer> {
    const headers: Record<string, string> = { Accept: 'application/json', ...auth(c.actor), ...(c.headers || {}) };
    let body: BodyInit | undefined;
    if (c.raw !== undefined) body = typeof c.raw === 'string' ? c.raw : new Uint8Array(c.raw);
    else if (c.body !== undefined) {
      body = JSON.stringify(c.body);
      headers['Content-Type'] = headers['Content-Type'] || 'application/json';
    }
    let p = c.path;
    if (p.includes('rev=CURRENT')) {
      const rev = await fetch(env.baseUrl + p.split('?')[0], { headers: auth('admin') }).then(
        (r) => r.json() as Promise<{ _rev?: string }>,
      );
      p = p.replace('rev=CURRENT', 'rev=' + (rev._rev || '1-0'));
    }
    try {
      const res = await fetch(env.baseUrl + p, {
        method: c.method,
        headers,
        body,
        signal: AbortSignal.timeout(60_000),
      });
      const text = await res.text();
      let json: unknown = null;
      try {
        json = JSON.parse(text);
      } catch {
        json = null;
      }
      return { status: res.status, text, json };
    } catch (err) {
      // A server that closes the connection on an oversized body (as CouchDB may after its 413) is
      // judged by the next checks: nothing stored and the server still up.
      return { status: -1, text: String((err as Error).cause ?? err), json: null };
    }
  }

  /**
   * What must not change: this test's databases (update sequence, document count, security) and
   * anything named `evil*` that a case tries to create (databases, users, admins). Other test
   * files run beside this one on the same server, so nothing else is compared.
   */
  async function fingerprint(): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    const admin = { headers: auth('admin') };
    for (const db of Object.values(env.dbs)) {
      const info = await fetch(`${env.baseUrl}/${db}`, admin).then(
        (r) => r.json() as Promise<{ update_seq?: unknown; doc_count?: number }>,
      );
      const sec = await fetch(`${env.baseUrl}/${db}/_security`, admin).then((r) => r.json());
      out[db] = { seq: String(info.update_seq).split('-')[0], docs: info.doc_count, sec };
    }
    out.dbs = ((await fetch(`${env.baseUrl}/_all_dbs`, admin).then((r) => r.json())) as string[]).filter((d) =>
      d.includes('evil'),
    );
    out.users = await fetch(
      `${env.baseUrl}/_users/_all_docs?startkey="org.couchdb.user:evil"&endkey="org.couchdb.user:evil\ufff0"`,
      admin,
    )
      .then((r) => r.json() as Promise<{ rows?: unknown[] }>)
      .then((b) => b.rows);
    out.admins = await fetch(`${env.baseUrl}/_session`, {
      headers: { Authorization: 'Basic ' + Buffer.from('evil:pw').toString('base64') },
    })
      .then((r) => r.json() as Promise<{ userCtx?: unknown }>)
      .then((b) => b.userCtx);
    return out;
  }

  /**
   * Refusals CouchDB 3.4 itself answers with a 500, which no product can change: a
   * non-admin's `PUT /db/_security` (every shard refuses with forbidden and fabric reports
   * `no_majority`), a non-admin's `_index` into an existing design document (mango wraps the
   * forbidden as `error_saving_ddoc`) and `_bulk_get`/`_revs_diff` bodies of the wrong shape. They count as
   * refusals only in exactly that form; the fingerprint still proves nothing changed.
   */
  function couchdbRefusal(c: AdvCase, a: Answer): boolean {
    const e = a.json as { error?: string; reason?: string } | null;
    if (!e) return false;
    if (c.method === 'PUT' && c.path.endsWith('/_security')) return e.error === 'error' && e.reason === 'no_majority';
    if (c.path.endsWith('/_index')) return e.error === 'error_saving_ddoc' && /: forbidden$/.test(e.reason || '');
    // `_bulk_get` and `_revs_diff` bodies of the wrong shape: CouchDB 3.4's chttpd_db has no
    // clause for them and answers 500 `function_clause` (no stack trace, nothing stored).
    if (/\/(_bulk_get|_revs_diff)$/.test(c.path)) return e.error === 'unknown_error' && e.reason === 'function_clause';
    return false;
  }

  function judge(c: AdvCase, a: Answer): string | null {
    if (STACK.test(a.text)) return `answer shows a stack trace or internal path: ${a.text.slice(0, 200)}`;
    for (const s of c.mustNotLeak || []) if (a.text.includes(s)) return `answer leaks "${s}"`;
    if (a.status === -1) return c.group === 'oversized' ? null : `no answer: ${a.text}`;
    if (c.bulk && (a.status === 201 || a.status === 200) && Array.isArray(a.json)) {
      const bad = (a.json as { error?: string }[]).filter((r) => !r || typeof r.error !== 'string');
      return bad.length ? `${bad.length} document(s) accepted: ${JSON.stringify(bad[0])}` : null;
    }
    if (a.status === 500 && couchdbRefusal(c, a)) return null;
    // A malformed body may also be one the server can read (a deep but valid selector, an
    // unknown field it ignores): then any answer but a 5xx is right, as long as it is JSON.
    if (c.group === 'malformed' && a.status >= 200 && a.status < 300 && a.json !== null && !c.bulk) return null;
    if (a.status < 400 || a.status > 499) return `status ${a.status}: ${a.text.slice(0, 200)}`;
    const err = a.json as { error?: unknown; reason?: unknown } | null;
    if (!err || typeof err.error !== 'string')
      return `status ${a.status} without a JSON error: ${a.text.slice(0, 200)}`;
    return null;
  }

  beforeAll(async () => {
    env = await createTestEnv();
    const mine = transferFixture(env.names.owner);
    const theirs = transferFixture(env.names.other);
    const put = async (actor: Actor, doc: Record<string, unknown>) => {
      const res = await fetch(`${env.baseUrl}/${env.dbs.transfers}/${doc._id}`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json', ...auth(actor) },
        body: JSON.stringify(doc),
      });
      const body = (await res.json()) as { rev?: string };
      if (!body.rev) throw new Error(`fixture refused: ${JSON.stringify(body)}`);
      return { ...doc, _rev: body.rev };
    };
    const stored = { owner: await put('owner', mine), other: await put('other', theirs) };
    cases = [...generateCases(env), ...replicatedCases(env, stored)];
  });
  afterAll(() => env?.cleanup());

  it('has at least 1,000 cases over every class of attack', () => {
    expect(cases.length).toBeGreaterThanOrEqual(1000);
    const groups = new Set(cases.map((c) => c.group));
    for (const g of [
      'path',
      'namespace',
      'request',
      'catalog-config',
      'security',
      'design',
      'service-state',
      'anonymous',
      'server-admin-only',
      'malformed',
      'oversized',
      'replicated',
    ]) {
      expect(groups).toContain(g);
    }
  });

  const GROUPS = [
    'path',
    'namespace',
    'request',
    'catalog-config',
    'security',
    'design',
    'admin-endpoint',
    'service-state',
    'anonymous',
    'server-admin-only',
    'malformed',
    'oversized',
    'replicated',
  ];
  it.each(GROUPS)(
    '%s: every case refused, nothing stored, server up',
    async (group) => {
      const failures: string[] = [];
      let before = await fingerprint();
      let n = 0;
      for (const c of cases.filter((x) => x.group === group)) {
        n++;
        const a = await send(c);
        const problem = judge(c, a);
        const after = await fingerprint();
        const changed = Object.keys(after)
          .filter((k) => JSON.stringify(after[k]) !== JSON.stringify(before[k]))
          .map((k) => `${k}: ${JSON.stringify(before[k])} -> ${JSON.stringify(after[k])}`);
        if (problem || changed.length)
          failures.push(
            `${c.name} [${c.actor} ${c.method} ${c.path.slice(0, 80)}]: ${problem || ''}${changed.length ? ' STORED: ' + changed.join('; ') : ''}`,
          );
        before = after;
        // Every service-state forgery is also checked where it would be read.
        if (c.group === 'service-state' && c.method === 'PUT' && c.path.includes('/_local/')) {
          const r = await fetch(env.baseUrl + c.path, { headers: auth('admin') });
          if (r.status !== 404) failures.push(`${c.name}: stored (${r.status})`);
        }
      }
      const up = await fetch(`${env.baseUrl}/_up`)
        .then((r) => r.status)
        .catch(() => 0);
      expect(up).toBe(200);
      expect(n).toBeGreaterThan(0);
      expect(failures).toEqual([]);
    },
    600_000,
  );
});
