/**
 * Generated hostile transfers against the deployed validate_doc_update: every path trick (encoded
 * dot-dot, query, fragment, backslash, control and non-ASCII characters, empty and dot segments)
 * at every place in the source, destination and parent LFNs, and every namespace escape (another
 * user's areas, group areas without the role, prefixes that only start like the user's, datasets
 * of others), each written by a signed-in plain user in one `_bulk_docs`. Every one is refused
 * with a 403 naming its field, and none is stored.
 */
import { createTestEnv, transferFixture, type TestEnv } from '../support/env';
import { readTransfers } from '../support/agents';
import { sha224Hex } from '../../views/lib/sha224';

/** Text that decoding, URL parsing or Unicode normalisation would read as something else. */
const TRICKS = [
  '%2e%2e',
  '%2E%2E',
  '%2e',
  '..%2F..%2F',
  '%2f',
  '%2F',
  '%5c',
  '%00',
  '%25',
  '%',
  '%u002e',
  '.%2e',
  '%2e.',
  '?',
  '?x=1',
  'a?oss.asize=1',
  '#',
  '#frag',
  'a#b',
  '\\',
  '..\\..',
  'a\\b',
  '..',
  '.',
  '',
  ' ',
  '\t',
  '\n',
  '\u0000',
  '\u007f',
  '\u0085',
  '\u00a0',
  '\u2028',
  '\u200b\u200b',
  '\uff0e\uff0e',
  '\uff0e',
  '\u2024\u2024',
  '\ufe52\ufe52',
  '\uff0f',
  '\u2215',
  '\ufb01',
  'u\u0308',
  '\u00fc',
  '\u0430',
  '\u{1F600}',
];
/** Tricks that are hostile only as a whole segment (`a..b` and `f.root.` are plain names). */
const SEGMENT_ONLY = ['..', '.', ''];
// Lone surrogates are left to the unit table: a JSON body carrying one is not valid UTF-8 for CouchDB.

function hostileCases(
  owner: string,
  other: string,
  group: string,
): { name: string; field: string; over: Record<string, unknown> }[] {
  const out: { name: string; field: string; over: Record<string, unknown> }[] = [];
  const src = `/store/temp/user/${owner}`;
  const dst = `/store/user/${owner}`;
  TRICKS.forEach((t, k) => {
    // Each trick as a whole segment, inside a segment, at the end, and replacing the file name.
    const all = [
      `/${t}/wf/f${k}.root`,
      `/wf/a${t}b/f${k}.root`,
      `/wf/f${k}.root${t}`,
      `/wf/${t}`,
      `/${t}/${t}/${t}/etc/f${k}`,
    ];
    const places = SEGMENT_ONLY.includes(t) ? [all[0], all[3], all[4]] : all;
    places.forEach((tail, p) => {
      out.push({ name: `source trick ${k}.${p}`, field: 'source_lfn', over: { source_lfn: src + tail } });
      out.push({
        name: `destination trick ${k}.${p}`,
        field: 'destination_lfn',
        over: { destination_lfn: dst + tail },
      });
      out.push({ name: `parent trick ${k}.${p}`, field: 'parents[0]', over: { parents: [dst + tail] } });
      out.push({
        name: `second parent trick ${k}.${p}`,
        field: 'parents[1]',
        over: { parents: [`${dst}/ok.root`, dst + tail] },
      });
    });
  });
  // Namespace escapes, each with a few file names.
  const escapes: [string, string, Record<string, unknown>][] = [
    ["source in the other user's temp area", 'source_lfn', { source_lfn: `/store/temp/user/${other}/wf/x` }],
    ["source in the owner's user area", 'source_lfn', { source_lfn: `${dst}/wf/x` }],
    ["source in the other user's user area", 'source_lfn', { source_lfn: `/store/user/${other}/wf/x` }],
    ['source in a group area', 'source_lfn', { source_lfn: `/store/group/${group}/wf/x` }],
    ['source under a longer user name', 'source_lfn', { source_lfn: `/store/temp/user/${owner}x/wf/x` }],
    ['source under a shorter user name', 'source_lfn', { source_lfn: `/store/temp/user/${owner.slice(0, -1)}/wf/x` }],
    ['source named like the area', 'source_lfn', { source_lfn: `/store/temp/user/${owner}` }],
    ['source at the SE root', 'source_lfn', { source_lfn: '/x' }],
    ['source in /etc', 'source_lfn', { source_lfn: '/etc/passwd' }],
    ['source in /store/temp', 'source_lfn', { source_lfn: '/store/temp/x' }],
    [
      'source with the user in a deeper place',
      'source_lfn',
      { source_lfn: `/store/temp/user/${other}/user/${owner}/x` },
    ],
    ["destination in the other user's area", 'destination_lfn', { destination_lfn: `/store/user/${other}/wf/x` }],
    ['destination in a temp area', 'destination_lfn', { destination_lfn: `${src}/wf/x` }],
    ["destination in the other's temp area", 'destination_lfn', { destination_lfn: `/store/temp/user/${other}/wf/x` }],
    ['destination in a group area without group', 'destination_lfn', { destination_lfn: `/store/group/${group}/wf/x` }],
    [
      'destination in a group area, group without role',
      'group',
      { destination_lfn: `/store/group/${group}/wf/x`, group },
    ],
    ['destination under a longer user name', 'destination_lfn', { destination_lfn: `/store/user/${owner}x/wf/x` }],
    ['destination named like the area', 'destination_lfn', { destination_lfn: dst }],
    [
      'destination with the user deeper',
      'destination_lfn',
      { destination_lfn: `/store/user/${other}/store/user/${owner}/x` },
    ],
    ['destination at the SE root', 'destination_lfn', { destination_lfn: '/x' }],
    ["publish into the other user's dataset", 'dataset', { publish: true, dataset: `/P/${other}-v1/USER` }],
    [
      'publish into a dataset starting with the name but no dash',
      'dataset',
      { publish: true, dataset: `/P/${owner}x-v1/USER` },
    ],
    ['publish into a group dataset without the group', 'dataset', { publish: true, dataset: `/P/${group}-v1/USER` }],
    ['a dataset of another user without publish', 'dataset', { dataset: `/P/${other}-v1/USER` }],
    ['a group whose role is not held', 'group', { group }],
    ['a group that is a path', 'group', { group: '../x' }],
  ];
  escapes.forEach(([name, field, over]) => {
    // The bare area names (no file below them) exist once; every other escape with 8 file names.
    const bare = over.source_lfn === src || over.destination_lfn === dst;
    for (let i = 0; i < (bare ? 1 : 8); i++) {
      const o: Record<string, unknown> = { ...over };
      for (const key of ['source_lfn', 'destination_lfn'])
        if (typeof o[key] === 'string' && !bare) o[key] = `${o[key]}_${i}.root`;
      out.push({ name: `${name} #${i}`, field, over: o });
    }
  });
  return out;
}

