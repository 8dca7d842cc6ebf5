import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readBody } from '../../src/gateway/body.js';
import { GatewayError } from '../../src/gateway/errors.js';

/** A request as node:http hands it over: a readable stream with headers. */
function fakeRequest(headers: Record<string, string>): PassThrough & { headers: Record<string, string> } {
  return Object.assign(new PassThrough(), { headers });
}

/** Split `bytes` at the given (sorted, deduplicated) cut points. */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    if (p > from) out.push(bytes.subarray(from, p));
    from = Math.max(from, p);
  }
  if (from < bytes.length) out.push(bytes.subarray(from));
  return out;
}

const LIMITS = { idleTimeoutMs: 60_000, totalTimeoutMs: 60_000 };

describe('readBody', () => {
  it('returns the body when it fits, else 413 only after the whole upload was read; however it is split or encoded', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 4000 }),
        fc.integer({ min: 1, max: 4000 }),
        fc.boolean(),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 12 }),
        async (body, maxBytes, gzip, declare, cuts) => {
          const plain = Buffer.from(body);
          const wire = gzip ? gzipSync(plain) : plain;
          const req = fakeRequest({
            ...(gzip ? { 'content-encoding': 'gzip' } : {}),
            ...(declare ? { 'content-length': String(wire.length) } : {}),
          });
          const reading = readBody(req as unknown as IncomingMessage, { maxBytes, ...LIMITS }).then(
            (b) => ({ ok: true as const, b }),
            (err: unknown) => ({ ok: false as const, err }),
          );
          for (const chunk of split(wire, cuts)) {
            req.write(chunk);
            await new Promise((r) => setImmediate(r));
          }
          req.end();
          const result = await Promise.race([reading, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('readBody never settled')), 2000))]);
          // The limit holds for the decoded body, and for a declared length as well (refused before decoding).
          const tooLarge = plain.length > maxBytes || (declare && wire.length > maxBytes);
          if (!tooLarge) {
            expect(result.ok).toBe(true);
            if (result.ok) expect(result.b.equals(plain)).toBe(true);
          } else {
            expect(result.ok).toBe(false);
            if (!result.ok) expect((result.err as GatewayError).status).toBe(413);
            // Read to its end, so the client is done writing when it gets the answer.
            expect(req.readableEnded).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a declared length past the discard bound is refused at once, without reading', async () => {
    const req = fakeRequest({ 'content-length': String(200 * 1024 * 1024) });
    await expect(readBody(req as unknown as IncomingMessage, { maxBytes: 1024, ...LIMITS })).rejects.toMatchObject({ status: 413 });
    expect(req.readableEnded).toBe(false);
  });

  it('a body that stops arriving is a 408', async () => {
    const req = fakeRequest({ 'content-length': '100' });
    const reading = readBody(req as unknown as IncomingMessage, { maxBytes: 1024, idleTimeoutMs: 20, totalTimeoutMs: 60_000 });
    req.write(Buffer.alloc(10));
    await expect(reading).rejects.toMatchObject({ status: 408, extra: { code: 'request_timeout' } });
  });

  it('a body that keeps trickling in is a 408 once the whole request takes too long', async () => {
    const req = fakeRequest({});
    const reading = readBody(req as unknown as IncomingMessage, { maxBytes: 1024, idleTimeoutMs: 60_000, totalTimeoutMs: 50 });
    const trickle = setInterval(() => req.write(Buffer.alloc(1)), 5);
    await expect(reading).rejects.toMatchObject({ status: 408, extra: { code: 'request_timeout' }, message: expect.stringContaining('not complete after 50 ms') });
    clearInterval(trickle);
  });

  it('a body whose pauses are each shorter than the idle bound is read whole, however long it takes in all', async () => {
    const req = fakeRequest({});
    const reading = readBody(req as unknown as IncomingMessage, { maxBytes: 1024, idleTimeoutMs: 40, totalTimeoutMs: 60_000 });
    for (let i = 0; i < 12; i++) {
      req.write(Buffer.from([i]));
      await new Promise((r) => setTimeout(r, 12));
    }
    req.end();
    expect([...(await reading)]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('names the bound that ran out: the pause after some of the body, or the whole request', async () => {
    const paused = fakeRequest({});
    const started = performance.now();
    const reading = readBody(paused as unknown as IncomingMessage, { maxBytes: 1024, idleTimeoutMs: 30, totalTimeoutMs: 60_000 });
    setTimeout(() => paused.write(Buffer.alloc(1)), 20);
    await expect(reading).rejects.toMatchObject({ status: 408, message: expect.stringContaining('nothing for 30 ms') });
    // The pause is counted from the last chunk, not from the start.
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    const slow = fakeRequest({});
    await expect(readBody(slow as unknown as IncomingMessage, { maxBytes: 1024, idleTimeoutMs: 60_000, totalTimeoutMs: 30 })).rejects.toMatchObject({
      status: 408,
      message: expect.stringContaining('not complete after 30 ms'),
    });
  });
});
