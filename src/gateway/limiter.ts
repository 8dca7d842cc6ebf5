import type { ClientGone } from './client-gone.js';

/**
 * Bounds how many requests are with an upstream at once. Requests over the bound wait in a FIFO queue;
 * past `maxQueue` waiters the gateway answers 503 at once instead of letting latency grow without end.
 */
export class ConcurrencyLimiter {
  private active = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(
    readonly max: number,
    readonly maxQueue: number,
  ) {}

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiters.length;
  }

  /** Resolves with a release function, or with undefined when the queue is full or `signal` aborts first. */
  acquire(signal: ClientGone): Promise<(() => void) | undefined> | (() => void) | undefined {
    if (this.active < this.max) {
      this.active++;
      return this.releaser();
    }
    if (this.waiters.length >= this.maxQueue || signal.aborted) return undefined;
    return new Promise((resolve) => {
      const grant = () => {
        signal.off('abort', onAbort);
        this.active++;
        resolve(this.releaser());
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(grant);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(undefined);
      };
      signal.once('abort', onAbort);
      this.waiters.push(grant);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.waiters.shift()?.();
    };
  }
}
