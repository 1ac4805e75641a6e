/**
 * The doctor's design-document check: each design document is deployed and current (its stamp's
 * hash and its content, which a stamp kept by hand would not vouch for), no staged copy is left
 * over, and its index is built (indexes.ts).
 */
import { buildDesign, DESIGNS } from '../../../design';
import { projectRoot } from '../../../agents/platform/config';
import { designIsCurrent } from '../../../design/content-hash';
import { ddocPath, http } from '../http';
import { STAGED_SUFFIX } from '../upgrade';
import { indexFinding } from './indexes';
import type { DbInfos, DoctorOptions, Finding } from './types';

export async function checkDesigns(opts: DoctorOptions, infos: DbInfos, add: (f: Finding) => void): Promise<void> {
  const root_ = projectRoot();
  for (const spec of opts.designs || DESIGNS) {
    const db = opts.dbs[spec.db];
    if (!infos[spec.db]) continue;
    const built = await buildDesign(spec, root_, 'doctor');
    // With the attachments' bytes (design/content-hash.ts): a few hundred KB for the page's.
    const live = await http<{
      couchstage?: { hash?: string; version?: string };
      views?: Record<string, { reduce?: string }>;
    }>(opts.url, 'GET', ddocPath(db, built.id) + '?attachments=true');
    const subject = `${db}/${built.id}`;
    if (live.status === 404) {
      add({ check: 'design', subject, level: 'problem', message: 'design document missing: run "couchstage deploy"' });
      continue;
    }
    if (live.body.couchstage?.hash !== built.hash) {
      add({
        check: 'design',
        subject,
        level: 'problem',
        message: `out of date (deployed version ${live.body.couchstage?.version || 'unknown'} differs from this code): run "couchstage upgrade"`,
      });
    } else if (!designIsCurrent(live.body as Record<string, unknown>, built)) {
      add({
        check: 'design',
        subject,
        level: 'problem',
        message: `content differs from what this code deploys although its stamp (version ${live.body.couchstage?.version}) matches: it was changed on the server; run "couchstage deploy" to replace it`,
      });
    } else
      add({ check: 'design', subject, level: 'ok', message: `current (version ${live.body.couchstage?.version})` });
    const staged = await http(opts.url, 'GET', ddocPath(db, built.id + STAGED_SUFFIX));
    if (staged.status === 200)
      add({
        check: 'design',
        subject: subject + STAGED_SUFFIX,
        level: 'warning',
        message: 'a staged upgrade is in progress or was interrupted: run "couchstage upgrade" to finish it',
      });
    const views = live.body.views || {};
    const first = Object.keys(views).sort()[0];
    if (!first) continue;
    add(await indexFinding(opts, db, built.id, first, !!views[first].reduce, infos[spec.db]!));
  }
}
