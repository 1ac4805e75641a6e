/**
 * Leader election by lease: the instance holding `lock:<agent>` works, the others stand by and
 * take over when the lease expires (a dead leader stops renewing). Used where two active
 * instances could break a limit (the scheduler and the links' max_active). The leader renews
 * only in the second half of its lease: a renewal is a write, and every write wakes the agents.
 */
import type { Lease, LockDoc } from '../../views/schema';
import { statusOf, type Db } from './couch';
import { leaseHeldByOther, newLease } from './lease';

export class Leadership {
  private held: Lease | null = null;

  constructor(private readonly db: Db, private readonly agent: string, private readonly instance: string) {}

  async hold(now: Date, seconds: number): Promise<boolean> {
    if (this.held && Date.parse(this.held.expires_at) - now.getTime() > (seconds * 1000) / 2) return true;
    const id = `lock:${this.agent}`;
    let current: LockDoc | null = null;
    try {
      current = (await this.db.get(id)) as unknown as LockDoc;
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
    this.held = null;
    if (current && leaseHeldByOther(current.lease, this.instance, now)) return false;
    const lease = newLease(this.instance, now, seconds);
    try {
      await this.db.insert({ _id: id, ...(current?._rev ? { _rev: current._rev } : {}), type: 'lock', lease } as never);
      this.held = lease;
      return true;
    } catch (err) {
      if (statusOf(err) === 409) return false; // another instance renewed or took it first
      throw err;
    }
  }

  async release(): Promise<void> {
    if (!this.held) return;
    try {
      const current = (await this.db.get(`lock:${this.agent}`)) as unknown as LockDoc;
      if (current.lease?.owner === this.instance) await this.db.insert({ ...current, lease: null } as never);
    } catch {
      /* best effort: the lease expires anyway */
    }
    this.held = null;
  }
}
