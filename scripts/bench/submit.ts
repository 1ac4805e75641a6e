/**
 * `npm run bench:submit [-- N]`: what validate_doc_update costs a job's submission. In one run on
 * the same server: the raw `_bulk_docs` rate into a database without validation, the rate of the
 * same documents written by a user into the deployed `transfers` database (every document passes
 * the compiled TypeScript validate_doc_update, SHA-224 id check included), and the function's own
 * cost in process. Prints figures and ratios; asserts nothing.
 */
import { createHash, randomBytes } from 'crypto';
import { performance } from 'perf_hooks';
import { buildDesignDocs } from '../../design';
import { evaluateFunction } from '../../design/compile';
import { projectRoot, withCredentials, withoutCredentials } from '../../agents/lib/config';
import { connect } from '../../agents/lib/couch';
import { dbNames, Role } from '../../views/schema';
import { deploy, securityObject } from '../deploy';
import { benchServer } from './server';

const BATCH = 500; // a job-side batch: large enough to amortise HTTP, small enough for one request body

function makeDocs(n: number, user: string, tag: string) {
  return Array.from({ length: n }, (_, i) => {
    const source_lfn = `/store/temp/user/${user}/bench_${tag}/out_${i}.root`;
    return {
      _id: createHash('sha224').update(source_lfn).digest('hex'),
      type: 'transfer', user, workflow: `bench_${tag}`, jobid: String(i), job_retry_count: 0, file_type: 'output',
      source: 'T2_CH_CERN', destination: 'T2_IT_Pisa', source_lfn,
      destination_lfn: source_lfn.replace('/temp/', '/'), size: 1000 + i, checksums: { adler32: '0badcafe' },
      publish: false, priority: 3, state: 'new', created_at: new Date().toISOString(),
    };
  });
}

async function timeBulk(url: string, db: string, docs: object[]): Promise<number> {
  const d = connect(url).use(db);
  const t0 = performance.now();
  for (let i = 0; i < docs.length; i += BATCH) {
    const res = await d.bulk({ docs: docs.slice(i, i + BATCH) as never[] });
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
    await deploy({ url: server.url, dbs, users: [{ name: user, password: tag, roles: [Role.user] }], version: 'bench' });
    const rawDb = prefix + 'raw';
    await admin.db.create(rawDb);
    await admin.request({ db: rawDb, method: 'PUT', path: '_security', body: securityObject() });
    const rawSeconds = await timeBulk(server.url, rawDb, makeDocs(n, user, 'raw'));
    const userUrl = withCredentials(withoutCredentials(server.url), user, tag);
    const vduSeconds = await timeBulk(userUrl, dbs.transfers, makeDocs(n, user, 'vdu'));

    const built = await buildDesignDocs(projectRoot(), 'bench');
    const vdu = evaluateFunction(built.find((b) => b.db === 'transfers' && b.id === '_design/validate')!.doc.validate_doc_update as string);
    const docs = makeDocs(n, user, 'mem');
    const ctx = { name: user, roles: [Role.user] };
    const t0 = performance.now();
    for (const d of docs) vdu(d, null, ctx, securityObject());
    const perDocUs = ((performance.now() - t0) * 1000) / n;

    const raw = n / rawSeconds;
    const validated = n / vduSeconds;
    console.log(`server: ${server.kind}, ${n} transfer documents, _bulk_docs batches of ${BATCH}`);
    console.log(`raw _bulk_docs (no validation):        ${raw.toFixed(0)} docs/s`);
    console.log(`user submit through validate_doc_update: ${validated.toFixed(0)} docs/s`);
    console.log(`ratio validated/raw:                   ${(validated / raw).toFixed(2)}`);
    console.log(`validate_doc_update in process:        ${perDocUs.toFixed(1)} us/doc`);
  } finally {
    for (const name of [...Object.values(dbs), prefix + 'raw']) await admin.db.destroy(name).catch(() => undefined);
    await admin.use<{ _rev: string }>('_users').get('org.couchdb.user:' + user)
      .then((d) => admin.use('_users').destroy(d._id, d._rev)).catch(() => undefined);
    await server.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
