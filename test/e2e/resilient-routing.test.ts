import { createServer } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DecisionEvent } from '../../src/audit/event.js';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import { startFakeUpstream, type FakeUpstream } from '../../src/testing/fake-upstream.js';
import { startStack, type Stack } from '../helpers/stack.js';

/**
 * Fault injection through HTTP: a primary target that fails in each way a provider fails, and a fallback that
 * answers. The client is served by the fallback within the deadline, the one decision event of each request
 * lists every try, and usage is the answering target's, counted once.
 */

const TOKEN = 'operator-token-0123456789';
const asOperator = { headers: { authorization: `Bearer ${TOKEN}` } };

let stack: Stack;
let fallback: FakeUpstream;
let dataDir: string;
let deadPort: number;

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'kt-routing-'));
  fallback = await startFakeUpstream({ replyText: 'answered by the fallback' });
  deadPort = await closedPort();
  stack = await startStack({
    fake: { replyText: 'answered by the primary' },
    config: `pack: {name: routing, version: "1"}
policies:
  chain: [audit-logger]
policy:
  audit-logger: {log_all_access: true}
providers:
  strategy: fallback
  retry: {max_retries: 1, initial_backoff_ms: 20, max_backoff_ms: 40, max_retry_after_ms: 1000}
  circuit_breaker: {failures: 50}
  targets:
    - {id: primary, provider: openai-compatible, model: gpt-4o, base_url: "FAKE_URL/v1", first_token_timeout_ms: 400}
    - {id: backup, provider: openai-compatible, model: gpt-4o, base_url: "${fallback.url}/v1"}
    - {id: dead, provider: openai-compatible, model: dead-model, base_url: "http://127.0.0.1:${deadPort}/v1"}
    - {id: dead-then-backup, provider: openai-compatible, model: flaky-model, base_url: "http://127.0.0.1:${deadPort}/v1"}
    - {id: backup-2, provider: openai-compatible, models: [flaky-model], base_url: "${fallback.url}/v1"}
    - {id: a-primary, provider: anthropic, model: claude-sonnet-4-20250514, base_url: "FAKE_URL", first_token_timeout_ms: 400}
    - {id: a-backup, provider: anthropic, model: claude-sonnet-4-20250514, base_url: "${fallback.url}"}
    - {id: a-last, provider: anthropic, model: claude-last, base_url: "FAKE_URL", retry: {max_retries: 0}}
`,
    audit: { dataDir },
    gateway: { metricsToken: TOKEN },
  });
});

afterAll(async () => {
  await stack?.close();
  await fallback?.close();
});

afterEach(() => {
  stack.fake.reset();
  fallback.reset();
});

const client = (requestId: string) => new OpenAI({ baseURL: stack.openaiBase, apiKey: 'k', maxRetries: 0, defaultHeaders: { 'x-request-id': requestId } });

async function eventFor(requestId: string): Promise<DecisionEvent> {
  await stack.trail!.recorder.caughtUp();
  const store = new SqliteEventStore(join(dataDir, 'events.db'), { readonly: true });
  try {
    const events = (await store.query({ order: 'asc', limit: 1000 })).map((e) => e.event).filter((e) => e.request_id === requestId);
    expect(events, `one event for ${requestId}`).toHaveLength(1);
    return events[0]!;
  } finally {
    await store.close();
  }
}

const outcomes = (e: DecisionEvent) => e.attempts?.map((a) => `${a.target}:${a.outcome}${a.status ? `:${a.status}` : ''}`);

