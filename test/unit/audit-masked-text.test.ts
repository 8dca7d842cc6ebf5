import { describe, expect, it } from 'vitest';
import { maskSpans, take, takeMasked } from '../../src/audit/masked-text.js';
import type { Finding } from '../../src/policy/types.js';

function finding(start: number, end: number, type: string): Finding {
  return { type, rule: 'r', start, end, segment: 0, source: 'user' } as unknown as Finding;
}

describe('takeMasked', () => {
  it('captures exactly what take(maskSpans(…)) captures, for any budget and any (overlapping) findings', () => {
    let seed = 11;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    const types = ['EMAIL', 'SECRET', 'X', 'PHONE_NUMBER'];
    for (let t = 0; t < 5000; t++) {
      const text = 'abcdefghij'.repeat(1 + rnd(30)).slice(0, 1 + rnd(300));
      const findings: Finding[] = [];
      for (let k = rnd(6); k > 0; k--) {
        const start = rnd(text.length);
        findings.push(finding(start, Math.min(text.length, start + 1 + rnd(20)), types[rnd(types.length)]!));
      }
      const left = rnd(400) - 20;
      const a = { left, truncated: false };
      const b = { left, truncated: false };
      const masked = maskSpans(text, findings);
      const expected = take(masked, a);
      const got = takeMasked(text, findings, b);
      expect(got.text).toBe(expected);
      expect(got.whole).toBe(expected === masked);
      expect(b).toEqual(a);
    }
  });

  it('cuts a long text with few findings without masking what it leaves out', () => {
    const text = `${'x'.repeat(100)}secret${'y'.repeat(200_000)}`;
    const budget = { left: 1000, truncated: false };
    const got = takeMasked(text, [finding(100, 106, 'SECRET')], budget);
    expect(got).toEqual({ text: `${'x'.repeat(100)}[SECRET]${'y'.repeat(892)}…[truncated 199108 chars]`, whole: false });
    expect(budget).toEqual({ left: 0, truncated: true });
  });
});
