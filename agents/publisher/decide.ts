/**
 * The publisher's decisions, pure (no I/O): which block each done file goes into, what the
 * catalogue documents of a published file are, and when a block closes.
 *
 * The commit point of a publication is the transfer document: `block` and
 * `publication_state: publishing` are written on it first, then the catalogue documents (all with
 * deterministic ids, so a replay writes nothing new), then `published`. After a crash the
 * transfers say which block each file belongs to; block names come from the owner, the dataset and
 * the first transfer put into the block (views/lib/catalog-ids.ts), so they never depend on timing.
 */
import {
  CatalogId,
  PublicationState,
  TransferState,
  isTerminal,
  type BlockDoc,
  type CatalogFileDoc,
  type DatasetDoc,
  type ReplicaDoc,
  type Settings,
  type TransferDoc,
} from '../../views/schema';
import { blockNameOf, fileIdOf, guidOf, replicaIdOf } from '../../views/lib/catalog-ids';

/** What the publisher keeps of every transfer (all of them: closure needs the pending ones). */
export interface PubSlim {
  readonly id: string;
  readonly user: string;
  readonly workflow: string;
  readonly state: TransferState;
  readonly publish: boolean;
  readonly dataset: string | null;
  readonly publication_state: PublicationState | null;
  readonly block: string | null;
  readonly last_update: string | null;
  readonly size: number;
  readonly destination: string;
}

/** A block as the publisher knows it: from the catalogue, or planned and not yet written. */
export interface BlockInfo {
  readonly name: string;
  readonly dataset: string;
  readonly owner: string;
  open: boolean;
  /** ms since epoch: when its first file was put into it (closure timeout counts from here). */
  readonly createdAt: number;
}

export function slimOf(d: TransferDoc): PubSlim {
  return {
    id: d._id,
    user: d.user,
    workflow: d.workflow,
    state: d.state,
    publish: d.publish === true,
    dataset: d.dataset || null,
    publication_state: d.publication_state || null,
    block: d.block || null,
    last_update: d.last_update || null,
    size: d.size,
    destination: d.destination,
  };
}

/** Done, to be published, not yet in a block (a killed or failed file is never done). */
export function isCandidate(t: PubSlim): boolean {
  return (
    t.state === TransferState.done &&
    t.publish &&
    !!t.dataset &&
    !t.block &&
    (t.publication_state === null || t.publication_state === PublicationState.notPublished)
  );
}

/** Put into a block, catalogue documents not yet confirmed. */
export function isPublishing(t: PubSlim): boolean {
  return (
    t.state === TransferState.done && t.publish && !!t.block && t.publication_state === PublicationState.publishing
  );
}

export function groupKey(user: string, dataset: string): string {
  return user + '\u0000' + dataset;
}

export interface Assignment {
  readonly id: string;
  readonly block: string;
}

/**
 * Candidates per (user, dataset), sorted by id, fill the group's open blocks up to
 * max_files_per_block, then new blocks named after their first transfer. `members` counts the
 * transfers already in each block (publishing or published).
 */
