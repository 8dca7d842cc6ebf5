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

describe('short segments scanned in cached groups', () => {
  it('property: a chain run, cold or warm, finds exactly what scanning every segment on its own finds', async () => {
    const fc = (await import('fast-check')).default;
    const { PolicyChain } = await import('../../src/policy/engine.js');
    const sources = ['user', 'tool_result', 'tool_definition', 'other'] as const;
    const rules = [
      { name: 'all', detector: counting(), action: 'redact' as const, phases: ['input' as const], marker: () => '[X]' },
      { name: 'some', detector: counting(), action: 'flag' as const, phases: ['input' as const], sources: new Set(['user', 'other'] as const), marker: () => '' },
    ];
    const chain = new PolicyChain([{ kind: 'p', rules }], 'block');
    const segment = fc.record({ text: fc.oneof(fc.string({ maxLength: 20 }), fc.constant('a KEY b'), fc.constant(`${'z'.repeat(600)}KEY`)), source: fc.constantFrom(...sources) });
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 150 }), (specs) => {
        const segments = specs.map((s, id) => ({ id, source: s.source, turn: 0, path: [id], text: s.text }));
        const expected = segments.flatMap((seg) =>
          rules.flatMap((r) => (!r.sources || r.sources.has(seg.source as 'user') ? r.detector.scan(seg.text).map((m) => `${r.name}:${seg.id}:${m.start}`) : [])),
        );
        for (let round = 0; round < 2; round++) {
          const got = chain.run('input', segments).results[0]!.findings.map((f) => `${f.segment}:${f.start}`);
          expect(got.sort()).toEqual(expected.map((e) => e.slice(e.indexOf(':') + 1)).sort());
        }
      }),
      { numRuns: 200 },
    );
  });
});
