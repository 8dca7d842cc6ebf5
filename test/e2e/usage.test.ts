import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DecisionEvent } from '../../src/audit/event.js';
import { startStack, type Stack } from '../helpers/stack.js';

const CONFIG = `pack: {name: usage, version: "1"}
policies: {chain: [code-sanitizer, audit-logger]}
pricing:
  models:
    my-local-model: {input: 1, output: 2}
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "FAKE_URL/v1"}
    - {id: a, provider: anthropic, base_url: "FAKE_URL"}
`;

/** List prices per million tokens from the catalogue, written out so the test checks the arithmetic. */
const GPT_4O = { input: 2.5, cached: 1.25, output: 10 };
const SONNET_4 = { input: 3, cached: 0.3, write: 3.75, output: 15 };

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ config: CONFIG, audit: { dataDir: mkdtempSync(join(tmpdir(), 'kt-usage-')) } });
});
afterAll(() => stack.close());
beforeEach(() => stack.fake.reset());

async function eventFor(requestId: string): Promise<DecisionEvent> {
  await stack.trail!.recorder.caughtUp();
  const rows = await stack.trail!.store.query({ limit: 50 });
  const e = rows.find((r) => r.event.request_id === requestId)?.event;
  if (!e) throw new Error(`no event for ${requestId}`);
  return e;
}

const close = (a: number | null | undefined, b: number) => expect(a).toBeCloseTo(b, 8);