async function messagesStream(requestId: string): Promise<{ status: number; text: string; ms: number }> {
  const t0 = performance.now();
  const res = await request(`${stack.gateway.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': 'k', 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-request-id': requestId },
    body: JSON.stringify({ model: 'claude-sonnet-4-20250514', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, text, ms: performance.now() - t0 };
}

describe('retries on the same target', () => {
  it('waits what retry-after-ms asks, then the same target answers; usage is that answer, once', async () => {
    stack.fake.setFault({ kind: 'status', status: 429, retryAfterMs: '150' }, { times: 1 });
    const t0 = performance.now();
    const reply = await client('r-429ms').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(145);
    expect(reply.choices[0]!.message.content).toBe('answered by the primary');
    expect(stack.fake.requests).toHaveLength(2);
    expect(fallback.requests).toHaveLength(0);
    const e = await eventFor('r-429ms');
    expect(outcomes(e)).toEqual(['primary:status:429', 'primary:answered:200']);
    expect(e.attempts![0]!.wait_ms).toBeGreaterThanOrEqual(150);
    expect(e.target?.id).toBe('primary');
    expect(e.usage).toMatchObject({ input_tokens: reply.usage!.prompt_tokens, output_tokens: reply.usage!.completion_tokens, estimated: false });
  });

  it('a Retry-After over max_retry_after_ms is not waited for: the fallback answers at once', async () => {
    stack.fake.setFault({ kind: 'status', status: 429, retryAfter: '30' });
    const t0 = performance.now();
    const reply = await client('r-429-long').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(reply.choices[0]!.message.content).toBe('answered by the fallback');
    const e = await eventFor('r-429-long');
    expect(outcomes(e)).toEqual(['primary:status:429', 'backup:answered:200']);
    expect(e.target?.id).toBe('backup');
    expect(e.usage).toMatchObject({ input_tokens: reply.usage!.prompt_tokens, output_tokens: reply.usage!.completion_tokens });
  });

  it('a 5xx is retried with backoff, then the next target takes the request', async () => {
    stack.fake.setFault({ kind: 'status', status: 503 });
    const reply = await client('r-503').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    expect(reply.choices[0]!.message.content).toBe('answered by the fallback');
    expect(stack.fake.requests).toHaveLength(2);
    const e = await eventFor('r-503');
    expect(outcomes(e)).toEqual(['primary:status:503', 'primary:status:503', 'backup:answered:200']);
    expect(e.attempts![0]!.wait_ms).toBeGreaterThanOrEqual(10);
    expect(e.attempts![0]!.wait_ms).toBeLessThanOrEqual(40);
    expect(e.attempts![1]!.wait_ms).toBeUndefined();
    expect(e.status).toBe(200);
  });

  it('a refused connection is retried, then the next target takes the request', async () => {
    const reply = await client('r-refused').chat.completions.create({ model: 'flaky-model', messages: [{ role: 'user', content: 'hi' }] });
    expect(reply.choices[0]!.message.content).toBe('answered by the fallback');
    const e = await eventFor('r-refused');
    expect(outcomes(e)).toEqual(['dead-then-backup:unreachable', 'dead-then-backup:unreachable', 'backup-2:answered:200']);
  });

  it('when every try fails, the last retriable answer goes to the client as it is', async () => {
    stack.fake.setFault({ kind: 'status', status: 503, retryAfter: '0' });
    fallback.setFault({ kind: 'status', status: 529, retryAfter: '3' });
    const res = await request(`${stack.openaiBase}/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer k', 'content-type': 'application/json', 'x-request-id': 'r-all-fail' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.statusCode).toBe(529);
    expect(res.headers['retry-after']).toBe('3');
    await res.body.dump();
    const e = await eventFor('r-all-fail');
    // 529 asked for 3 s, over max_retry_after_ms: not retried, and nothing is left to try.
    expect(outcomes(e)).toEqual(['primary:status:503', 'primary:status:503', 'backup:answered:529']);
    expect(e.target?.id).toBe('backup');
  });
});

