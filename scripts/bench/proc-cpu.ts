/**
 * CPU time of a process and its descendants from /proc (Linux), and the machine's load average:
 * what `bench:cluster` reads per CouchDB node to show where the cluster's fan-out spends its CPU.
 * A node is its `beam.smp` and the query-server processes (couchjs) it starts; children that
 * exited count through their parent's cutime/cstime once reaped.
 */
import * as fs from 'fs';
import * as os from 'os';

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU in these ticks (100 on every common kernel). */
const TICKS_PER_SECOND = 100;

interface ProcStat {
  readonly ppid: number;
  /** utime + stime + cutime + cstime, in ticks. */
  readonly ticks: number;
}

function readStat(pid: number): ProcStat | null {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields start after the last ')'.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // f[0] is field 3 (state): ppid is field 4, utime..cstime fields 14..17.
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) };
  } catch {
    return null; // exited meanwhile
  }
}

/** CPU seconds used so far by `pid` and every process below it; 0 where /proc is not there. */
export function treeCpuSeconds(pid: number): number {
  if (!fs.existsSync('/proc/self/stat')) return 0;
  const all = new Map<number, ProcStat>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (st) all.set(Number(name), st);
  }
  let ticks = 0;
  const queue = [pid];
  for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
    ticks += all.get(p)?.ticks || 0;
    for (const [child, st] of all) if (st.ppid === p) queue.push(child);
  }
  return ticks / TICKS_PER_SECOND;
}

/** The 1-minute load average, two decimals. */
export function load1(): string {
  return os.loadavg()[0].toFixed(2);
}
