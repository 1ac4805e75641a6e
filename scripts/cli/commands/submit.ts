/** `couchstage submit [file|-]`: reads the documents and submits them (scripts/client/submit.ts). */
import * as fs from 'fs';
import { describeError } from '../../../agents/platform/couch';
import { UsageError } from '../../client/args';
import type { Context } from '../../client/context';
import { submit } from '../../client/submit';

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
    throw new Error(`submit failed: ${describeError(err)}`, { cause: err });
  }
  if (ctx.json) ctx.out(JSON.stringify(outcome, null, 2));
  else {
    for (const r of outcome.results) ctx.out(r.ok ? `submitted ${r.id}` : `refused   ${r.id}: ${r.error}`);
    ctx.out(`${outcome.results.length - outcome.failed} submitted, ${outcome.failed} refused`);
  }
  return outcome.failed ? 1 : 0;
}
