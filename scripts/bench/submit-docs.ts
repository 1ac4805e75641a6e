/**
 * What the submission benchmarks share (submit.ts, and its --auth and --gateway modes): the
 * transfer documents a job would submit, and one request signed in by a given mode.
 */
import { createHash } from 'crypto';
import type { Dispatcher } from 'undici';
import { TransferState } from '../../views/schema';

/** How a benchmark client signs in: headers for the server (or gateway) at `base`, and a TLS dispatcher for a client certificate. */
export interface SignInMode {
  readonly name: string;
  readonly base: string;
  readonly headers: Record<string, string>;
  readonly dispatcher?: Dispatcher;
}

/** `n` transfer documents of `user`, ids derived from their LFNs as a job's are. */
export function makeDocs(n: number, user: string, tag: string) {
  return Array.from({ length: n }, (_, i) => {
    const source_lfn = `/store/temp/user/${user}/bench_${tag}/out_${i}.root`;
    return {
      _id: createHash('sha224').update(source_lfn).digest('hex'),
      type: 'transfer',
      user,
      workflow: `bench_${tag}`,
      jobid: String(i),
      job_retry_count: 0,
      file_type: 'output',
      source: 'T2_CH_CERN',
      destination: 'T2_IT_Pisa',
      source_lfn,
      destination_lfn: source_lfn.replace('/temp/', '/'),
      size: 1000 + i,
      checksums: { adler32: '0badcafe' },
      publish: false,
      priority: 3,
      state: TransferState.new,
      created_at: new Date().toISOString(),
    };
  });
}

/** One write (PUT of a document or `_bulk_docs`) signed in by `m`; anything but 201 without errors throws. */
export async function send(m: SignInMode, method: string, p: string, body: unknown): Promise<void> {
  const res = await fetch(m.base + p, {
    method,
    headers: { ...m.headers, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    ...(m.dispatcher ? { dispatcher: m.dispatcher } : {}),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`${m.name}: ${method} ${p}: ${res.status} ${text}`);
  if (text.includes('"error"')) throw new Error(`${m.name}: ${method} ${p}: ${text.slice(0, 200)}`);
}
