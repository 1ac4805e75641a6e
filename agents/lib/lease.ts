/**
 * Leases: a claim on a document by one agent instance, written into the document itself, valid
 * until `expires_at`. CouchDB's revision check makes the claim atomic: of two instances writing
 * the same revision, one gets 409 (or, on a cluster, loses the conflict by the written rule in
 * conflicts.ts). A dead instance's work is taken over once its lease expires.
 */
import type { Lease } from '../../views/schema';

export function leaseHeld(lease: Lease | null | undefined, now: Date): boolean {
  return !!lease && Date.parse(lease.expires_at) > now.getTime();
}

export function leaseHeldByOther(lease: Lease | null | undefined, owner: string, now: Date): boolean {
  return leaseHeld(lease, now) && lease!.owner !== owner;
}

export function newLease(owner: string, now: Date, seconds: number): Lease {
  return { owner, expires_at: new Date(now.getTime() + seconds * 1000).toISOString() };
}
