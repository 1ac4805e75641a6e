/**
 * validate_doc_update of `transfers`, table-driven (validate-cases.ts), twice: in process against
 * the compiled function string, and deployed on the server, where a refused write must also
 * leave the stored document untouched.
 */
import { buildDesignDocs } from '../../design';
import { evaluateFunction } from '../../design/compile';
import { securityObject } from '../../scripts/deploy';
import { GROUP_ROLE_PREFIX, Role } from '../../views/schema';
import { createTestEnv, type Actor, type TestEnv } from '../support/env';
import { CASES, docsFor } from './validate-cases';

const ROOT = `${__dirname}/../..`;

describe('transfers validate_doc_update', () => {
  let env: TestEnv;
  let vdu: (...args: unknown[]) => unknown;

  beforeAll(async () => {
    env = await createTestEnv();
    const built = await buildDesignDocs(ROOT, 'test');
    const ddoc = built.find((b) => b.db === 'transfers' && b.id === '_design/validate')!;
    vdu = evaluateFunction(ddoc.doc.validate_doc_update as string, {}, ddoc.doc);
  });
  afterAll(() => env?.cleanup());

  function userCtx(actor: Actor) {
    if (actor === 'anonymous') return { name: null, roles: [] };
    if (actor === 'admin') return { name: 'admin', roles: ['_admin'] };
    const roles = {
      owner: [Role.user],
      other: [Role.user],
      member: [Role.user, GROUP_ROLE_PREFIX + env.group],
      agent: [Role.agent],
      ops: [Role.ops],
    }[actor];
    return { name: env.names[actor], roles };
  }

  it('covers at least 40 refused writes', () => {
    expect(CASES.filter((c) => c.expect !== 'ok').length).toBeGreaterThanOrEqual(40);
  });

  describe('in process (compiled string, no Node globals)', () => {
    it.each(CASES.map((c, i) => [c.name, c, i] as const))('%s', (_name, c, i) => {
      const { old, written } = docsFor(c, env, i);
      const newDoc = c.delete ? { ...written, _rev: '1-x' } : written;
      let thrown: unknown = null;
      try {
        vdu(newDoc, old, userCtx(c.actor), securityObject());
      } catch (e) {
        thrown = e;
      }
      if (c.expect === 'ok') {
        expect(thrown).toBeNull();
      } else if (c.expect.status === 401) {
        expect(thrown).toEqual({ unauthorized: expect.any(String) });
      } else {
        expect(thrown).toEqual({
          forbidden: expect.stringMatching(new RegExp('^' + c.expect.field.replace(/[.[\]]/g, '\\$&') + ': ')),
        });
      }
    });
  });

  describe('deployed on the server', () => {
    it.each(CASES.map((c, i) => [c.name, c, i] as const))('%s', async (_name, c, i) => {
      const { old, written } = docsFor(c, env, i + 1000);
      const admin = env.admin.use<Record<string, unknown>>(env.dbs.transfers);
      let rev: string | undefined;
      if (old) rev = (await admin.insert(old as never)).rev;
      const db = env.as(c.actor).use<Record<string, unknown>>(env.dbs.transfers);
      let status = 201;
      let reason = '';
      try {
        if (c.delete && Object.keys(c.write).length) await db.insert({ ...written, _rev: rev } as never);
        else if (c.delete) await db.destroy(String(written._id), rev!);
        else await db.insert({ ...written, ...(rev ? { _rev: rev } : {}) } as never);
      } catch (e) {
        const err = e as { statusCode?: number; reason?: string };
        status = err.statusCode ?? 0;
        reason = err.reason ?? String(e);
      }
      if (c.expect === 'ok') {
        expect({ status, reason }).toEqual({ status: status === 200 ? 200 : 201, reason: '' });
        return;
      }
      expect(status).toBe(c.expect.status);
      if (c.expect.status === 403) expect(reason.startsWith(c.expect.field + ': ')).toBe(true);
      // Nothing is stored by a refused write.
      const id = String(written._id);
      const stored = await admin.get(id).catch((e) => ({ missing: (e as { statusCode: number }).statusCode }));
      if (old) expect(stored).toEqual({ ...old, _id: id, _rev: rev });
      else expect(stored).toEqual({ missing: 404 });
    });
  });
});
