/** Pure helpers of the operations commands: view signatures, durations. */
import { viewSignature } from '../../../scripts/ops/index-build';
import { parseDuration, formatSeconds } from '../../../scripts/ops/http';

describe('view signature', () => {
  const doc = {
    language: 'javascript',
    views: { a: { map: 'function (doc) { emit(1); }', reduce: '_count' }, b: { map: 'function (doc) { emit(2); }' } },
  };

  it('depends on the views only, not on their order, validation, attachments or stamps', () => {
    const same = {
      ...doc,
      views: { b: doc.views.b, a: doc.views.a },
      validate_doc_update: 'function () {}',
      _attachments: { x: {} },
      couchstage: { hash: 'x' },
    };
    expect(viewSignature(same)).toBe(viewSignature(doc));
  });

  it('changes with a map, a reduce, an added view or the options', () => {
    const base = viewSignature(doc);
    expect(viewSignature({ ...doc, views: { ...doc.views, a: { ...doc.views.a, reduce: '_sum' } } })).not.toBe(base);
    expect(
      viewSignature({ ...doc, views: { ...doc.views, a: { map: 'function (doc) { emit(3); }', reduce: '_count' } } }),
    ).not.toBe(base);
    expect(viewSignature({ ...doc, views: { ...doc.views, c: { map: 'function (doc) { emit(4); }' } } })).not.toBe(
      base,
    );
    expect(viewSignature({ ...doc, options: { local_seq: true } })).not.toBe(base);
  });

  it('is null for a design doc without views', () => {
    expect(viewSignature({ language: 'javascript' })).toBeNull();
    expect(viewSignature({ views: {} })).toBeNull();
  });
});

describe('durations', () => {
  it('parses 30s, 10m, 12h, 1d and refuses anything else', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('12h')).toBe(43_200_000);
    expect(parseDuration('1d')).toBe(86_400_000);
    for (const bad of ['', '12', 'h', '-1h', '1w', '1 h x']) expect(() => parseDuration(bad)).toThrow(/not a duration/);
  });

  it('formats seconds for progress lines', () => {
    expect(formatSeconds(5)).toBe('5.0 s');
    expect(formatSeconds(125)).toBe('2 min 5 s');
    expect(formatSeconds(7260)).toBe('2 h 1 min');
    expect(formatSeconds(Infinity)).toBe('?');
  });
});
