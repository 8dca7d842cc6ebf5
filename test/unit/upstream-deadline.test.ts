import { EventEmitter } from 'node:events';
import { errors as undiciErrors } from 'undici';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ClientGone } from '../../src/gateway/client-gone.js';
import { classifyUpstreamError, HeadersDeadline } from '../../src/providers/upstream.js';

/**
 * A target's timeout_ms is the gateway's own timer: undici's ticks every half second, and answered a
 * `timeout_ms: 1000` at about 1.5 s (issue 17). On a mocked clock the deadline fires at exactly timeout_ms.
 */
describe('HeadersDeadline', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('fires at timeout_ms, not a tick later, with an error classified as an upstream timeout', () => {
    const deadline = new HeadersDeadline(new ClientGone(), 1000);
    const fired = vi.fn();
    deadline.once('abort', fired);
    vi.advanceTimersByTime(999);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledOnce();
    expect(deadline.aborted).toBe(true);
    expect(deadline.reason).toBeInstanceOf(undiciErrors.HeadersTimeoutError);
    expect(classifyUpstreamError(deadline.reason).kind).toBe('timeout');
  });

  it('stops counting once the headers are in; the client leaving still ends the call, as an abort', () => {
    const client = new ClientGone();
    const deadline = new HeadersDeadline(client, 1000);
    deadline.headersArrived();
    vi.advanceTimersByTime(10_000);
    expect(deadline.aborted).toBe(false);
    client.abort();
    expect(deadline.aborted).toBe(true);
    expect(deadline.reason).toBeUndefined();
  });

  it('passes on a client already gone, and an AbortSignal as well as an EventEmitter', () => {
    const gone = new ClientGone();
    gone.abort();
    expect(new HeadersDeadline(gone, 1000).aborted).toBe(true);
    const controller = new AbortController();
    const deadline = new HeadersDeadline(controller.signal, 1000);
    controller.abort();
    expect(deadline.aborted).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    expect(new HeadersDeadline(new EventEmitter(), 5).aborted).toBe(false);
  });
});
