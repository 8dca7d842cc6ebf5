import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecentMap } from '../../src/policy/recent-map.js';

type Op = { kind: 'set'; key: number; value: number } | { kind: 'get'; key: number } | { kind: 'delete'; key: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), key: fc.nat({ max: 30 }), value: fc.integer() }),
  fc.record({ kind: fc.constant('get' as const), key: fc.nat({ max: 30 }) }),
  fc.record({ kind: fc.constant('delete' as const), key: fc.nat({ max: 30 }) }),
);

describe('RecentMap', () => {
  it('returns only the last value set, keeps what was set within half the capacity, and stays within the capacity', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 16 }), fc.array(op, { maxLength: 300 }), (capacity, ops) => {
        const map = new RecentMap<number, number>(capacity);
        const generation = Math.floor(capacity / 2);
        // What a plain map would hold, and how many operations ago each key was last set (each operation can
        // make at most one insertion inside the RecentMap: a set, or a hit in the old generation).
        const latest = new Map<number, number>();
        const age = new Map<number, number>();
        for (const o of ops) {
          for (const [k, a] of age) age.set(k, a + 1);
          if (o.kind === 'set') {
            map.set(o.key, o.value);
            latest.set(o.key, o.value);
            age.set(o.key, 0);
          } else if (o.kind === 'delete') {
            map.delete(o.key);
            latest.delete(o.key);
            age.delete(o.key);
            expect(map.get(o.key)).toBeUndefined();
          } else {
            const got = map.get(o.key);
            if (got !== undefined) expect(got).toBe(latest.get(o.key));
            if (latest.has(o.key) && age.get(o.key)! < generation) expect(got).toBe(latest.get(o.key));
            if (got !== undefined) age.set(o.key, 0);
          }
          expect(map.size).toBeLessThanOrEqual(capacity);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('keeps an entry used from the old generation for a whole generation more', () => {
    const map = new RecentMap<string, number>(6);
    for (const [i, k] of ['a', 'b', 'c'].entries()) map.set(k, i); // the young generation fills and becomes the old one
    map.set('d', 3);
    map.set('e', 4);
    expect(map.get('a')).toBe(0); // from the old generation, which the next insertion replaces
    map.set('f', 5);
    expect(map.get('a')).toBe(0);
    expect(map.get('b')).toBeUndefined();
  });
});
