import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { backoff, receiversOf, WebhookDispatcher, type Receiver } from '../../src/webhooks/dispatcher.js';
import { payloadsOf } from '../../src/webhooks/payloads.js';
import { signature, signedHeaders, verifyWebhook } from '../../src/webhooks/sign.js';
import { makeEvent, makePolicyResult } from '../helpers/events.js';

const logger = pino({ level: 'silent' });

describe('webhook signatures', () => {
  it('a signed body verifies with its secret, and any change to body, secret or timestamp fails', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), fc.string({ maxLength: 300 }), fc.nat({ max: 299 }), fc.nat(), (secret, body, skew, flip) => {
        const now = 1_765_000_000_000;
        const headers = signedHeaders(secret, 'dlv_x', body, now);
        expect(verifyWebhook(secret, headers, body, { nowMs: now + skew * 1000 })).toBe(true);
        expect(verifyWebhook(secret, headers, body, { nowMs: now + 301_000 })).toBe(false);
        expect(verifyWebhook(`${secret}x`, headers, body, { nowMs: now })).toBe(false);
        const altered = body.length === 0 ? 'x' : body.slice(0, flip % body.length) + String.fromCharCode(body.charCodeAt(flip % body.length) ^ 1) + body.slice((flip % body.length) + 1);
        expect(verifyWebhook(secret, headers, altered, { nowMs: now })).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('is HMAC-SHA256 over "timestamp.body" in hex, as documented', () => {
    expect(signature('s3cret', 1765000000, '{}')).toBe(`v1=${createHmac('sha256', 's3cret').update('1765000000.{}').digest('hex')}`);
  });
});

describe('webhook payloads', () => {
  it('carry rule ids and types, never text, values or error messages', () => {
    const e = makeEvent({
      verdict: 'block',
      reason_code: 'input_blocked',
      policies: [{ ...makePolicyResult('code-sanitizer', 'block'), findings: [{ type: 'GITHUB_TOKEN', rule: 'github-pat', source: 'user', count: 1 }] }],
      error: { type: 'invalid_request_error', code: 'input_blocked', message: 'quoted ghp_secret' },
      capture: { mode: 'redacted', request: [{ source: 'user', turn: 0, text: 'my token ghp_secret' }], completion: null, truncated: false },
    });
    const [p] = payloadsOf(e);
    expect(p!.type).toBe('block');
    expect(p!.data.findings).toEqual([{ policy: 'code-sanitizer', type: 'GITHUB_TOKEN', rule: 'github-pat' }]);
    expect(JSON.stringify(p)).not.toContain('ghp_secret');
  });
});

describe('webhook dispatcher', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    server = undefined;
  });

  it('never waits and never grows past its bound: past max pending, deliveries are dropped and counted', async () => {
    // A receiver that never answers: every delivery stays in flight.
    const hanging: Array<() => void> = [];
    server = createServer((_req, res) => hanging.push(() => res.end()));
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
    const receivers: Receiver[] = receiversOf([{ url, secret_env: 'S', events: ['block'], max_attempts: 1, initial_backoff_ms: 10, max_backoff_ms: 10, timeout_ms: 60_000 }], { S: 'x' });
    const d = new WebhookDispatcher({ logger, maxPending: 5 });
    d.configure(receivers);
    const block = makeEvent({ verdict: 'block', reason_code: 'input_blocked' });
    for (let i = 0; i < 50; i++) d.notify(block);
    expect(d.pending).toBe(5);
    expect(d.counts).toMatchObject({ queued: 5, dropped: 45 });
    // Four run at once; the fifth waits its turn. Answer them all, then close.
    for (let i = 0; i < 400 && hanging.length < 4; i++) await new Promise((r) => setTimeout(r, 25));
    server.closeAllConnections();
    await d.close(200);
    expect(d.counts.queued).toBe(5);
  });

  it('refuses a receiver whose secret is not in the environment', () => {
    expect(() => receiversOf([{ url: 'https://h.example/x?token=abc', secret_env: 'NOPE', events: ['block'], max_attempts: 1, initial_backoff_ms: 10, max_backoff_ms: 10, timeout_ms: 1000 }], {})).toThrow(
      'webhook https://h.example/x: the environment variable NOPE (its signing secret) is not set',
    );
  });

  it('backs off between half and all of the doubled wait, capped', () => {
    fc.assert(
      fc.property(fc.integer({ min: 10, max: 10_000 }), fc.integer({ min: 10, max: 100_000 }), fc.integer({ min: 1, max: 40 }), (initial, max, attempts) => {
        const ceiling = Math.min(max, initial * 2 ** Math.min(attempts - 1, 30));
        const w = backoff({ initial_backoff_ms: initial, max_backoff_ms: max }, attempts);
        expect(w).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
        expect(w).toBeLessThanOrEqual(ceiling);
      }),
    );
  });
});
