/**
 * How migrate-db knows the copy has caught up: every live id and winning revision of a source
 * database present in its target (`_revs_diff` over `_all_docs` pages), and the wait for it with
 * the replicator's own figures in the progress lines. Apart from the migration's steps because it
 * is the one comparison every catch-up (before and after the pause) runs.
 */
import { dbPath, expectStatus, http } from './http';
import type { Replication } from './replication';

/** Revisions the copy may lag behind before writes are paused: one replication batch (500). */
export const CATCH_UP_LAG = 500;

/** Live documents of `src` whose winning revision `tgt` lacks (design docs excepted). */
export async function missingRevisions(srcUrl: string, src: string, tgtUrl: string, tgt: string): Promise<number> {
  let missing = 0;
  let startkey: string | null = null;
  for (;;) {
    const qs: string = `limit=2001${startkey ? `&startkey=${encodeURIComponent(JSON.stringify(startkey))}` : ''}`;
    const rows: { id: string; value: { rev: string } }[] = expectStatus(
      await http<{ rows: { id: string; value: { rev: string } }[] }>(srcUrl, 'GET', `${dbPath(src)}/_all_docs?${qs}`),
      `listing ${src}`,
    ).body.rows;
    const page = rows.slice(0, 2000).filter((r) => !r.id.startsWith('_design/'));
    startkey = rows.length > 2000 ? rows[2000].id : null;
    if (page.length) {
      const diff = expectStatus(
        await http<Record<string, { missing: string[] }>>(tgtUrl, 'POST', `${dbPath(tgt)}/_revs_diff`, {
          body: Object.fromEntries(page.map((r) => [r.id, [r.value.rev]])),
        }),
        `comparing with ${tgt}`,
      ).body;
      missing += Object.keys(diff).length;
    }
    if (!startkey) return missing;
  }
}

/** One line of the replicator's own figures (`_scheduler/jobs`), or '' where there are none. */
async function replicationLine(reps: Replication[], names: string[]): Promise<string> {
  const st = await Promise.all(reps.map((r) => r.status().catch(() => null)));
  if (st.every((x) => !x)) return '';
  return (
    '; replicator: ' +
    st
      .map((x, i) =>
        x
          ? `${names[i]} ${x.state}, ${x.docsWritten} written${x.changesPending !== null ? `, ${x.changesPending} pending` : ''}${x.writeFailures ? `, ${x.writeFailures} REFUSED by the target` : ''}${x.error ? ` (${x.error})` : ''}`
          : `${names[i]} not listed`,
      )
      .join('; ')
  );
}

/**
 * Waits until at most `tolerance` revisions are left to copy. While writes go on the copy is never
 * exactly level: before the pause a small lag is enough (the final catch-up after the pause, with
 * tolerance 0, is short because of it).
 */
export async function waitCaughtUp(
  pairs: { src: string; tgt: string }[],
  srcUrl: string,
  tgtUrl: string,
  reps: Replication[],
  what: string,
  log: (l: string) => void,
  pollMs: number,
  signal?: AbortSignal,
  tolerance = 0,
): Promise<void> {
  let last = '';
  for (;;) {
    if (signal?.aborted) throw new Error('interrupted');
    const counts = await Promise.all(pairs.map((p) => missingRevisions(srcUrl, p.src, tgtUrl, p.tgt)));
    const total = counts.reduce((a, b) => a + b, 0);
    if (total <= tolerance) return;
    const line = `${what}: ${total} document revisions still to copy (${pairs.map((p, i) => `${p.tgt} ${counts[i]}`).join(', ')})${await replicationLine(
      reps,
      pairs.map((p) => p.tgt),
    )}`;
    if (line !== last) log(line);
    last = line;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
