import { describe, expect, it } from 'vitest';
import { defaultMaxConnections, listenerLimits, openFileLimit } from '../../src/gateway/bounded-server.js';

describe('listener limits', () => {
  it('the default connection cap leaves room under the open-file limit, and never drops below 64', () => {
    expect(defaultMaxConnections(16, 320)).toBe(320 - 128 - 64 - 16);
    expect(defaultMaxConnections(256, 1024)).toBe(1024 - 128 - 64 - 256);
    expect(defaultMaxConnections(16, 100)).toBe(64);
    expect(openFileLimit()).toBeGreaterThan(0);
  });

  it('defaults, and no timeout longer than the whole request may take', () => {
    expect(listenerLimits({ maxConnections: 10 }, 0)).toEqual({ headersTimeoutMs: 30_000, bodyIdleTimeoutMs: 30_000, requestTimeoutMs: 300_000, maxConnections: 10 });
    expect(listenerLimits({ requestTimeoutMs: 5_000, maxConnections: 10 }, 0)).toMatchObject({ headersTimeoutMs: 5_000, bodyIdleTimeoutMs: 5_000, requestTimeoutMs: 5_000 });
  });
});
