import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import fc from 'fast-check';
import OpenAI from 'openai';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DecisionEvent } from '../../src/audit/event.js';
import { startStack, type Stack } from '../helpers/stack.js';

/**
 * Clients served by a target of the other format: the openai package against an Anthropic target, the
 * @anthropic-ai/sdk package against an OpenAI-format target, through the real gateway and the fake provider.
 */
const CONFIG = `pack: {name: translation, version: "1"}
policies: {chain: [code-sanitizer, audit-logger]}
providers:
  targets:
    - {id: claude, provider: anthropic, base_url: "FAKE_URL", model: claude-sonnet-4-20250514, aliases: {via-claude: claude-sonnet-4-20250514}}
    - {id: gpt, provider: openai-compatible, base_url: "FAKE_URL/v1", model: gpt-4o, aliases: {via-gpt: gpt-4o}}
`;

const STRIPE = 'sk_live_51Hc8YzKq2Lm4Np6Rs8Tu0Vw2Xy4Za6Bc8De0Fg2Hi4Jk6Lm8No';
const REPLY = 'Hello from fake upstream!';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ config: CONFIG, audit: { dataDir: mkdtempSync(join(tmpdir(), 'kt-translate-')) } });
});
afterAll(() => stack.close());
beforeEach(() => stack.fake.reset());

async function eventFor(requestId: string): Promise<DecisionEvent> {
  await stack.trail!.recorder.caughtUp();
  const rows = await stack.trail!.store.query({ limit: 100 });
  const e = rows.find((r) => r.event.request_id === requestId)?.event;
  if (!e) throw new Error(`no event for ${requestId}`);
  return e;
}

const openai = (requestId?: string) => new OpenAI({ baseURL: stack.openaiBase, apiKey: 'sk-client', maxRetries: 0, ...(requestId ? { defaultHeaders: { 'x-request-id': requestId } } : {}) });
const anthropic = (requestId?: string) => new Anthropic({ baseURL: stack.anthropicBase, apiKey: 'sk-ant-client', maxRetries: 0, ...(requestId ? { defaultHeaders: { 'x-request-id': requestId } } : {}) });

const chatTools: OpenAI.Chat.Completions.ChatCompletionTool[] = [{ type: 'function', function: { name: 'Bash', description: 'run a command', parameters: { type: 'object', properties: { command: { type: 'string' } } } } }];
const anthropicTools: Anthropic.Tool[] = [{ name: 'Bash', description: 'run a command', input_schema: { type: 'object', properties: { command: { type: 'string' } } } }];

