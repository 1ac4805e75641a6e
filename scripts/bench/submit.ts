/**
 * `npm run bench:submit [-- N]`: what validate_doc_update costs a job's submission. In one run on
 * the same server: the raw `_bulk_docs` rate into a database without validation, the rate of the
 * same documents written by a user into the deployed `transfers` database (every document passes
 * the compiled TypeScript validate_doc_update, SHA-224 id check included), the rate through a
 * validate_doc_update that does nothing (what the server charges for calling any validation
 * function: on CouchDB 3.4.3 a `reset` of the query server, a full QuickJS garbage collection,
 * before every document), and the function's own cost in process. Prints figures and ratios;
 * asserts nothing. With `--auth`, instead: the submission signed in by each authentication mode
 * (submit-auth.ts). With `--gateway`: the submission through the TLS gateway beside a
 * password straight to the server (submit-gateway.ts).
 */
import { randomBytes } from 'crypto';
import { performance } from 'perf_hooks';
import { buildDesignDocs } from '../../design';
import { evaluateFunction } from '../../design/compile';
import { projectRoot, withCredentials, withoutCredentials } from '../../agents/platform/config';
import { connect } from '../../agents/platform/couch';
import { put, type RawDoc } from '../../agents/platform/docs';
import { dbNames, Role } from '../../views/schema';
import { deploy, securityObject } from '../deploy';
import { benchServer } from './server';
import { makeDocs } from './submit-docs';
import { benchAuth } from './submit-auth';
import { benchGateway } from './submit-gateway';

/** `--auth` and `--gateway` are taken out of argv before the positional N is read. */
const authFlag = process.argv.indexOf('--auth');
if (authFlag > 1) process.argv.splice(authFlag, 1);
const gatewayFlag = process.argv.indexOf('--gateway');
if (gatewayFlag > 1) process.argv.splice(gatewayFlag, 1);

const BATCH = 500; // a job-side batch: large enough to amortise HTTP, small enough for one request body

async function timeBulk(url: string, db: string, docs: object[]): Promise<number> {
  const d = connect(url).use(db);
  const t0 = performance.now();
  for (let i = 0; i < docs.length; i += BATCH) {
    const res = await d.bulk({ docs: docs.slice(i, i + BATCH) });
    const bad = res.find((r) => r.error);
    if (bad) throw new Error(`bulk write refused: ${bad.error} ${bad.reason}`);
  }
  return (performance.now() - t0) / 1000;
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] || 20000);
  const server = await benchServer();
  const tag = randomBytes(4).toString('hex');
  const prefix = `bench_${tag}_`;
  const dbs = dbNames(prefix);
  const user = `bench_${tag}`;
  const admin = connect(server.url);
  try {
    await deploy({
      url: server.url,
      dbs,
      users: [{ name: user, password: tag, roles: [Role.user] }],
      version: 'bench',
    });
    if (authFlag > 1) {
      console.log(`server: ${server.kind}`);
      return await benchAuth(server.url, dbs, n);
    }
    if (gatewayFlag > 1) {
      console.log(`server: ${server.kind}`);
      return await benchGateway(server.url, dbs, n);
    }
    const rawDb = prefix + 'raw';
    await admin.db.create(rawDb);
    await admin.request({ db: rawDb, method: 'PUT', path: '_security', body: securityObject() });
    const rawSeconds = await timeBulk(server.url, rawDb, makeDocs(n, user, 'raw'));
    const userUrl = withCredentials(withoutCredentials(server.url), user, tag);
    const vduSeconds = await timeBulk(userUrl, dbs.transfers, makeDocs(n, user, 'vdu'));
    // Let the background indexer finish the deployed views before the next phase, which it would
    // otherwise slow down (a view query waits for its index to be up to date).
    await admin.request({ db: dbs.transfers, path: '_design/monitor/_view/totals', qs: { limit: 0 } });
    /** A database secured like the deployed ones, holding only the design document `ddoc`. */
    const dbWith = async (name: string, ddoc: RawDoc) => {
      await admin.db.create(name);
      await admin.request({ db: name, method: 'PUT', path: '_security', body: securityObject() });
      await put(admin.use(name), ddoc);
      return name;
    };
    const noopDb = await dbWith(prefix + 'noop', {
      _id: '_design/noop',
      validate_doc_update: 'function (newDoc, oldDoc, userCtx, secObj) {}',
    });
    const noopSeconds = await timeBulk(userUrl, noopDb, makeDocs(n, user, 'noop'));
    // couchstage's validation function alone, without the deployed database's views (which
    // CouchDB's background indexer builds while the documents arrive).
    const built = await buildDesignDocs(projectRoot(), 'bench');
    const ddoc = built.find((b) => b.db === 'transfers' && b.id === '_design/validate')!;
    const checksDb = await dbWith(prefix + 'checks', { ...ddoc.doc, _id: ddoc.id });
    const checksSeconds = await timeBulk(userUrl, checksDb, makeDocs(n, user, 'checks'));

    const vdu = evaluateFunction(ddoc.doc.validate_doc_update as string, {}, ddoc.doc);
    const docs = makeDocs(n, user, 'mem');
    const ctx = { name: user, roles: [Role.user] };
    const t0 = performance.now();
    for (const d of docs) vdu(d, null, ctx, securityObject());
    const perDocUs = ((performance.now() - t0) * 1000) / n;

    const raw = n / rawSeconds;
    const validated = n / vduSeconds;
    const noop = n / noopSeconds;
    const us = (seconds: number) => (seconds * 1e6) / n;
    console.log(`server: ${server.kind}, ${n} transfer documents, _bulk_docs batches of ${BATCH}`);
    console.log(`raw _bulk_docs (no validation):        ${raw.toFixed(0)} docs/s`);
    console.log(`user submit into deployed transfers:   ${validated.toFixed(0)} docs/s`);
    console.log(`user submit through a no-op validation: ${noop.toFixed(0)} docs/s`);
    console.log(`... through couchstage's validation alone: ${(n / checksSeconds).toFixed(0)} docs/s (no views)`);
    console.log(`ratio validated/raw:                   ${(validated / raw).toFixed(2)}`);
    console.log(`ratio validated/no-op validation:      ${(validated / noop).toFixed(2)}`);
    console.log(
      `per document: raw ${us(rawSeconds).toFixed(0)} us, calling a validation function ${(us(noopSeconds) - us(rawSeconds)).toFixed(0)} us, couchstage's checks ${(us(checksSeconds) - us(noopSeconds)).toFixed(0)} us, the deployed database's views built meanwhile ${(us(vduSeconds) - us(checksSeconds)).toFixed(0)} us`,
    );
    console.log(`validate_doc_update in process:        ${perDocUs.toFixed(1)} us/doc`);
  } finally {
    for (const name of [...Object.values(dbs), prefix + 'raw', prefix + 'noop', prefix + 'checks'])
      await admin.db.destroy(name).catch(() => undefined);
    await admin
      .use<{ _rev: string }>('_users')
      .get('org.couchdb.user:' + user)
      .then((d) => admin.use('_users').destroy(d._id, d._rev))
      .catch(() => undefined);
    await server.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
