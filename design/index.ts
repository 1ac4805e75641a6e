/**
 * The design documents of couchstage, one entry per design document (design/<db>-<name>.ts),
 * assembled here: functions compiled from TypeScript, attachments built, everything stamped with
 * the deploy version and a content hash. Compiled output is a build artefact, never committed.
 */
import { createHash } from 'crypto';
import * as path from 'path';
import { catalogValidate } from './catalog-validate';
import { catalogQuery } from './catalog-query';
import { compileFunction, compileValidation } from './compile';
import { configValidate } from './config-validate';
import { transfersMonitor } from './transfers-monitor';
import { transfersValidate } from './transfers-validate';
import type { Attachment, BuiltDesign, DesignSpec } from './types';

export const DESIGNS: readonly DesignSpec[] = [
  transfersValidate,
  transfersMonitor,
  configValidate,
  catalogValidate,
  catalogQuery,
];

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function buildDesign(spec: DesignSpec, root: string, version: string): Promise<BuiltDesign> {
  const doc: Record<string, unknown> = { _id: '_design/' + spec.name, language: 'javascript' };
  if (spec.validate) {
    const v = await compileValidation(path.join(root, spec.validate));
    doc.validate_doc_update = v.fn;
    doc.lib = { validate_doc_update: v.module };
  }
  if (spec.views) {
    const views: Record<string, { map: string; reduce?: string }> = {};
    for (const [name, view] of Object.entries(spec.views)) {
      views[name] = { map: await compileFunction(path.join(root, view.map), 'map') };
      if (view.reduce) views[name].reduce = view.reduce;
    }
    doc.views = views;
  }
  let attachments: Record<string, Attachment> = {};
  if (spec.attachments) attachments = await spec.attachments(root);
  const names = Object.keys(attachments).sort();
  const hash = sha256(
    JSON.stringify({
      doc,
      attachments: names.map((n) => [n, attachments[n].content_type, sha256(attachments[n].data)]),
    }),
  );
  if (names.length) {
    doc._attachments = Object.fromEntries(
      names.map((n) => [
        n,
        {
          content_type: attachments[n].content_type,
          data: attachments[n].data.toString('base64'),
        },
      ]),
    );
  }
  doc.couchstage = { version, hash };
  return { db: spec.db, id: doc._id as string, doc, hash };
}

const cache = new Map<string, Promise<BuiltDesign[]>>();

/** Builds every design document once per process and version (tests deploy many times). */
export function buildDesignDocs(root: string, version: string): Promise<BuiltDesign[]> {
  const key = root + '\0' + version;
  let built = cache.get(key);
  if (!built) {
    built = Promise.all(DESIGNS.map((spec) => buildDesign(spec, root, version)));
    built.catch(() => cache.delete(key));
    cache.set(key, built);
  }
  return built;
}
