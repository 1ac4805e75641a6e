/**
 * The catalogue benchmark's third figure: single-record insert/update/delete latency with many
 * concurrent clients, as the Belle II AMGA test ran it and saturated. Apart from catalog.ts,
 * which loads the catalogue and reports the other two figures.
 */
import { monitorEventLoopDelay, performance } from 'perf_hooks';
import type { Db } from '../../agents/platform/couch';
import { put, type RawDoc } from '../../agents/platform/docs';
import { loadToolConfig } from '../../agents/platform/config';
import { fileIdOf, guidOf } from '../../views/lib/catalog-ids';
import { AT } from './catalog-seed';

const RECORD_CLIENTS = 200;
const RECORD_ROUNDS = 10; // per client: insert, update, delete each round -> 6000 operations
const THINK_MS = loadToolConfig().benchThinkMs; // the 'seed' mode's mean wait

export function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] || 0;
}

type RecordOps = Record<'insert' | 'update' | 'delete', number[]>;

/** One catalogued file record of the test's block, one per operation. */
function recordDocOf(lfn: string, block: string, dataset: string): RawDoc {
  return {
    _id: fileIdOf(lfn),
    type: 'file',
    lfn,
    guid: guidOf(lfn),
    size: 1,
    adler32: '0badcafe',
    valid: true,
    block,
    dataset,
    owner: 'alice',
    created_at: AT,
  };
}

/**
 * Untimed warm-up, as a long-running server and long-lived clients are: every client inserts,
 * updates and deletes one record of its own, all at once (the client's pool then holds a
 * connection per client, and the server's single-document write path is compiled), then the
 * server gets 2 s to settle after the catalogue load and index builds before anything is timed.
 */
async function warmUp(gdb: Db, recordDoc: (lfn: string) => RawDoc, mode: string): Promise<void> {
  await Promise.all(
    Array.from({ length: RECORD_CLIENTS }, async (_, k) => {
      const doc = recordDoc(`/store/user/alice/records/${mode}-warmup/${k}.root`);
      const a = await put(gdb, doc);
      const b = await put(gdb, { ...a, valid: false });
      await gdb.destroy(doc._id, b._rev);
    }),
  );
  await new Promise((r) => setTimeout(r, 2000));
}

/**
 * Single-record insert/update/delete by RECORD_CLIENTS concurrent clients, RECORD_ROUNDS rounds each.
 * 'seed': the Belle II AMGA test's procedure (seed 000: "insert new entry and wait, modify entry and
 *   wait, delete entry and wait", one process per client): each client waits after every operation,
 *   an exponentially distributed time of mean THINK_MS (independent clients, so arrivals spread), and
 *   starts at a random point of the first THINK_MS.
 * 'saturated': no wait at all, so each client sends its next operation as soon as the last one is
 *   answered; latency is then clients / throughput (Little's law), and measures the server's capacity.
 * Both start after an untimed warm-up (each client inserts, updates and deletes one record of its own,
 * all at once; then 2 s of quiet).
 */
async function records(
  gdb: Db,
  block: string,
  dataset: string,
  mode: 'seed' | 'saturated',
): Promise<{ ops: RecordOps; failures: number; seconds: number; clientLoopP99: number }> {
  const ops: RecordOps = { insert: [], update: [], delete: [] };
  let failures = 0;
  const recordDoc = (lfn: string) => recordDocOf(lfn, block, dataset);
  const think = () =>
    mode === 'seed'
      ? new Promise((r) => setTimeout(r, Math.min(10 * THINK_MS, -THINK_MS * Math.log(1 - Math.random()))))
      : Promise.resolve();
  await warmUp(gdb, recordDoc, mode);
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const t = performance.now();
  await Promise.all(
    Array.from({ length: RECORD_CLIENTS }, async (_, k) => {
      if (mode === 'seed') await new Promise((r) => setTimeout(r, Math.random() * THINK_MS));
      for (let r = 0; r < RECORD_ROUNDS; r++) {
        const doc = recordDoc(`/store/user/alice/records/${mode}/${k}/r_${r}.root`);
        try {
          let s = performance.now();
          const a = await put(gdb, doc);
          ops.insert.push(performance.now() - s);
          await think();
          s = performance.now();
          const b = await put(gdb, { ...a, valid: false });
          ops.update.push(performance.now() - s);
          await think();
          s = performance.now();
          await gdb.destroy(doc._id, b._rev);
          ops.delete.push(performance.now() - s);
          await think();
        } catch {
          failures++;
        }
      }
    }),
  );
  loop.disable();
  return { ops, failures, seconds: (performance.now() - t) / 1000, clientLoopP99: loop.percentile(99) / 1e6 };
}

/** Figure 3: single-record latency, two ways (see records()). */
export async function measureRecords(gdb: Db, block: string, dataset: string): Promise<void> {
  for (const mode of ['seed', 'saturated'] as const) {
    const r = await records(gdb, block, dataset, mode);
    const all = [...r.ops.insert, ...r.ops.update, ...r.ops.delete];
    const how =
      mode === 'seed'
        ? `as the seed's test: insert, wait, modify, wait, delete, wait (wait ~ exponential, mean ${THINK_MS} ms)`
        : 'saturated: no wait between operations';
    console.log(
      `\n3${mode === 'seed' ? 'a' : 'b'}. single-record operations, ${RECORD_CLIENTS} concurrent clients, ${how}`,
    );
    console.log(
      `   ${all.length} operations in ${r.seconds.toFixed(1)} s (${(all.length / r.seconds).toFixed(0)} ops/s), ${r.failures} failures; the clients' own event-loop delay p99 ${r.clientLoopP99.toFixed(1)} ms`,
    );
    for (const k of ['insert', 'update', 'delete'] as const)
      console.log(`   ${k.padEnd(7)} p50 ${pct(r.ops[k], 50).toFixed(1)} ms  p99 ${pct(r.ops[k], 99).toFixed(1)} ms`);
    console.log(
      `   all     p50 ${pct(all, 50).toFixed(1)} ms  p99 ${pct(all, 99).toFixed(1)} ms  max ${pct(all, 100).toFixed(1)} ms; vs AMGA ~3000 ms/op: x${(3000 / Math.max(0.1, pct(all, 50))).toFixed(0)} at p50; vs target p99 < 50 ms: ${(pct(all, 99) / 50).toFixed(2)}`,
    );
  }
}
