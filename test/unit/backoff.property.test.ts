import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffMs, retryAfterMs, retryWaitMs, type RetryPolicy } from '../../src/providers/backoff.js';

const policy = fc.record({
  maxRetries: fc.integer({ min: 0, max: 10 }),
  initialBackoffMs: fc.integer({ min: 0, max: 10_000 }),
  maxBackoffMs: fc.integer({ min: 0, max: 60_000 }),
  maxRetryAfterMs: fc.integer({ min: 0, max: 60_000 }),
});
const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

describe('backoff', () => {
  it('stays within half and all of the capped exponential step, whatever the jitter', () => {
    fc.assert(
      fc.property(policy, fc.integer({ min: 1, max: 100 }), unit, (p, retry, r) => {
        const step = Math.min(p.maxBackoffMs, p.initialBackoffMs * 2 ** (retry - 1));
        const wait = backoffMs(retry, p, () => r);
        expect(wait).toBeGreaterThanOrEqual(Math.floor(step / 2));
        expect(wait).toBeLessThanOrEqual(Math.ceil(step));
      }),
    );
  });

  it('grows with each retry until the cap', () => {
    const p: RetryPolicy = { maxRetries: 5, initialBackoffMs: 100, maxBackoffMs: 1000, maxRetryAfterMs: 0 };
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(n, p, () => 1 - Number.EPSILON))).toEqual([100, 200, 400, 800, 1000]);
    expect([1, 2, 3].map((n) => backoffMs(n, p, () => 0))).toEqual([50, 100, 200]);
  });

  it('waits what the provider asked when that is longer than the backoff and within the cap, and never when over it', () => {
    fc.assert(
      fc.property(policy, fc.integer({ min: 1, max: 10 }), fc.integer({ min: 0, max: 120_000 }), unit, (p, retry, asked, r) => {
        const wait = retryWaitMs(retry, p, asked, () => r);
        if (asked > p.maxRetryAfterMs) expect(wait).toBeUndefined();
        else expect(wait).toBe(Math.max(asked, backoffMs(retry, p, () => r)));
      }),
    );
  });
});

describe('retryAfterMs', () => {
  it('reads retry-after-ms first, then Retry-After in seconds or as an HTTP date', () => {
    const now = Date.parse('2026-12-07T12:00:00Z');
    expect(retryAfterMs({ 'retry-after-ms': '1500', 'retry-after': '9' }, now)).toBe(1500);
    expect(retryAfterMs({ 'retry-after': '2' }, now)).toBe(2000);
    expect(retryAfterMs({ 'retry-after': '0.5' }, now)).toBe(500);
    expect(retryAfterMs({ 'retry-after': 'Mon, 07 Dec 2026 12:00:03 GMT' }, now)).toBe(3000);
    expect(retryAfterMs({ 'retry-after': 'Mon, 07 Dec 2026 11:00:00 GMT' }, now)).toBe(0);
    expect(retryAfterMs({}, now)).toBeUndefined();
    expect(retryAfterMs({ 'retry-after': 'soon' }, now)).toBeUndefined();
    expect(retryAfterMs({ 'retry-after-ms': '-5', 'retry-after': '1' }, now)).toBe(1000);
  });
});
