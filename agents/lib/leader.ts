/**
 * Leader election by lease: the instance holding `lock:<agent>` works, the others stand by and
 * take over when the lease expires (a dead leader stops renewing). Used where two active
 * instances could break a limit (the scheduler and the links' max_active). The leader renews
 * only in the second half of its lease: a renewal is a write, and every write wakes the agents.
 */
import { DocId, type Lease, type LockDoc } from '../../views/schema';
import type { Db } from '../platform/couch';
import { update } from '../platform/docs';
import { leaseHeldByOther, newLease } from './lease';

export class Leadership {
  private held: Lease | null = null;

  private readonly id: string;

  constructor(
    private readonly db: Db,
    agent: string,
    private readonly instance: string,
  ) {
    this.id = DocId.lock(agent);
  }

  async hold(now: Date, seconds: number): Promise<boolean> {
    if (this.held && Date.parse(this.held.expires_at) - now.getTime() > (seconds * 1000) / 2) return true;
    this.held = null;
    const lease = newLease(this.instance, now, seconds);
    // A 409: another instance renewed or took it first, and its lease stands.
    const taken = await update<LockDoc>(
      this.db,
      this.id,
      (current) =>
        current && leaseHeldByOther(current.lease, this.instance, now) ? null : { _id: this.id, type: 'lock', lease },
      { onConflict: 'stop' },
    );
    if (taken) this.held = lease;
    return !!taken;
  }

  async release(): Promise<void> {
    if (!this.held) return;
    // Best effort: the lease expires anyway.
    await update<LockDoc>(
      this.db,
      this.id,
      (current) => (current?.lease?.owner === this.instance ? { ...current, lease: null } : null),
      { onConflict: 'stop' },
    ).catch(() => undefined);
    this.held = null;
  }
}
