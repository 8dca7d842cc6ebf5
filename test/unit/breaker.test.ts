import { describe, expect, it } from 'vitest';
import { BreakerBoard, CircuitBreaker } from '../../src/providers/breaker.js';

const policy = { enabled: true, failures: 3, windowMs: 1000, cooldownMs: 500 };

describe('CircuitBreaker', () => {
  it('opens after `failures` within the window, not when they are spread wider', () => {
    const spread = new CircuitBreaker(policy);
    spread.failed(0);
    spread.failed(600);
    spread.failed(1200); // the first one left the window
    expect(spread.state(1200)).toBe('closed');
    const b = new CircuitBreaker(policy);
    for (const t of [0, 10, 20]) b.failed(t);
    expect(b.state(20)).toBe('open');
    expect(b.admit(100)).toBe('skip');
    expect(b.retryInMs(100)).toBe(420);
  });

  it('lets one probe through after the cool-down; its success closes, its failure reopens for another cool-down', () => {
    const b = new CircuitBreaker(policy);
    for (const t of [0, 1, 2]) b.failed(t);
    expect(b.state(502)).toBe('half_open');
    expect(b.admit(502)).toBe('probe');
    expect(b.admit(503)).toBe('skip'); // one probe at a time
    b.failed(600);
    expect(b.state(600)).toBe('open');
    expect(b.admit(1099)).toBe('skip');
    expect(b.admit(1100)).toBe('probe');
    b.succeeded();
    expect(b.state(1100)).toBe('closed');
    expect(b.admit(1100)).toBe('closed');
    expect(b.snapshot(1100)).toEqual({ state: 'closed', recent_failures: 0, opened: 1, retry_in_ms: null });
  });

  it('a probe that ends without a verdict lets the next request probe', () => {
    const b = new CircuitBreaker(policy);
    for (const t of [0, 1, 2]) b.failed(t);
    expect(b.admit(600)).toBe('probe');
    b.released();
    expect(b.admit(601)).toBe('probe');
  });

  it('a success in between starts the count again; disabled, it never opens', () => {
    const b = new CircuitBreaker(policy);
    b.failed(0);
    b.failed(1);
    b.succeeded();
    b.failed(2);
    expect(b.state(2)).toBe('closed');
    const off = new CircuitBreaker({ ...policy, enabled: false });
    for (let t = 0; t < 10; t++) off.failed(t);
    expect(off.admit(10)).toBe('closed');
  });
});

describe('BreakerBoard', () => {
  it('keeps the state of a target whose id and settings stay across a reload; new settings start fresh, removed targets go', () => {
    const board = new BreakerBoard([{ id: 'a', breaker: policy }, { id: 'b', breaker: policy }]);
    for (const t of [0, 1, 2]) {
      board.get('a')!.failed(t);
      board.get('b')!.failed(t);
    }
    board.update([{ id: 'a', breaker: policy }, { id: 'b', breaker: { ...policy, failures: 9 } }]);
    expect(board.get('a')!.state(3)).toBe('open');
    expect(board.get('b')!.state(3)).toBe('closed');
    board.update([{ id: 'b', breaker: { ...policy, failures: 9 } }]);
    expect(board.get('a')).toBeUndefined();
  });
});
