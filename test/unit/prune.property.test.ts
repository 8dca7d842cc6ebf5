import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PRUNE_BATCH, pruneCut, retentionCutoff } from '../../src/audit/prune.js';

describe('prune steps', () => {
  it('cut at the newest removable checkpoint within one batch of events, else at the oldest removable one', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.uniqueArray(fc.integer({ min: 0, max: 3 * PRUNE_BATCH }), { maxLength: 12 }), (first, offsets) => {
        const removable = offsets.map((o) => ({ seq: first + o })).sort((a, b) => a.seq - b.seq);
        const cut = pruneCut(removable, first);
        if (removable.length === 0) {
          expect(cut).toBeUndefined();
          return;
        }
        expect(removable).toContain(cut);
        const removed = cut!.seq - first + 1;
        if (removed > PRUNE_BATCH) expect(cut).toBe(removable[0]);
        else expect(removable.filter((cp) => cp.seq > cut!.seq && cp.seq - first + 1 <= PRUNE_BATCH)).toEqual([]);
      }),
    );
  });

  it('measures retention in whole days from 1 to 36500, from the time given', () => {
    expect(retentionCutoff({ days: 2, nowMs: 5 * 86_400_000 })).toEqual({ days: 2, nowMs: 5 * 86_400_000, beforeMs: 3 * 86_400_000 });
    for (const days of [0, -3, 1.5, 36_501, Number.POSITIVE_INFINITY]) expect(() => retentionCutoff({ days })).toThrow(/whole number of days/);
    expect(() => retentionCutoff({ days: 1, nowMs: Number.NaN })).toThrow(/epoch milliseconds/);
  });
});
