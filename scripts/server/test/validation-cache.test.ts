/**
 * The embedded server's validate_doc_update runner (patches/pouchdb-validation.ts) keeps compiled
 * functions until a design document changes. On real PouchDB/LevelDB; only the clock is mocked
 * (Date.now, for the 5 s safety net).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as validation from '../patches/pouchdb-validation';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- PouchDB ships no type declarations
const PouchDB = require('pouchdb');
// eslint-disable-next-line @typescript-eslint/no-require-imports -- PouchDB ships no type declarations
const coucheval = require('couchdb-eval');

const forbid = (field: string) => `function (doc) { if (doc.${field}) throw({ forbidden: 'no ${field}' }); }`;

describe('validation functions cache', () => {
  let tmp: string;
  let db: {
    put(d: object): Promise<{ rev: string }>;
    get(id: string): Promise<{ _rev: string }>;
    close(): Promise<void>;
    installValidationMethods(): void;
  };
  let raw: typeof db; // the same database without validation wrappers: a write path that bypasses them
  let now = Date.now();
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'couchstage-vdu-'));
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    const Validated = PouchDB.defaults({});
    Validated.plugin(validation);
    db = new Validated(path.join(tmp, 'db'));
    db.installValidationMethods();
    raw = new PouchDB(path.join(tmp, 'db'));
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await db.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const refused = (p: Promise<unknown>) => expect(p).rejects.toMatchObject({ status: 403 });
  let n = 0;
  const doc = (extra: object) => ({ _id: `d${n++}`, ...extra });

  it('applies a changed design document from the next write; compiles once while nothing changes', async () => {
    await db.put({ _id: '_design/v', validate_doc_update: forbid('bad') });
    await refused(db.put(doc({ bad: 1 })));
    const evaluate = jest.spyOn(coucheval, 'evaluate');
    for (let i = 0; i < 5; i++) {
      now += 6000; // past the safety net's age: the revisions are listed again, nothing is recompiled
      await db.put(doc({ ok: 1 }));
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(evaluate).not.toHaveBeenCalled();
    const dd = await db.get('_design/v');
    await db.put({ _id: '_design/v', _rev: dd._rev, validate_doc_update: forbid('worse') });
    await db.put(doc({ bad: 1 })); // the new function at once
    await refused(db.put(doc({ worse: 1 })));
    expect(evaluate).toHaveBeenCalledTimes(1);
    evaluate.mockRestore();
  });

  it('validates a batch of new documents against what exists: nothing, a live document or a deleted one', async () => {
    const dd = await db.get('_design/v');
    await db.put({
      _id: '_design/v',
      _rev: dd._rev,
      validate_doc_update:
        "function (doc, old) { if (old && old.locked) throw({ forbidden: 'locked' }); if (doc.needsOld && !old) throw({ forbidden: 'no old' }); }",
    });
    await db.put({ _id: 'live', locked: true });
    const gone = await db.put({ _id: 'gone' });
    await (db as unknown as { remove(id: string, rev: string): Promise<unknown> }).remove('gone', gone.rev);
    const res = await (
      db as unknown as {
        bulkDocs(d: object[]): Promise<{ id: string; error?: boolean | string; message?: string; ok?: boolean }[]>;
      }
    ).bulkDocs([{ _id: 'live' }, { _id: 'new1', needsOld: true }, { _id: 'new2' }, { _id: 'gone' }, { _id: 'new3' }]);
    const byId = Object.fromEntries(res.map((r) => [r.id, r.ok ? 'ok' : r.message]));
    // live: validated against the stored document (then it would be a conflict anyway); new1: no
    // old document; gone: a deleted document is not an old document, so it is written again.
    expect(byId).toEqual({ live: 'locked', new1: 'no old', new2: 'ok', gone: 'ok', new3: 'ok' });
  });

  it('picks up a design document written around the wrappers within the safety net age', async () => {
    const dd = await raw.get('_design/v');
    await raw.put({ _id: '_design/v', _rev: dd._rev, validate_doc_update: forbid('third') } as object);
    await db.put(doc({ third: 1 })); // not noticed yet: the functions at hand are younger than 5 s
    now += 6000; // the next write notices the age, and the check runs beside it
    for (let i = 0; i < 100; i++) {
      try {
        await db.put(doc({ third: 1 }));
      } catch (e) {
        expect(e).toMatchObject({ status: 403, message: 'no third' });
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('the changed design document was never applied');
  });
});