describe('generated hostile transfers, refused by the deployed validation', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv();
  });
  afterAll(() => env?.cleanup());

  it('refuses at least 1,000 generated cases with a 403 naming the field, and stores none of them', async () => {
    const cases = hostileCases(env.names.owner, env.names.other, env.group);
    expect(cases.length).toBeGreaterThanOrEqual(1000);
    const docs = cases.map((c, i) => {
      const doc = {
        ...transferFixture(env.names.owner, {
          source_lfn: `/store/temp/user/${env.names.owner}/gen/ok_${i}.root`,
          created_at: new Date().toISOString(),
        }),
        ...c.over,
      };
      return { ...doc, _id: sha224Hex(String(doc.source_lfn)) };
    });
    // One document per id: a batch naming an id twice would answer a conflict, not the validation.
    expect(new Set(docs.map((d) => d._id)).size).toBe(docs.length);
    const answers: { name: string; status: string; field: string }[] = [];
    for (let k = 0; k < docs.length; k += 250) {
      const res = await env
        .as('owner')
        .use(env.dbs.transfers)
        .bulk({ docs: docs.slice(k, k + 250) as never[] });
      // By id: the embedded server answers a _bulk_docs in its own order.
      const byId = new Map(res.map((r) => [r.id, r]));
      docs.slice(k, k + 250).forEach((d, j) => {
        const r = byId.get(d._id);
        answers.push({
          name: cases[k + j].name,
          status: r ? r.error || 'stored' : 'no answer',
          field: String(r?.reason || '').split(':')[0],
        });
      });
    }
    const expected = cases.map((c) => ({ name: c.name, status: 'forbidden', field: c.field }));
    const wrong = answers.filter((a, i) => a.status !== expected[i].status || a.field !== expected[i].field);
    expect({ wrong: wrong.slice(0, 10), count: wrong.length }).toEqual({ wrong: [], count: 0 });
    expect(await readTransfers(env, [...new Set(docs.map((d) => d._id))])).toEqual([]);
  });
});
