import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mergeLayers } from '../../src/config/layers.js';

const key = fc.constantFrom('pack', 'name', 'version', 'chain', 'policy', 'targets', 'a', 'b');
const scalar = fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.boolean(), fc.constant(null));
const { doc } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('value'), { maxLength: 3 }), tie('doc')),
  doc: fc.dictionary(key, tie('value'), { maxKeys: 4 }),
}));

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

describe('layering config files (maps merge, lists replace)', () => {
  it('applies layers one after another: -c a -c b -c c is (a then b) then c', () => {
    fc.assert(
      fc.property(doc, doc, doc, (a, b, c) => {
        expect(mergeLayers([a, b, c])).toEqual(mergeLayers([mergeLayers([a, b]), c]));
      }),
    );
  });

  it('is associative whenever layers agree on which keys hold maps', () => {
    // A layer that swaps a mapping for a list (or back) erases what was under it, so grouping matters
    // only then; configs that keep each key's shape can be pre-merged in any grouping.
    const mapsOnly = fc.letrec((tie) => ({ d: fc.dictionary(key, fc.oneof({ depthSize: 'small' }, scalar, tie('d')), { maxKeys: 4 }) })).d;
    const shapeSafe = (x: unknown, y: unknown): boolean =>
      !isMap(x) || !isMap(y) || Object.keys(y).every((k) => !(k in x) || isMap(x[k]) === isMap(y[k]) && shapeSafe(x[k], y[k]));
    fc.assert(
      fc.property(mapsOnly, mapsOnly, mapsOnly, (a, b, c) => {
        fc.pre(shapeSafe(a, b) && shapeSafe(b, c) && shapeSafe(a, c));
        expect(mergeLayers([a, mergeLayers([b, c])])).toEqual(mergeLayers([mergeLayers([a, b]), c]));
      }),
    );
  });

  it('an empty layer changes nothing, and a single layer is itself', () => {
    fc.assert(
      fc.property(doc, (a) => {
        expect(mergeLayers([a, {}])).toEqual(a);
        expect(mergeLayers([{}, a])).toEqual(a);
        expect(mergeLayers([a])).toEqual(a);
      }),
    );
  });

  it('every non-map value of the last layer wins as written; lists are never concatenated', () => {
    fc.assert(
      fc.property(doc, doc, (a, b) => {
        const merged = mergeLayers([a, b]) as Record<string, unknown>;
        const check = (m: Record<string, unknown>, over: Record<string, unknown>) => {
          for (const [k, v] of Object.entries(over)) {
            if (isMap(v) && isMap(m[k])) check(m[k] as Record<string, unknown>, v);
            else expect(m[k]).toEqual(v);
          }
        };
        check(merged, b);
      }),
    );
  });

  it('does not modify its inputs', () => {
    fc.assert(
      fc.property(doc, doc, (a, b) => {
        const before = JSON.stringify([a, b]);
        mergeLayers([a, b]);
        expect(JSON.stringify([a, b])).toBe(before);
      }),
    );
  });
});
