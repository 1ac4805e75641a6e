/**
 * The whole validate_doc_update table of `transfers` (validate-cases.ts) written as a replicator
 * writes: `_bulk_docs` with `new_edits: false` and a `_revisions` path that extends the stored
 * revision. CouchDB validates such a write against the revision it extends (the nearest ancestor
 * on the path that is stored), so every case must get the same answer as a normal write, and a
 * refused one must store neither the revision nor anything else. A second block pins the case
 * that let a user delete another user's transfer and change the checksum of their own.
 */
import { randomBytes } from 'crypto';
import { createTestEnv, transferFixture, type TestEnv } from '../support/env';
import { CASES, docsFor, type VduCase } from './validate-cases';

type Row = { id?: string; error?: string; reason?: string };

const hash = () => randomBytes(16).toString('hex');

/** A document carrying a revision path that extends `rev` (or a first revision when there is none). */
function extending(doc: Record<string, unknown>, rev: string | undefined): Record<string, unknown> {
  const h = hash();
  if (!rev) return { ...doc, _rev: `1-${h}`, _revisions: { start: 1, ids: [h] } };
  const [n, parent] = [Number(rev.split('-')[0]), rev.slice(rev.indexOf('-') + 1)];
  return { ...doc, _rev: `${n + 1}-${h}`, _revisions: { start: n + 1, ids: [h, parent] } };
}

describe('transfers validate_doc_update on replicated writes (new_edits: false)', () => {
  let env: TestEnv;

  beforeAll(async () => {
    env = await createTestEnv();
  });
  afterAll(() => env?.cleanup());

  /** Writes one document with new_edits false as `actor`: the refusal (status, error) or null. */
  async function replicate(
    actor: Parameters<TestEnv['urlAs']>[0],
    doc: Record<string, unknown>,
  ): Promise<{ status: number; error?: string; reason?: string } | null> {
    const res = await fetch(`${env.baseUrl}/${env.dbs.transfers}/_bulk_docs`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...authHeader(env.urlAs(actor)) },
      body: JSON.stringify({ docs: [doc], new_edits: false }),
    });
    const body = (await res.json()) as Row[] | Row;
    if (res.status !== 201) return { status: res.status, error: (body as Row).error, reason: (body as Row).reason };
    const refused = (body as Row[]).find((r) => r.error);
    if (!refused) return null;
    return {
      status: refused.error === 'unauthorized' ? 401 : refused.error === 'forbidden' ? 403 : 0,
      error: refused.error,
      reason: refused.reason,
    };
  }

  function authHeader(url: string): Record<string, string> {
    const u = new URL(url);
    if (!u.username) return {};
    return {
      Authorization:
        'Basic ' +
        Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64'),
    };
  }

  it.each(CASES.map((c, i) => [c.name, c, i] as const))('%s', async (_name, c: VduCase, i) => {
    const { old, written } = docsFor(c, env, i + 5000);
    const admin = env.admin.use<Record<string, unknown>>(env.dbs.transfers);
    let rev: string | undefined;
    if (old) rev = (await admin.insert(old as never)).rev;
    const doc = extending(written, rev);
    const refused = await replicate(c.actor, doc);
    const id = String(written._id);
    const atNewRev = await admin.get(id, { rev: String(doc._rev) }).then(
      () => 'stored',
      (e) => (e as { statusCode: number }).statusCode,
    );
    if (c.expect === 'ok') {
      expect(refused).toBeNull();
      expect(atNewRev).toBe('stored');
      return;
    }
    expect(refused).toMatchObject({ status: c.expect.status });
    if (c.expect.status === 403) expect(String(refused!.reason).startsWith(c.expect.field + ': ')).toBe(true);
    expect(atNewRev).toBe(404);
    const stored = await admin.get(id).catch((e) => ({ missing: (e as { statusCode: number }).statusCode }));
    if (old) expect(stored).toEqual({ ...old, _id: id, _rev: rev });
    else expect(stored).toEqual({ missing: 404 });
  });

  it('another user cannot delete a transfer, nor its owner change its checksum, by extending its revision path', async () => {
    const owner = env.names.owner;
    const admin = env.admin.use<Record<string, unknown>>(env.dbs.transfers);
    const t = transferFixture(owner);
    const { rev } = await admin.insert(t as never);
    const deletion = extending({ _id: t._id, _deleted: true }, rev);
    expect(await replicate('other', deletion)).toMatchObject({ status: 403 });
    const checksum = extending({ ...t, checksums: { adler32: 'deadbeef' } }, rev);
    expect(await replicate('owner', checksum)).toMatchObject({
      status: 403,
      reason: expect.stringMatching(/^checksums: /),
    });
    expect(await admin.get(String(t._id))).toEqual({ ...t, _rev: rev });
    // A path whose stored ancestor is further back (a revision in between that this server never
    // saw) is validated against that ancestor too.
    const h1 = hash();
    const h2 = hash();
    const far = {
      ...t,
      checksums: { adler32: 'deadbeef' },
      _rev: `3-${h2}`,
      _revisions: { start: 3, ids: [h2, h1, rev.slice(2)] },
    };
    expect(await replicate('owner', far)).toMatchObject({ status: 403 });
    expect(await admin.get(String(t._id))).toEqual({ ...t, _rev: rev });
  });

  it('a revision path that reaches no stored revision (validated as a creation) cannot add a winning branch', async () => {
    const owner = env.names.owner;
    const admin = env.admin.use<Record<string, unknown>>(env.dbs.transfers);
    const t = transferFixture(owner);
    const { rev } = await admin.insert(t as never);
    const [a, b] = [hash(), hash()];
    const branch = { ...t, checksums: { adler32: 'deadbeef' }, _rev: `5-${a}`, _revisions: { start: 5, ids: [a, b] } };
    expect(await replicate('owner', branch)).toMatchObject({ status: 403 });
    expect(await admin.get(String(t._id), { conflicts: true } as never)).toEqual({ ...t, _rev: rev });
    // The same on an id with no document at all: a first revision is 1.
    const fresh = transferFixture(owner);
    const [c, d] = [hash(), hash()];
    expect(await replicate('owner', { ...fresh, _rev: `4-${c}`, _revisions: { start: 4, ids: [c, d] } })).toMatchObject(
      { status: 403, reason: expect.stringMatching(/^_revisions: /) },
    );
    expect(await admin.get(String(fresh._id)).catch((e) => (e as { statusCode: number }).statusCode)).toBe(404);
    // A genuine first revision replicated by its owner is a creation like any other.
    const first = extending(transferFixture(owner), undefined);
    expect(await replicate('owner', first)).toBeNull();
  });
});