describe('cost on the event = provider usage × catalogue price', () => {
  it('OpenAI chat, plain and streamed; cached tokens priced as cached; the usage chunk the client did not ask for stays hidden', async () => {
    stack.fake.setUsage({ cachedTokens: 40 });
    const c = new OpenAI({ baseURL: stack.openaiBase, apiKey: 'k', maxRetries: 0, defaultHeaders: { 'x-request-id': 'chat-plain' } });
    const plain = await c.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'count my tokens please' }] });
    const u = plain.usage!;
    const cached = u.prompt_tokens_details!.cached_tokens!;
    expect(cached).toBe(40);
    const expected = ((u.prompt_tokens - cached) * GPT_4O.input + cached * GPT_4O.cached + u.completion_tokens * GPT_4O.output) / 1e6;
    const e1 = await eventFor('chat-plain');
    expect(e1.usage).toMatchObject({ input_tokens: u.prompt_tokens, cached_input_tokens: 40, output_tokens: u.completion_tokens, estimated: false });
    close(e1.cost!.total, expected);
    expect(e1.cost!.priced).toBe(true);

    // Streamed, without stream_options: the gateway asks for usage and drops the extra chunk.
    const res = await request(`${stack.openaiBase}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer k', 'x-request-id': 'chat-stream' },
      body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'count my tokens please' }] }),
    });
    const sse = await res.body.text();
    expect(sse).toContain('[DONE]');
    expect(sse).not.toContain('"usage":{');
    expect((stack.fake.requests.at(-1)!.body as { stream_options?: unknown }).stream_options).toEqual({ include_usage: true });
    const e2 = await eventFor('chat-stream');
    expect(e2.usage).toMatchObject({ input_tokens: u.prompt_tokens, cached_input_tokens: 40, output_tokens: u.completion_tokens, estimated: false });
    close(e2.cost!.total, expected);
  });

  it('a client that asked for usage still gets its usage chunk', async () => {
    const c = new OpenAI({ baseURL: stack.openaiBase, apiKey: 'k', maxRetries: 0 });
    const stream = await c.chat.completions.create({ model: 'gpt-4o', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] });
    let usage: unknown;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    expect(usage).toMatchObject({ prompt_tokens: expect.any(Number) });
  });

  it('Anthropic messages, plain and streamed: cache reads and writes priced as such', async () => {
    stack.fake.setUsage({ cachedTokens: 100, cacheWriteTokens: 50 });
    const a = new Anthropic({ baseURL: stack.anthropicBase, apiKey: 'k', maxRetries: 0, defaultHeaders: { 'x-request-id': 'msg-plain' } });
    const plain = await a.messages.create({ model: 'claude-sonnet-4-20250514', max_tokens: 64, messages: [{ role: 'user', content: 'count my tokens please' }] });
    const u = plain.usage;
    const expected = (u.input_tokens * SONNET_4.input + 100 * SONNET_4.cached + 50 * SONNET_4.write + u.output_tokens * SONNET_4.output) / 1e6;
    const e1 = await eventFor('msg-plain');
    expect(e1.usage).toMatchObject({ input_tokens: u.input_tokens + 150, cached_input_tokens: 100, cache_write_tokens: 50, output_tokens: u.output_tokens, estimated: false });
    close(e1.cost!.total, expected);

    const s = new Anthropic({ baseURL: stack.anthropicBase, apiKey: 'k', maxRetries: 0, defaultHeaders: { 'x-request-id': 'msg-stream' } });
    await s.messages.stream({ model: 'claude-sonnet-4-20250514', max_tokens: 64, messages: [{ role: 'user', content: 'count my tokens please' }] }).finalMessage();
    const e2 = await eventFor('msg-stream');
    expect(e2.usage).toMatchObject({ input_tokens: u.input_tokens + 150, cached_input_tokens: 100, cache_write_tokens: 50, output_tokens: u.output_tokens, estimated: false });
    close(e2.cost!.total, expected);
  });

  it('OpenAI Responses, plain and streamed', async () => {
    stack.fake.setUsage({ cachedTokens: 10, reasoningTokens: 5 });
    const c = new OpenAI({ baseURL: stack.openaiBase, apiKey: 'k', maxRetries: 0, defaultHeaders: { 'x-request-id': 'resp-plain' } });
    const plain = await c.responses.create({ model: 'gpt-4o', input: 'count my tokens please' });
    const u = plain.usage!;
    const expected = ((u.input_tokens - 10) * GPT_4O.input + 10 * GPT_4O.cached + u.output_tokens * GPT_4O.output) / 1e6;
    const e1 = await eventFor('resp-plain');
    expect(e1.usage).toMatchObject({ input_tokens: u.input_tokens, cached_input_tokens: 10, output_tokens: u.output_tokens, reasoning_tokens: 5 });
    close(e1.cost!.total, expected);
    const st = await new OpenAI({ baseURL: stack.openaiBase, apiKey: 'k', maxRetries: 0, defaultHeaders: { 'x-request-id': 'resp-stream' } }).responses.create({
      model: 'gpt-4o',
      input: 'count my tokens please',
      stream: true,
    });
    for await (const _ of st) void _;
    close((await eventFor('resp-stream')).cost!.total, expected);
  });

  it('an unknown model is unpriced (null, never 0); a price from the config is used', async () => {
    const c = new OpenAI({ baseURL: stack.openaiBase, apiKey: 'k', maxRetries: 0, defaultHeaders: { 'x-request-id': 'unknown-model' } });
    await c.chat.completions.create({ model: 'totally-new-model-9', messages: [{ role: 'user', content: 'hi' }] });
    expect((await eventFor('unknown-model')).cost).toMatchObject({ priced: false, total: null });
    const d = new OpenAI({ baseURL: stack.openaiBase, apiKey: 'k', maxRetries: 0, defaultHeaders: { 'x-request-id': 'local-model' } });
    const r = await d.chat.completions.create({ model: 'my-local-model', messages: [{ role: 'user', content: 'hi' }] });
    close((await eventFor('local-model')).cost!.total, (r.usage!.prompt_tokens * 1 + r.usage!.completion_tokens * 2) / 1e6);
  });

  it('a stream the client cancels is billed for what was produced, marked estimated', async () => {
    stack.fake.setReplyText('lorem ipsum dolor sit amet '.repeat(200));
    stack.fake.setFault({ kind: 'slow', chunkDelayMs: 5 }, { times: 1 });
    const controller = new AbortController();
    const c = new OpenAI({ baseURL: stack.openaiBase, apiKey: 'k', maxRetries: 0, defaultHeaders: { 'x-request-id': 'cancelled' } });
    const stream = await c.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'write a lot' }] }, { signal: controller.signal });
    let seen = 0;
    await (async () => {
      for await (const chunk of stream) {
        seen += chunk.choices[0]?.delta.content?.length ?? 0;
        if (seen > 200) controller.abort();
      }
    })().catch(() => undefined);
    let e: DecisionEvent | undefined;
    for (let i = 0; i < 50 && !e; i++) {
      e = await eventFor('cancelled').catch(() => undefined);
      if (!e) await new Promise((r) => setTimeout(r, 100));
    }
    expect(e!.status).toBe(499);
    expect(e!.usage).toMatchObject({ estimated: true });
    expect(e!.usage!.output_tokens).toBeGreaterThan(10);
    expect(e!.cost!.total).toBeGreaterThan(0);
  });
});