export function planAssignments(
  candidates: readonly PubSlim[],
  blocks: ReadonlyMap<string, BlockInfo>,
  members: ReadonlyMap<string, number>,
  settings: Settings,
  now: Date,
): { assignments: Assignment[]; created: BlockInfo[] } {
  const max = Math.max(1, settings.max_files_per_block);
  const groups = new Map<string, PubSlim[]>();
  for (const c of candidates) {
    const k = groupKey(c.user, c.dataset!);
    const g = groups.get(k);
    if (g) g.push(c);
    else groups.set(k, [c]);
  }
  // Every open block with room, oldest name first: after a crash several may be part-filled.
  const openByGroup = new Map<string, BlockInfo[]>();
  for (const b of [...blocks.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const k = groupKey(b.owner, b.dataset);
    if (b.open && (members.get(b.name) || 0) < max) openByGroup.set(k, [...(openByGroup.get(k) || []), b]);
  }
  const assignments: Assignment[] = [];
  const created: BlockInfo[] = [];
  for (const [k, list] of groups) {
    list.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const open = [...(openByGroup.get(k) || [])];
    let block: BlockInfo | null = null;
    let room = 0;
    for (const c of list) {
      while (room <= 0 && open.length) {
        block = open.shift()!;
        room = max - (members.get(block.name) || 0);
      }
      if (!block || room <= 0) {
        // Named after its first transfer; a name already taken (a block that transfer was put into
        // by a pass whose writes have not arrived) gets a counter.
        let name = blockNameOf(c.dataset!, c.user, c.id);
        for (let n = 1; blocks.has(name) || created.some((b) => b.name === name); n++)
          name = blockNameOf(c.dataset!, c.user, c.id + '\u0000' + n);
        block = { name, dataset: c.dataset!, owner: c.user, open: true, createdAt: now.getTime() };
        created.push(block);
        room = max;
      }
      assignments.push({ id: c.id, block: block.name });
      room--;
    }
  }
  return { assignments, created };
}

/** The catalogue documents of one published file; their content depends only on the transfer. */
export function catalogDocsOf(t: TransferDoc): { file: CatalogFileDoc; replica: ReplicaDoc } {
  const at = t.finished_at || t.last_update || t.created_at;
  const file: CatalogFileDoc = {
    _id: fileIdOf(t.destination_lfn),
    type: 'file',
    lfn: t.destination_lfn,
    guid: guidOf(t.destination_lfn),
    size: t.size,
    adler32: t.checksums.adler32.toLowerCase(),
    valid: true,
    block: t.block!,
    dataset: t.dataset!,
    owner: t.user,
    ...(t.parents && t.parents.length ? { parents: t.parents } : {}),
    created_at: at,
  };
  const replica: ReplicaDoc = {
    _id: replicaIdOf(t.destination_lfn, t.destination),
    type: 'replica',
    lfn: t.destination_lfn,
    site: t.destination,
    block: t.block!,
    dataset: t.dataset!,
    size: t.size,
    created_at: at,
    owner: t.user,
  };
  return { file, replica };
}

/** Is a stored catalogue document the one we would write (a replay), or someone else's? */
export function sameEntry(stored: Record<string, unknown>, wanted: CatalogFileDoc | ReplicaDoc): boolean {
  const keys: string[] =
    wanted.type === 'file'
      ? ['lfn', 'guid', 'size', 'adler32', 'block', 'dataset', 'owner']
      : ['lfn', 'site', 'block', 'dataset', 'size'];
  const fields: Record<string, unknown> = Object.fromEntries(Object.entries(wanted));
  return keys.every((k) => stored[k] === fields[k]);
}

export function datasetDocOf(t: TransferDoc, now: Date): DatasetDoc {
  const name = t.dataset!;
  return {
    _id: CatalogId.dataset(name),
    type: 'dataset',
    name,
    data_tier: name.slice(name.lastIndexOf('/') + 1),
    access_type: 'VALID',
    owner: t.user,
    created_at: now.toISOString(),
    ...(t.inputdataset ? { parents: [t.inputdataset] } : {}),
    processing: { workflow: t.workflow },
  };
}

/** The block document for its published files; `closing` seals it. */
export function blockDocOf(
  info: BlockInfo,
  files: readonly { size: number; site: string }[],
  existing: BlockDoc | null,
  now: Date,
  closing: BlockDoc['closed_by'] | null,
): BlockDoc {
  const iso = now.toISOString();
  return {
    _id: CatalogId.block(info.name),
    ...(existing?._rev ? { _rev: existing._rev } : {}),
    type: 'block',
    name: info.name,
    dataset: info.dataset,
    owner: info.owner,
    open: !closing,
    origin_site: existing?.origin_site || files[0].site,
    file_count: files.length,
    total_size: files.reduce((a, f) => a + f.size, 0),
    created_at: existing?.created_at || new Date(info.createdAt).toISOString(),
    closed_at: closing ? iso : null,
    last_update: iso,
    ...(closing ? { closed_by: closing } : {}),
  };
}

/**
 * Why a block should close now, or null: it is full; it is older than block_closure_timeout; or
 * nothing more can come for it (no pending transfer in its workflows, no waiting candidate of its
 * group). Only blocks whose files are all settled (none publishing) close.
 */
export function closureReason(
  b: BlockInfo,
  count: number,
  publishing: number,
  waitingInGroup: number,
  pendingWorkflows: number,
  settings: Settings,
  now: Date,
): BlockDoc['closed_by'] | null {
  if (!b.open || count === 0 || publishing > 0) return null;
  if (count >= settings.max_files_per_block) return 'full';
  if (now.getTime() - b.createdAt >= settings.block_closure_timeout * 1000) return 'timeout';
  if (waitingInGroup === 0 && pendingWorkflows === 0) return 'workflow';
  return null;
}

export function isPendingTransfer(t: PubSlim): boolean {
  return !isTerminal(t.state);
}
