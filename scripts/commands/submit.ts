/**
 * `couchstage submit [file|-]`: one transfer document, a JSON array of them, or NDJSON. Fills
 * what a job may leave out (type, state, created_at, priority, the owner, job_retry_count) and
 * sets `_id` to the hex SHA-224 of source_lfn (ASO's convention: a resubmission is a 409).
 * Every document is checked locally with the same code validate_doc_update runs; if any is
 * malformed nothing is sent. The rest goes in one `_bulk_docs`.
 */
import * as fs from 'fs';
import { createHash } from 'crypto';
import { transferRequestProblem, isObject } from '../../views/lib/checks';
import { DEFAULT_PRIORITY, DocType, TransferState } from '../../views/schema';
import { describeError } from '../../agents/lib/couch';
import { UsageError } from './args';
import { whoami, type Context } from './context';
import { checkQuota } from './quota';

export function parseDocuments(text: string): unknown[] {
  const trimmed = text.trim();
  if (!trimmed) throw new UsageError('no input: give a JSON document, a JSON array or NDJSON');
  try {
    const parsed = JSON.parse(trimmed);
    return Array.isArray(parsed) ? parsed : [parsed];
  } catch {
    return trimmed.split('\n').filter((l) => l.trim()).map((line, i) => {
      try {
        return JSON.parse(line);
      } catch (err) {
        throw new UsageError(`line ${i + 1}: not JSON (${(err as Error).message})`);
      }
    });
  }
}

export function transferId(sourceLfn: string): string {
  return createHash('sha224').update(sourceLfn, 'utf8').digest('hex');
}

/** The job-facing defaults; explicit values always win. */
export function completeTransfer(raw: Record<string, unknown>, user: string | null, now: Date): Record<string, unknown> {
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
  const problems = docs.map((d, i) => [i, transferRequestProblem(d)] as const).filter(([, p]) => p);
  if (problems.length) {
    throw new UsageError(problems.map(([i, p]) => `document ${i + 1}: ${p}`).join('\n') + '\nnothing was submitted');
  }
  await checkQuota(ctx, docs);
  const res = await ctx.server.use(ctx.cfg.dbs.transfers).bulk({ docs: docs as never[] });
  const results: SubmitResult[] = res.map((r, i) => ({
    id: r.id || String(docs[i]._id),
    ok: !r.error,
    ...(r.error ? { error: r.error === 'conflict' ? 'conflict: already submitted (same source_lfn)' : `${r.error}: ${r.reason}` } : {}),
  }));
  return { results, failed: results.filter((r) => !r.ok).length };
}

export async function runSubmit(ctx: Context, positional: string[]): Promise<number> {
  const source = positional[0] || '-';
  let input: string;
  try {
    input = fs.readFileSync(source === '-' ? 0 : source, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${source}: ${(err as Error).message}`);
  }
  let outcome;
  try {
    outcome = await submit(ctx, input);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new Error(`submit failed: ${describeError(err)}`);
  }
  if (ctx.json) ctx.out(JSON.stringify(outcome, null, 2));
  else {
    for (const r of outcome.results) ctx.out(r.ok ? `submitted ${r.id}` : `refused   ${r.id}: ${r.error}`);
    ctx.out(`${outcome.results.length - outcome.failed} submitted, ${outcome.failed} refused`);
  }
  return outcome.failed ? 1 : 0;
}