describe('streams: committed at the first token, never retried after', () => {
  it('a stream reset before its first token is served by the fallback, whole and once', async () => {
    stack.fake.setFault({ kind: 'cut', afterFrames: 1 });
    const { status, text } = await messagesStream('r-reset');
    expect(status).toBe(200);
    expect(text.match(/event: message_start/g)).toHaveLength(1);
    expect(text).toContain('fallback');
    expect(text).not.toContain('primary');
    expect(text).toContain('event: message_stop');
    const e = await eventFor('r-reset');
    expect(outcomes(e)).toEqual(['a-primary:reset', 'a-primary:reset', 'a-backup:answered:200']);
    expect(e.usage?.estimated).toBe(false);
    expect(e.usage?.output_tokens).toBeGreaterThan(0);
  });

  it('a target that stalls before its first token is left at first_token_timeout_ms, without a second wait', async () => {
    // message_start, an empty content_block_start and a ping, as Anthropic opens a stream; then nothing.
    stack.fake.setFault({ kind: 'stall', afterFrames: 3 });
    const { status, text, ms } = await messagesStream('r-stall');
    expect(status).toBe(200);
    expect(text).toContain('fallback');
    expect(text.match(/event: message_start/g)).toHaveLength(1);
    expect(ms).toBeGreaterThanOrEqual(390);
    expect(ms).toBeLessThan(1500);
    const e = await eventFor('r-stall');
    expect(outcomes(e)).toEqual(['a-primary:first_token_timeout', 'a-backup:answered:200']);
    expect(e.attempts![0]!.latency_ms).toBeGreaterThanOrEqual(390);
  });

  it('a chat stream that stalls after its role chunk is served by the fallback through the SDK', async () => {
    stack.fake.setFault({ kind: 'stall', afterFrames: 1 });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined | null;
    const stream = await client('r-chat-stall').chat.completions.create({ model: 'gpt-4o', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] });
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('answered by the fallback');
    const e = await eventFor('r-chat-stall');
    expect(outcomes(e)).toEqual(['primary:first_token_timeout', 'backup:answered:200']);
    expect(e.usage).toMatchObject({ input_tokens: usage!.prompt_tokens, output_tokens: usage!.completion_tokens, estimated: false });
  });

  it('a stream that opens with an overloaded error frame instead of a token is retried, then served by the fallback', async () => {
    const start = 'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"m","usage":{"input_tokens":1,"output_tokens":1}}}\n\n';
    const overloaded = 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n';
    stack.fake.setFault({ kind: 'raw', headers: { 'content-type': 'text/event-stream' }, chunks: [start, overloaded] });
    const { status, text } = await messagesStream('r-overloaded');
    expect(status).toBe(200);
    expect(text).toContain('fallback');
    expect(text).not.toContain('overloaded_error');
    const e = await eventFor('r-overloaded');
    expect(outcomes(e)).toEqual(['a-primary:stream_error', 'a-primary:stream_error', 'a-backup:answered:200']);
  });

  it('with nothing left to try, a stream is passed on from its first byte, not held for its first token', async () => {
    stack.fake.setFault({ kind: 'stall', afterFrames: 1 });
    const ac = new AbortController();
    const res = await request(`${stack.gateway.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': 'k', 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-last', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      signal: ac.signal,
    });
    expect(res.statusCode).toBe(200);
    const first = await new Promise<string>((resolve) => res.body.once('data', (c: Buffer) => resolve(c.toString())));
    expect(first).toContain('event: message_start');
    ac.abort();
    await res.body.dump().catch(() => undefined);
  });

  it('a stream that breaks after its first token reached the client is not retried: it ends with an error frame', async () => {
    stack.fake.setFault({ kind: 'cut', afterFrames: 4 });
    const { status, text } = await messagesStream('r-cut-late');
    expect(status).toBe(200);
    expect(text).toContain('event: content_block_delta');
    expect(text.trimEnd()).toMatch(/event: error\ndata: \{"type":"error","error":\{"type":"api_error"/);
    expect(stack.fake.requests).toHaveLength(1);
    expect(fallback.requests).toHaveLength(0);
    const e = await eventFor('r-cut-late');
    expect(e.attempts).toBeUndefined();
    expect(e.reason_code).toBe('upstream_cut');
  });
});

describe('a target nothing answers', () => {
  it('is an error naming the target after its retries, with every try on the event', async () => {
    const res = await request(`${stack.openaiBase}/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer k', 'content-type': 'application/json', 'x-request-id': 'r-dead' },
      body: JSON.stringify({ model: 'dead-model', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.statusCode).toBe(502);
    expect(await res.body.json()).toMatchObject({ error: { code: 'upstream_unreachable', message: expect.stringContaining('target "dead"') } });
    const e = await eventFor('r-dead');
    expect(outcomes(e)).toEqual(['dead:unreachable', 'dead:unreachable']);
  });
});

describe('circuit breaker', () => {
  let local: Stack;
  let backup: FakeUpstream;
  const localDir = mkdtempSync(join(tmpdir(), 'kt-breaker-'));
  const chat = (model: string, requestId: string) =>
    request(`${local.openaiBase}/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer k', 'content-type': 'application/json', 'x-request-id': requestId },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
    });
  const events = async () => {
    await local.trail!.recorder.caughtUp();
    const store = new SqliteEventStore(join(localDir, 'events.db'), { readonly: true });
    try {
      return new Map((await store.query({ order: 'asc', limit: 100 })).map((e) => [e.event.request_id, e.event]));
    } finally {
      await store.close();
    }
  };
  const health = async () => (await (await request(`${local.gateway.url}/health`, asOperator)).body.json()) as { targets: Array<{ id: string; circuit: { state: string } }> };
  const circuit = async (id: string) => (await health()).targets.find((t) => t.id === id)!.circuit.state;

  beforeAll(async () => {
    backup = await startFakeUpstream({ replyText: 'answered by the fallback' });
    local = await startStack({
      config: `pack: {name: breaker, version: "1"}
policies:
  chain: [audit-logger]
providers:
  strategy: fallback
  retry: {max_retries: 1, initial_backoff_ms: 10, max_backoff_ms: 20}
  circuit_breaker: {failures: 2, window_ms: 10000, cooldown_ms: 400}
  targets:
    - {id: primary, provider: openai-compatible, model: gpt-4o, base_url: "FAKE_URL/v1"}
    - {id: backup, provider: openai-compatible, model: gpt-4o, base_url: "${backup.url}/v1"}
    - {id: solo, provider: openai-compatible, model: solo-model, base_url: "FAKE_URL/solo/v1", circuit_breaker: {failures: 1}}
`,
      audit: { dataDir: localDir },
      gateway: { metricsToken: TOKEN },
    });
  });
  afterAll(async () => {
    await local?.close();
    await backup?.close();
  });

  it('opens after its failures, skips the target while open, probes after the cool-down and closes on success', async () => {
    local.fake.setFault({ kind: 'status', status: 500 });
    const first = await chat('gpt-4o', 'b-1');
    expect(first.statusCode).toBe(200);
    await first.body.dump();
    expect(await circuit('primary')).toBe('open');
    const metrics = await (await request(`${local.gateway.url}/metrics`, asOperator)).body.text();
    expect(metrics).toMatch(/keeptrusts_target_circuit_state\{target="primary"\} 2/);
    expect(metrics).toMatch(/keeptrusts_target_circuit_state\{target="backup"\} 0/);
    expect(metrics).toMatch(/keeptrusts_upstream_failed_attempts_total\{target="primary",outcome="status"\} 2/);

    const before = local.fake.requests.length;
    const t0 = performance.now();
    const second = await chat('gpt-4o', 'b-2');
    expect(second.statusCode).toBe(200);
    await second.body.dump();
    expect(performance.now() - t0).toBeLessThan(300);
    expect(local.fake.requests.length).toBe(before); // skipped, not called

    await new Promise((r) => setTimeout(r, 450));
    expect(await circuit('primary')).toBe('half_open');
    local.fake.setFault(null);
    const third = await chat('gpt-4o', 'b-3');
    expect(await third.body.json()).toMatchObject({ choices: [{ message: { content: 'Hello from fake upstream!' } }] });
    expect(await circuit('primary')).toBe('closed');

    const byId = await events();
    expect(outcomes(byId.get('b-1')!)).toEqual(['primary:status:500', 'primary:status:500', 'backup:answered:200']);
    expect(outcomes(byId.get('b-2')!)).toEqual(['primary:circuit_open', 'backup:answered:200']);
    expect(byId.get('b-3')!.attempts).toBeUndefined();
    expect(byId.get('b-3')!.target?.id).toBe('primary');
  });

  it('when every candidate is open, answers 503 at once with Retry-After instead of waiting on a dead target', async () => {
    local.fake.setFault({ kind: 'status', status: 502 });
    const first = await chat('solo-model', 'b-solo-1');
    expect(first.statusCode).toBe(502); // the provider's answer, passed on: the retry found the circuit open
    await first.body.dump();
    const second = await chat('solo-model', 'b-solo-2');
    expect(second.statusCode).toBe(503);
    expect(second.headers['retry-after']).toBe('1');
    expect(await second.body.json()).toMatchObject({ error: { code: 'upstream_unavailable' } });
    const byId = await events();
    expect(outcomes(byId.get('b-solo-1')!)).toEqual(['solo:answered:502', 'solo:circuit_open']);
    expect(outcomes(byId.get('b-solo-2')!)).toEqual(['solo:circuit_open']);
  });
});
