/**
 * The publisher's pure decisions: block filling (part-filled open blocks first, then new blocks
 * named after their first transfer, the same names whatever the input order), closure reasons.
 */
import { DEFAULT_SETTINGS, type Settings } from '../../../views/schema';
import { blockNameOf } from '../../../views/lib/catalog-ids';
import {
  closureReason,
  isCandidate,
  planAssignments,
  type BlockInfo,
  type PubSlim,
} from '../../../agents/publisher/decide';

const DS = '/Prim/alice-v1/USER';
const settings: Settings = { ...DEFAULT_SETTINGS, max_files_per_block: 3, block_closure_timeout: 60 };
const now = new Date('2026-11-26T08:00:00Z');

function slim(id: string, over: Partial<PubSlim> = {}): PubSlim {
  return {
    id,
    user: 'alice',
    workflow: 'wf',
    state: 'done',
    publish: true,
    dataset: DS,
    publication_state: 'not_published',
    block: null,
    last_update: null,
    size: 10,
    destination: 'T2_IT_Pisa',
    ...over,
  };
}

describe('planAssignments', () => {
  it('fills new blocks of max_files_per_block, named after their first transfer, independent of input order', () => {
    const files = ['e', 'a', 'd', 'c', 'b'].map((id) => slim(id));
    const one = planAssignments(files, new Map(), new Map(), settings, now);
    const two = planAssignments([...files].reverse(), new Map(), new Map(), settings, now);
    expect(one.assignments).toEqual(two.assignments);
    const first = blockNameOf(DS, 'alice', 'a');
    const second = blockNameOf(DS, 'alice', 'd');
    expect(one.assignments).toEqual([
      { id: 'a', block: first },
      { id: 'b', block: first },
      { id: 'c', block: first },
      { id: 'd', block: second },
      { id: 'e', block: second },
    ]);
    expect(one.created.map((b) => b.name)).toEqual([first, second]);
  });

  it("fills every part-filled open block of the group first, and never a closed or full one or another owner's", () => {
    const mk = (name: string, open: boolean, owner = 'alice'): BlockInfo => ({
      name: DS + '#' + name,
      dataset: DS,
      owner,
      open,
      createdAt: 0,
    });
    const blocks = new Map(
      [mk('1', true), mk('2', true), mk('3', false), mk('4', true), mk('5', true, 'bob')].map((b) => [b.name, b]),
    );
    const members = new Map([
      [DS + '#1', 2],
      [DS + '#2', 1],
      [DS + '#3', 0],
      [DS + '#4', 3],
      [DS + '#5', 0],
    ]);
    const plan = planAssignments(
      ['p', 'q', 'r', 's'].map((id) => slim(id)),
      blocks,
      members,
      settings,
      now,
    );
    expect(plan.assignments).toEqual([
      { id: 'p', block: DS + '#1' },
      { id: 'q', block: DS + '#2' },
      { id: 'r', block: DS + '#2' },
      { id: 's', block: blockNameOf(DS, 'alice', 's') },
    ]);
  });
});

describe('candidates and closure', () => {
  it('only done, publish, unassigned, not yet published transfers are candidates', () => {
    expect(isCandidate(slim('a'))).toBe(true);
    expect(isCandidate(slim('a', { publication_state: null }))).toBe(true);
    for (const over of [
      { state: 'failed' },
      { state: 'killed' },
      { publish: false },
      { block: 'x' },
      { publication_state: 'published' },
      { publication_state: 'publication_failed' },
    ] as Partial<PubSlim>[]) {
      expect(isCandidate(slim('a', over))).toBe(false);
    }
  });

  it('closes full, timed-out, or finished blocks, never one with files still publishing', () => {
    const b: BlockInfo = {
      name: DS + '#1',
      dataset: DS,
      owner: 'alice',
      open: true,
      createdAt: now.getTime() - 10_000,
    };
    expect(closureReason(b, 3, 0, 5, 5, settings, now)).toBe('full');
    expect(closureReason(b, 3, 1, 0, 0, settings, now)).toBeNull();
    expect(closureReason(b, 2, 0, 0, 1, settings, now)).toBeNull();
    expect(closureReason(b, 2, 0, 1, 0, settings, now)).toBeNull();
    expect(closureReason(b, 2, 0, 0, 0, settings, now)).toBe('workflow');
    expect(closureReason({ ...b, createdAt: now.getTime() - 60_000 }, 2, 0, 0, 1, settings, now)).toBe('timeout');
    expect(closureReason({ ...b, open: false }, 3, 0, 0, 0, settings, now)).toBeNull();
    expect(closureReason(b, 0, 0, 0, 0, settings, now)).toBeNull();
  });
});