describe('the openai package against an Anthropic-format target', () => {
  it('plain: the request reaches /v1/messages in Anthropic form; the reply, stop reason and usage come back in OpenAI form; usage on the event from the upstream', async () => {
    stack.fake.setUsage({ cachedTokens: 100, cacheWriteTokens: 20 });
    const res = await openai('o-plain').chat.completions.create({
      model: 'via-claude',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Say hello' },
      ],
    });
    expect(res.choices[0]!.message.content).toBe(REPLY);
    expect(res.choices[0]!.finish_reason).toBe('stop');
    const seen = stack.fake.requests.at(-1)!;
    expect(seen.path).toBe('/v1/messages');
    expect(seen.headers['x-api-key']).toBe('sk-client');
    expect(seen.headers['anthropic-version']).toBe('2023-06-01');
    expect(seen.body).toMatchObject({ model: 'claude-sonnet-4-20250514', system: [{ type: 'text', text: 'Be brief.' }], messages: [{ role: 'user', content: [{ type: 'text', text: 'Say hello' }] }], max_tokens: 16384 });
    const u = res.usage!;
    expect(u.prompt_tokens_details?.cached_tokens).toBe(100);
    const e = await eventFor('o-plain');
    expect(e.route).toBe('chat');
    expect(e.target).toMatchObject({ id: 'claude', provider: 'anthropic' });
    expect(e.usage).toMatchObject({ input_tokens: u.prompt_tokens, cached_input_tokens: 100, cache_write_tokens: 20, output_tokens: u.completion_tokens, estimated: false });
  });

  it('streamed: chunks assemble to the reply; usage on the event is the upstream\'s, and no usage chunk the client did not ask for', async () => {
    stack.fake.setUsage({ cachedTokens: 7 });
    const stream = await openai('o-stream').chat.completions.create({ model: 'via-claude', stream: true, messages: [{ role: 'user', content: 'Say hello' }] });
    let text = '';
    let finish: string | null | undefined;
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(REPLY);
    expect(finish).toBe('stop');
    expect(usage).toBeUndefined();
    const e = await eventFor('o-stream');
    expect(e.usage).toMatchObject({ cached_input_tokens: 7, estimated: false });
    expect(e.usage!.output_tokens).toBeGreaterThan(0);
    // Asked for: the usage chunk comes, in OpenAI's terms.
    const asked = await openai().chat.completions.create({ model: 'via-claude', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Say hello' }] });
    let last: OpenAI.Completions.CompletionUsage | undefined;
    for await (const chunk of asked) if (chunk.usage) last = chunk.usage;
    expect(last).toMatchObject({ prompt_tokens_details: { cached_tokens: 7 } });
  });

  for (const streamed of [false, true]) {
    it(`a tool call round trip, ${streamed ? 'streamed' : 'plain'}: the call's id reaches the tool result upstream`, async () => {
      const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [{ role: 'user', content: 'TOOLTEST please' }];
      const first = streamed
        ? await openai().chat.completions.stream({ model: 'via-claude', messages, tools: chatTools }).finalChatCompletion()
        : await openai().chat.completions.create({ model: 'via-claude', messages, tools: chatTools });
      const choice = first.choices[0]!;
      expect(choice.finish_reason).toBe('tool_calls');
      const call = choice.message.tool_calls![0]! as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall;
      expect(call.function.name).toBe('Bash');
      expect(JSON.parse(call.function.arguments)).toEqual({ command: 'echo hi' });
      messages.push({ role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: call.id, content: 'hi' });
      const second = await openai().chat.completions.create({ model: 'via-claude', messages, tools: chatTools });
      expect(second.choices[0]!.message.content).toBe(REPLY);
      const sent = stack.fake.requests.at(-1)!.body as { messages: Array<{ role: string; content: Array<Record<string, unknown>> }> };
      expect(sent.messages[1]!.content[0]).toMatchObject({ type: 'tool_use', id: call.id, name: 'Bash', input: { command: 'echo hi' } });
      expect(sent.messages[2]).toEqual({ role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'hi' }] });
    });
  }

  it('a secret in the reply is redacted by the output policy, plain and streamed', async () => {
    stack.fake.setReplyText(`Use ${STRIPE} for payments.`);
    const plain = await openai().chat.completions.create({ model: 'via-claude', messages: [{ role: 'user', content: 'key?' }] });
    expect(plain.choices[0]!.message.content).not.toContain(STRIPE);
    expect(plain.choices[0]!.message.content).toContain('[REDACTED');
    const stream = await openai().chat.completions.create({ model: 'via-claude', stream: true, messages: [{ role: 'user', content: 'key?' }] });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).not.toContain(STRIPE);
    expect(text).toContain('[REDACTED');
  });

  it('what Anthropic cannot say is a 400 naming the member; nothing goes upstream', async () => {
    const before = stack.fake.requests.length;
    const err = await openai('o-refused').chat.completions.create({ model: 'via-claude', n: 2, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({ type: 'invalid_request_error', code: 'untranslatable_field', param: 'n' });
    expect(stack.fake.requests.length).toBe(before);
    expect(await eventFor('o-refused')).toMatchObject({ status: 400, verdict: 'block', reason_code: 'untranslatable_field' });
  });

  it('an upstream error comes back in OpenAI\'s shape', async () => {
    // Retry-After over max_retry_after_ms (5 s by default): the gateway does not wait it out, the client gets it.
    stack.fake.setFault({ kind: 'status', status: 429, retryAfter: '30' }, { times: 1 });
    const err = await openai().chat.completions.create({ model: 'via-claude', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).error).toMatchObject({ type: 'rate_limit_error', message: expect.any(String) });
  });
});

