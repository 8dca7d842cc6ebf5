import { describe, expect, it } from 'vitest';
import { ClientGone } from '../../src/gateway/client-gone.js';
import { ConcurrencyLimiter } from '../../src/gateway/limiter.js';

describe('concurrency limiter', () => {
  it('grants up to max at once, queues FIFO, and refuses beyond the queue', async () => {
    const l = new ConcurrencyLimiter(2, 1);
    const signal = new ClientGone();
    const a = l.acquire(signal) as () => void;
    const b = l.acquire(signal) as () => void;
    expect(l.inFlight).toBe(2);
    const order: string[] = [];
    const c = (l.acquire(signal) as Promise<(() => void) | undefined>).then((r) => (order.push('c'), r));
    expect(l.acquire(signal)).toBeUndefined(); // queue of 1 is full
    a();
    const rc = await c;
    expect(order).toEqual(['c']);
    expect(l.inFlight).toBe(2);
    rc!();
    b();
    expect(l.inFlight).toBe(0);
  });

  it('drops a waiter whose client went away, and a double release counts once', async () => {
    const l = new ConcurrencyLimiter(1, 4);
    const first = l.acquire(new ClientGone()) as () => void;
    const ac = new ClientGone();
    const waiting = l.acquire(ac) as Promise<(() => void) | undefined>;
    expect(l.queued).toBe(1);
    ac.abort();
    expect(await waiting).toBeUndefined();
    expect(l.queued).toBe(0);
    first();
    first();
    expect(l.inFlight).toBe(0);
  });
});
