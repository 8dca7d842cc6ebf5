import fc from 'fast-check';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ fake: { record: false } });
});
afterAll(() => stack.close());

const paths = fc.constantFrom('/v1/chat/completions', '/v1/responses', '/v1/messages', '/v1/messages/count_tokens', '/v1/models', '/health', '/x/v1/messages?beta=true', '/%E0%A4%A', '/v1/models/%ZZ');
const bodies = fc.oneof(
  fc.string(),
  fc.json(),
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  fc.record({ model: fc.oneof(fc.string(), fc.integer(), fc.constant(null)), stream: fc.oneof(fc.boolean(), fc.string()), messages: fc.oneof(fc.array(fc.json(), { maxLength: 3 }), fc.string()) }).map((o) => JSON.stringify(o)),
);

describe('no input crashes the gateway', () => {
  it('answers arbitrary bodies on every route with a status and a JSON error shape, and stays healthy', async () => {
    await fc.assert(
      fc.asyncProperty(paths, fc.constantFrom('POST', 'GET', 'PUT'), bodies, fc.boolean(), async (path, method, body, anthropic) => {
        const res = await request(`${stack.gateway.url}${path}`, {
          method,
          headers: { 'content-type': 'application/json', authorization: 'Bearer k', ...(anthropic ? { 'anthropic-version': '2023-06-01' } : {}) },
          ...(method === 'GET' ? {} : { body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body) }),
        });
        const text = await res.body.text();
        expect(res.statusCode).toBeGreaterThanOrEqual(200);
        expect(res.statusCode).toBeLessThan(600);
        if (res.statusCode >= 400 && res.headers['content-type'] === 'application/json') {
          const json = JSON.parse(text) as { error?: { message?: string } };
          expect(typeof json.error?.message).toBe('string');
        }
      }),
      { numRuns: 150 },
    );
    expect((await request(`${stack.gateway.url}/healthz`)).statusCode).toBe(200);
  });
});
