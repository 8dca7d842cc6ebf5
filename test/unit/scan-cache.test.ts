import { describe, expect, it } from 'vitest';
import type { Detector } from '../../src/detect/types.js';
import { ScanCache } from '../../src/policy/scan-cache.js';

function counting(): Detector & { calls: number } {
  const d = {
    calls: 0,
    maxMatchLength: 10,
    scan(text: string) {
      d.calls++;
      const i = text.indexOf('KEY');
      return i >= 0 ? [{ type: 'SECRET', rule: 'k', start: i, end: i + 3 }] : [];
    },
  };
  return d;
}

describe('scan cache for repeated conversation history', () => {
  const long = 'x'.repeat(600) + 'KEY' + 'y'.repeat(100);

  it('scans a long text once and returns the same matches after', () => {
    const c = new ScanCache();
    const d = counting();
    expect(c.scan(0, d, long)).toEqual([{ type: 'SECRET', rule: 'k', start: 600, end: 603 }]);
    expect(c.scan(0, d, `${long}`)).toEqual([{ type: 'SECRET', rule: 'k', start: 600, end: 603 }]);
    expect(d.calls).toBe(1);
  });

  it('keeps rules apart, never caches short texts, and keeps what is used while one-off texts pass through', () => {
    const c = new ScanCache(4);
    const d = counting();
    c.scan(0, d, long);
    c.scan(1, d, long);
    expect(d.calls).toBe(2);
    c.scan(0, d, 'short KEY');
    c.scan(0, d, 'short KEY');
    expect(d.calls).toBe(4);
    // Slot 0 is used between one-off texts; slot 1 is not.
    for (let i = 0; i < 5; i++) {
      c.scan(0, d, long);
      c.scan(9, d, `${long}${i}`);
    }
    const before = d.calls;
    c.scan(0, d, long);
    expect(d.calls).toBe(before);
    c.scan(1, d, long);
    expect(d.calls).toBe(before + 1);
    expect(c.size).toBeLessThanOrEqual(4);
  });
});
