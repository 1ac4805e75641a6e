/**
 * Submitting transfers as a user (the `submit` command, the demo's traffic): one transfer
 * document, a JSON array of them, or NDJSON. Fills
 * what a job may leave out (type, state, created_at, priority, the owner, job_retry_count) and
 * sets `_id` to the hex SHA-224 of source_lfn (ASO's convention: a resubmission is a 409).
 * Every document is checked locally with the same code validate_doc_update runs; if any is
 * malformed nothing is sent. The rest goes in one `_bulk_docs`.
 */
import { transferSubmissionProblem, isObject } from '../../views/lib/checks';
import { DEFAULT_PRIORITY, DocId, DocType, IdPrefix, TransferState, idRange, idSuffix } from '../../views/schema';
import { UsageError } from './args';
import { whoami, type Context } from './context';
import { checkQuota } from './quota';
import { fetchDocs } from '../../agents/platform/bulk';

export function parseDocuments(text: string): unknown[] {
  const trimmed = text.trim();
  if (!trimmed) throw new UsageError('no input: give a JSON document, a JSON array or NDJSON');
  try {
    const parsed = JSON.parse(trimmed);
    return Array.isArray(parsed) ? parsed : [parsed];
  } catch {
    return trimmed
      .split('\n')
      .filter((l) => l.trim())
      .map((line, i) => {
        try {
          return JSON.parse(line);
        } catch (err) {
          throw new UsageError(`line ${i + 1}: not JSON (${(err as Error).message})`);
        }
      });
  }
}

export function transferId(sourceLfn: string): string {
  return DocId.transfer(sourceLfn);
}

/** The job-facing defaults; explicit values always win. */
export function completeTransfer(
  raw: Record<string, unknown>,
  user: string | null,
  now: Date,
): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    type: DocType.transfer,
    ...(user ? { user } : {}),
    job_retry_count: 0,
    file_type: 'output',
    priority: DEFAULT_PRIORITY,
    created_at: now.toISOString(),
    ...raw,
    state: raw.state ?? TransferState.new,
  };
  if (typeof doc.source_lfn === 'string' && doc._id === undefined) doc._id = transferId(doc.source_lfn);
  return doc;
}

export interface SubmitResult {
  readonly id: string;
  readonly ok: boolean;
  readonly error?: string;
}

export async function submit(ctx: Context, input: string): Promise<{ results: SubmitResult[]; failed: number }> {
  const raws = parseDocuments(input);
  const me = await whoami(ctx);
  const docs = raws.map((raw, i) => {
    if (!isObject(raw)) throw new UsageError(`document ${i + 1}: must be a JSON object`);
    return completeTransfer(raw, me.name, new Date());
  });
  const problems = docs.map((d, i) => [i, transferSubmissionProblem(d)] as const).filter(([, p]) => p);
  if (problems.length) {
    throw new UsageError(problems.map(([i, p]) => `document ${i + 1}: ${p}`).join('\n') + '\nnothing was submitted');
  }
  await checkSites(ctx, docs);
  await checkQuota(ctx, docs);
  const res = await ctx.server.use(ctx.cfg.dbs.transfers).bulk({ docs: docs });
  const results: SubmitResult[] = res.map((r, i) => ({
    id: r.id || String(docs[i]._id),
    ok: !r.error,
    ...(r.error
      ? { error: r.error === 'conflict' ? 'conflict: already submitted (same source_lfn)' : `${r.error}: ${r.reason}` }
      : {}),
  }));
  return { results, failed: results.filter((r) => !r.ok).length };
}

/**
 * Every source and destination must be a configured site. The server accepts a transfer to an
 * unknown site (validate_doc_update cannot read the config database), and the scheduler then
 * fails it: refused here, before anything is sent, the job author sees the mistake at once.
 */
async function checkSites(ctx: Context, docs: readonly Record<string, unknown>[]): Promise<void> {
  const names = [
    ...new Set(docs.flatMap((d) => [d.source, d.destination]).filter((s): s is string => typeof s === 'string')),
  ];
  if (!names.length) return;
  const config = ctx.server.use<Record<string, unknown>>(ctx.cfg.dbs.config);
  const found = await fetchDocs(
    config,
    names.map((n) => DocId.site(n)),
  );
  const unknown = names.filter((n) => !found.has(DocId.site(n)));
  if (!unknown.length) return;
  const all = await config.list(idRange(IdPrefix.site));
  const known = all.rows.map((r) => idSuffix(IdPrefix.site, r.id));
  throw new UsageError(
    `unknown site${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}: no site:<name> in the config database (configured: ${known.join(', ') || 'none'})\nnothing was submitted`,
  );
}
