import * as fs from 'fs';
import * as path from 'path';

export default async function globalTeardown(): Promise<void> {
  await globalThis.__COUCHSTAGE_SUPERVISOR__?.stop();
  const dir = process.env.COUCHSTAGE_TEST_DATA_DIR;
  if (dir && process.env.COUCHSTAGE_TEST_SERVER === 'embedded') fs.rmSync(dir, { recursive: true, force: true });
  const issuer = process.env.COUCHSTAGE_TEST_ISSUER;
  if (issuer && process.env.COUCHSTAGE_TEST_SERVER === 'couchdb')
    fs.rmSync(path.dirname(issuer), { recursive: true, force: true });
}