describe('the @anthropic-ai/sdk package against an OpenAI-format target', () => {
  it('plain: the request reaches /v1/chat/completions in OpenAI form; the reply and usage come back in Anthropic form; usage on the event from the upstream', async () => {
    stack.fake.setUsage({ cachedTokens: 30 });
    const msg = await anthropic('a-plain').messages.create({ model: 'via-gpt', max_tokens: 64, system: 'Be brief.', messages: [{ role: 'user', content: 'Say hello' }] });
    expect(msg.content).toEqual([{ type: 'text', text: REPLY }]);
    expect(msg.stop_reason).toBe('end_turn');
    expect(msg.usage.cache_read_input_tokens).toBe(30);
    const seen = stack.fake.requests.at(-1)!;
    expect(seen.path).toBe('/v1/chat/completions');
    expect(seen.headers.authorization).toBe('Bearer sk-ant-client');
    expect(seen.headers['anthropic-version']).toBeUndefined();
    expect(seen.body).toMatchObject({ model: 'gpt-4o', max_tokens: 64, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello' }] });
    const e = await eventFor('a-plain');
    expect(e.route).toBe('messages');
    expect(e.target).toMatchObject({ id: 'gpt' });
    expect(e.usage).toMatchObject({ input_tokens: msg.usage.input_tokens + 30, cached_input_tokens: 30, output_tokens: msg.usage.output_tokens, estimated: false });
  });

  it('streamed: events assemble to the reply, with usage; the upstream was asked for usage', async () => {
    stack.fake.setUsage({ cachedTokens: 5 });
    const stream = anthropic('a-stream').messages.stream({ model: 'via-gpt', max_tokens: 64, messages: [{ role: 'user', content: 'Say hello' }] });
    const events: string[] = [];
    stream.on('streamEvent', (e) => events.push(e.type));
    const final = await stream.finalMessage();
    expect(final.content).toEqual([{ type: 'text', text: REPLY, ...(final.content[0] && 'citations' in final.content[0] ? { citations: final.content[0].citations } : {}) }]);
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.output_tokens).toBeGreaterThan(0);
    expect(events[0]).toBe('message_start');
    expect(events.at(-1)).toBe('message_stop');
    expect((stack.fake.requests.at(-1)!.body as Record<string, unknown>).stream_options).toEqual({ include_usage: true });
    const e = await eventFor('a-stream');
    expect(e.usage).toMatchObject({ cached_input_tokens: 5, output_tokens: final.usage.output_tokens, estimated: false });
  });

  for (const streamed of [false, true]) {
    it(`a tool call round trip, ${streamed ? 'streamed' : 'plain'}: the call's id reaches the tool message upstream`, async () => {
      const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'TOOLTEST please' }];
      const params = { model: 'via-gpt', max_tokens: 64, tools: anthropicTools, messages };
      const first = streamed ? await anthropic().messages.stream(params).finalMessage() : await anthropic().messages.create(params);
      expect(first.stop_reason).toBe('tool_use');
      const use = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!;
      expect(use).toMatchObject({ name: 'Bash', input: { command: 'echo hi' } });
      messages.push({ role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'hi' }] });
      const second = await anthropic().messages.create({ ...params, messages });
      expect(second.content).toEqual([{ type: 'text', text: REPLY }]);
      const sent = stack.fake.requests.at(-1)!.body as { messages: Array<Record<string, unknown>> };
      expect(sent.messages[1]).toMatchObject({ role: 'assistant', tool_calls: [{ id: use.id, type: 'function', function: { name: 'Bash' } }] });
      expect(sent.messages[2]).toEqual({ role: 'tool', tool_call_id: use.id, content: 'hi' });
    });
  }

  it('a Claude Code turn (betas, ?beta=true, system messages among the turns, adaptive thinking, effort) reaches the OpenAI target as chat and streams back as Anthropic events', async () => {
    const res = await request(`${stack.anthropicBase}/v1/messages?beta=true`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': 'sk-ant-client',
        'anthropic-version': '2023-06-01',
        'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27',
        'anthropic-dangerous-direct-browser-access': 'true',
        'x-app': 'cli',
      },
      body: JSON.stringify({
        model: 'via-gpt',
        max_tokens: 32000,
        stream: true,
        system: [
          { type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1.332;' },
          { type: 'text', text: 'You are a Claude agent.', cache_control: { type: 'ephemeral' } },
        ],
        messages: [
          { role: 'system', content: 'Environment: linux' },
          { role: 'user', content: [{ type: 'text', text: '<system-reminder>ok</system-reminder>' }, { type: 'text', text: 'TOOLTEST run ls', cache_control: { type: 'ephemeral' } }] },
        ],
        tools: [{ name: 'Bash', description: 'run', input_schema: { type: 'object', properties: { command: { type: 'string' } } } }],
        metadata: { user_id: '{"device_id":"d","session_id":"s"}' },
        thinking: { type: 'adaptive', display: 'omitted' },
        context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] },
        output_config: { effort: 'medium' },
      }),
    });
    const sse = await res.body.text();
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/event-stream/);
    const events = [...sse.matchAll(/^event: (.+)$/gm)].map((m) => m[1]);
    expect(events[0]).toBe('message_start');
    expect(events).toContain('content_block_start');
    expect(events.slice(-2)).toEqual(['message_delta', 'message_stop']);
    expect(sse).toContain('"stop_reason":"tool_use"');
    expect(sse).toContain('"type":"input_json_delta"');
    const seen = stack.fake.requests.at(-1)!;
    expect(seen.path).toBe('/v1/chat/completions');
    expect(seen.query).toEqual({});
    expect(Object.keys(seen.headers).filter((h) => h.startsWith('anthropic-'))).toEqual([]);
    expect(seen.body).toMatchObject({ model: 'gpt-4o', max_tokens: 32000, reasoning_effort: 'medium', stream_options: { include_usage: true } });
    expect((seen.body as { messages: Array<{ role: string }> }).messages.map((m) => m.role)).toEqual(['system', 'system', 'user']);
  });

  it('parallel tool calls streamed by the upstream become one tool_use block each, ids kept', async () => {
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) => `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const sse = [
      chunk({ role: 'assistant', content: null }),
      chunk({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'Bash', arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"command":"l' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: 's"}' } }] }),
      chunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'Bash', arguments: '{"command":"pwd"}' } }] }),
      chunk({}, 'tool_calls'),
      `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', choices: [], usage: { prompt_tokens: 12, completion_tokens: 8, total_tokens: 20 } })}\n\n`,
      'data: [DONE]\n\n',
    ];
    stack.fake.setFault({ kind: 'raw', headers: { 'content-type': 'text/event-stream' }, chunks: sse.join('').match(/[\s\S]{1,37}/g)! }, { times: 1 });
    const final = await anthropic().messages.stream({ model: 'via-gpt', max_tokens: 64, tools: anthropicTools, messages: [{ role: 'user', content: 'two things' }] }).finalMessage();
    expect(final.content).toEqual([
      { type: 'tool_use', id: 'call_a', name: 'Bash', input: { command: 'ls' } },
      { type: 'tool_use', id: 'call_b', name: 'Bash', input: { command: 'pwd' } },
    ]);
    expect(final.stop_reason).toBe('tool_use');
    expect(final.usage).toMatchObject({ input_tokens: 12, output_tokens: 8 });
  });

  it('a secret in the reply is redacted by the output policy, plain and streamed', async () => {
    stack.fake.setReplyText(`Use ${STRIPE} for payments.`);
    const plain = await anthropic().messages.create({ model: 'via-gpt', max_tokens: 64, messages: [{ role: 'user', content: 'key?' }] });
    const text = (plain.content[0] as Anthropic.TextBlock).text;
    expect(text).not.toContain(STRIPE);
    expect(text).toContain('[REDACTED');
    const final = await anthropic().messages.stream({ model: 'via-gpt', max_tokens: 64, messages: [{ role: 'user', content: 'key?' }] }).finalMessage();
    const streamed = (final.content[0] as Anthropic.TextBlock).text;
    expect(streamed).not.toContain(STRIPE);
    expect(streamed).toContain('[REDACTED');
  });

  it('what OpenAI chat cannot say is a 400 naming the member, in Anthropic\'s shape', async () => {
    const err = await anthropic().messages.create({ model: 'via-gpt', max_tokens: 64, top_k: 3, messages: [{ role: 'user', content: 'hi' }] } as Anthropic.MessageCreateParamsNonStreaming).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect((err as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', code: 'untranslatable_field' } });
    expect((err as Error).message).toContain('top_k');
  });

  it('an upstream error comes back in Anthropic\'s shape', async () => {
    stack.fake.setFault({ kind: 'status', status: 401 }, { times: 1 });
    const err = await anthropic().messages.create({ model: 'via-gpt', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((err as InstanceType<typeof Anthropic.AuthenticationError>).error).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
  });
});

describe('translated replies nothing else reads (no output policy, no capture): translated without a second parse, still metered', () => {
  let bare: Stack;
  beforeAll(async () => {
    bare = await startStack({ config: CONFIG.replace('[code-sanitizer, audit-logger]', '[audit-logger]'), audit: { dataDir: mkdtempSync(join(tmpdir(), 'kt-translate-bare-')) } });
  });
  afterAll(() => bare.close());

  async function bareEvent(requestId: string): Promise<DecisionEvent> {
    await bare.trail!.recorder.caughtUp();
    const rows = await bare.trail!.store.query({ limit: 100 });
    const e = rows.find((r) => r.event.request_id === requestId)?.event;
    if (!e) throw new Error(`no event for ${requestId}`);
    return e;
  }

  it('openai streamed and plain against the Anthropic target', async () => {
    bare.fake.setUsage({ cachedTokens: 11 });
    const c = new OpenAI({ baseURL: bare.openaiBase, apiKey: 'k', maxRetries: 0, defaultHeaders: { 'x-request-id': 'bare-o' } });
    const stream = await c.chat.completions.create({ model: 'via-claude', stream: true, messages: [{ role: 'user', content: 'Say hello' }] });
    let text = '';
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(REPLY);
    expect(usage).toBeUndefined();
    expect((await bareEvent('bare-o')).usage).toMatchObject({ cached_input_tokens: 11, estimated: false });
    const plain = await c.chat.completions.create({ model: 'via-claude', messages: [{ role: 'user', content: 'Say hello' }] });
    expect(plain.choices[0]!.message.content).toBe(REPLY);
  });

  it('anthropic streamed (a tool call) and plain against the OpenAI-format target', async () => {
    const a = new Anthropic({ baseURL: bare.anthropicBase, apiKey: 'k', maxRetries: 0, defaultHeaders: { 'x-request-id': 'bare-a' } });
    const final = await a.messages.stream({ model: 'via-gpt', max_tokens: 64, tools: anthropicTools, messages: [{ role: 'user', content: 'TOOLTEST' }] }).finalMessage();
    expect(final.content.find((b) => b.type === 'tool_use')).toMatchObject({ name: 'Bash', input: { command: 'echo hi' } });
    expect((await bareEvent('bare-a')).usage).toMatchObject({ output_tokens: final.usage.output_tokens, estimated: false });
    const plain = await a.messages.create({ model: 'via-gpt', max_tokens: 64, messages: [{ role: 'user', content: 'Say hello' }] });
    expect(plain.content).toEqual([{ type: 'text', text: REPLY }]);
  });
});

describe('any split of the upstream stream, through the gateway', () => {
  /** The upstream's stream as raw bytes cut at the given points (the fake sends each piece as its own write). */
  function cutAt(text: string, cuts: number[]): string[] {
    const points = [...new Set(cuts.map((c) => c % text.length))].filter((c) => c > 0).sort((a, b) => a - b);
    const out: string[] = [];
    let at = 0;
    for (const p of points) {
      out.push(text.slice(at, p));
      at = p;
    }
    out.push(text.slice(at));
    return out;
  }

  it('property: an Anthropic client on the OpenAI-format target gets the same message however the chat stream is cut', async () => {
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) => `data: ${JSON.stringify({ id: 'c9', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const sse =
      chunk({ role: 'assistant', content: '' }) +
      chunk({ content: 'Checking ' }) +
      chunk({ content: 'both — ünïcode ✓.' }) +
      chunk({ tool_calls: [{ index: 0, id: 'call_x', type: 'function', function: { name: 'Bash', arguments: '{"comm' } }] }) +
      chunk({ tool_calls: [{ index: 0, function: { arguments: 'and":"ls -la"}' } }] }) +
      chunk({ tool_calls: [{ index: 1, id: 'call_y', type: 'function', function: { name: 'Bash', arguments: '{"command":"pwd"}' } }] }) +
      chunk({}, 'tool_calls') +
      `data: ${JSON.stringify({ id: 'c9', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', choices: [], usage: { prompt_tokens: 40, completion_tokens: 12, prompt_tokens_details: { cached_tokens: 8 } } })}\n\n` +
      'data: [DONE]\n\n';
    const bytes = Buffer.from(sse);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { maxLength: 10 }), async (cuts) => {
        const points = [...new Set(cuts.map((c) => c % bytes.length))].filter((c) => c > 0).sort((a, b) => a - b);
        const pieces: Buffer[] = [];
        let at = 0;
        for (const p of points) {
          pieces.push(bytes.subarray(at, p));
          at = p;
        }
        pieces.push(bytes.subarray(at));
        stack.fake.setFault({ kind: 'raw', headers: { 'content-type': 'text/event-stream' }, chunks: pieces, gapMs: 1 }, { times: 1 });
        const final = await anthropic().messages.stream({ model: 'via-gpt', max_tokens: 64, tools: anthropicTools, messages: [{ role: 'user', content: 'go' }] }).finalMessage();
        expect(final.content).toEqual([
          { type: 'text', text: 'Checking both — ünïcode ✓.', ...('citations' in final.content[0]! ? { citations: (final.content[0] as Anthropic.TextBlock).citations } : {}) },
          { type: 'tool_use', id: 'call_x', name: 'Bash', input: { command: 'ls -la' } },
          { type: 'tool_use', id: 'call_y', name: 'Bash', input: { command: 'pwd' } },
        ]);
        expect(final.stop_reason).toBe('tool_use');
        expect(final.usage).toMatchObject({ input_tokens: 32, output_tokens: 12, cache_read_input_tokens: 8 });
      }),
      { numRuns: 12 },
    );
  });

  it('property: an OpenAI client on the Anthropic target gets the same completion however the Anthropic stream is cut', async () => {
    const ev = (type: string, obj: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...obj })}\n\n`;
    const sse =
      ev('message_start', { message: { id: 'msg_9', type: 'message', role: 'assistant', model: 'claude-x', content: [], usage: { input_tokens: 9, cache_read_input_tokens: 4, output_tokens: 1 } } }) +
      ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) +
      ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Running — ✓ ' } }) +
      ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'two.' } }) +
      ev('content_block_stop', { index: 0 }) +
      ev('content_block_start', { index: 1, content_block: { type: 'tool_use', id: 'toolu_a', name: 'Bash', input: {} } }) +
      ev('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '{"command":' } }) +
      ev('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '"ls"}' } }) +
      ev('content_block_stop', { index: 1 }) +
      ev('content_block_start', { index: 2, content_block: { type: 'tool_use', id: 'toolu_b', name: 'Bash', input: {} } }) +
      ev('content_block_delta', { index: 2, delta: { type: 'input_json_delta', partial_json: '{"command":"pwd"}' } }) +
      ev('content_block_stop', { index: 2 }) +
      ev('message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 21 } }) +
      ev('message_stop', {});
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { maxLength: 10 }), async (cuts) => {
        stack.fake.setFault({ kind: 'raw', headers: { 'content-type': 'text/event-stream' }, chunks: cutAt(sse, cuts), gapMs: 1 }, { times: 1 });
        const final = await openai().chat.completions.stream({ model: 'via-claude', tools: chatTools, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'go' }] }).finalChatCompletion();
        const m = final.choices[0]!.message;
        expect(m.content).toBe('Running — ✓ two.');
        expect(m.tool_calls).toEqual([
          { id: 'toolu_a', type: 'function', function: { name: 'Bash', arguments: '{"command":"ls"}' } },
          { id: 'toolu_b', type: 'function', function: { name: 'Bash', arguments: '{"command":"pwd"}' } },
        ]);
        expect(final.choices[0]!.finish_reason).toBe('tool_calls');
        expect(final.usage).toMatchObject({ prompt_tokens: 13, completion_tokens: 21, prompt_tokens_details: { cached_tokens: 4 } });
      }),
      { numRuns: 12 },
    );
  });
});

describe('an output block on a translated stream ends it in the client\'s own shape', () => {
  let local: Stack;
  beforeAll(async () => {
    local = await startStack({
      config: `pack: {name: translation-block, version: "1"}
policies: {chain: [code-sanitizer]}
policy:
  code-sanitizer:
    block_on_match: true
    apply_to: output
providers:
  targets:
    - {id: claude, provider: anthropic, base_url: "FAKE_URL", model: claude-sonnet-4-20250514, aliases: {via-claude: claude-sonnet-4-20250514}}
    - {id: gpt, provider: openai-compatible, base_url: "FAKE_URL/v1", model: gpt-4o, aliases: {via-gpt: gpt-4o}}
`,
      fake: { replyText: `Here you go: ${STRIPE} and more text after it.`, chunkSize: 5 },
    });
  });
  afterAll(() => local.close());

  it('openai chat stream from the Anthropic target: an APIError, the key never arrives', async () => {
    const c = new OpenAI({ baseURL: local.openaiBase, apiKey: 'k', maxRetries: 0 });
    const stream = await c.chat.completions.create({ model: 'via-claude', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    let text = '';
    const err = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({ type: 'invalid_request_error', code: 'output_blocked', policy: 'code-sanitizer' });
    expect(text).not.toContain('sk_live');
  });

  it('anthropic stream from the OpenAI-format target: an error event, the key never arrives; not streamed: 400', async () => {
    const a = new Anthropic({ baseURL: local.anthropicBase, apiKey: 'k', maxRetries: 0 });
    let text = '';
    const stream = a.messages.stream({ model: 'via-gpt', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] });
    stream.on('text', (t) => (text += t));
    const err = await stream.finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(String((err as Error).message)).toMatch(/code-sanitizer found SECRET/);
    expect(text).not.toContain('sk_live');
    const plain = await a.messages.create({ model: 'via-gpt', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(plain).toBeInstanceOf(Anthropic.BadRequestError);
    expect((plain as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', code: 'output_blocked' } });
  });
});
