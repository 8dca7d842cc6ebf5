import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;
let client: OpenAI;

beforeAll(async () => {
  stack = await startStack();
  client = new OpenAI({ baseURL: stack.openaiBase, apiKey: 'sk-client-key', maxRetries: 0 });
});
afterAll(() => stack.close());
beforeEach(() => stack.fake.reset());

const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [
  { type: 'function', function: { name: 'run_shell', description: 'run a command', parameters: { type: 'object', properties: { command: { type: 'string' } } } } },
];

describe('openai SDK through the gateway', () => {
  it('chat completion, plain', async () => {
    const res = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Say hello' }] });
    expect(res.choices[0]!.message.content).toBe('Hello from fake upstream!');
    expect(res.usage?.total_tokens).toBeGreaterThan(0);
    const seen = stack.fake.requests.at(-1)!;
    expect(seen.path).toBe('/v1/chat/completions');
    expect(seen.headers.authorization).toBe('Bearer sk-client-key');
    expect(seen.headers['user-agent']).toMatch(/^OpenAI\/JS/);
  });

  it('chat completion, streamed, with the usage chunk when asked', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Say hello' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage = 0;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      usage = chunk.usage?.total_tokens ?? usage;
    }
    expect(text).toBe('Hello from fake upstream!');
    expect(usage).toBeGreaterThan(0);
    expect(stack.fake.requests.at(-1)!.headers.accept).toBe('application/json'); // stream decided by the body
  });

  it('chat completion with tools, plain and streamed', async () => {
    const plain = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'TOOLTEST please' }], tools });
    const call = plain.choices[0]!.message.tool_calls![0]!;
    expect(call.type === 'function' && call.function.name).toBe('run_shell');
    expect(plain.choices[0]!.finish_reason).toBe('tool_calls');

    const runner = client.chat.completions.stream({ model: 'gpt-4o', messages: [{ role: 'user', content: 'TOOLTEST please' }], tools });
    const final = await runner.finalChatCompletion();
    const streamed = final.choices[0]!.message.tool_calls![0]!;
    expect(streamed.type === 'function' && JSON.parse(streamed.function.arguments)).toEqual({ command: 'echo hi' });
  });

  it('responses, plain and streamed', async () => {
    const res = await client.responses.create({ model: 'gpt-4o', input: 'Say hello', instructions: 'be brief' });
    expect(res.output_text).toBe('Hello from fake upstream!');
    const body = stack.fake.requests.at(-1)!.body as Record<string, unknown>;
    expect(body.instructions).toBe('be brief');

    const stream = await client.responses.create({ model: 'gpt-4o', input: 'Say hello', stream: true });
    let text = '';
    let completed = false;
    for await (const ev of stream) {
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      if (ev.type === 'response.completed') completed = true;
    }
    expect(text).toBe('Hello from fake upstream!');
    expect(completed).toBe(true);
  });

  it('responses with a function call', async () => {
    const res = await client.responses.create({
      model: 'gpt-4o',
      input: [{ role: 'user', content: 'TOOLTEST go' }],
      tools: [{ type: 'function', name: 'exec_command', parameters: { type: 'object', properties: {} }, strict: false }],
    });
    const call = res.output.find((o) => o.type === 'function_call');
    expect(call && call.type === 'function_call' && call.name).toBe('exec_command');
  });

  it('lists the models the OpenAI-format targets serve, then the Anthropic target\'s, which an OpenAI client reaches through translation', async () => {
    const local = await startStack({
      config: `pack: {name: m, version: "1"}
providers:
  targets:
    - {id: a, provider: openai, model: gpt-4o, models: [gpt-4o-mini], aliases: {smart: gpt-4o}, base_url: "FAKE_URL/v1"}
    - {id: b, provider: anthropic, model: claude-sonnet-4-20250514, base_url: "FAKE_URL"}
`,
    });
    try {
      const c = new OpenAI({ baseURL: local.openaiBase, apiKey: 'k', maxRetries: 0 });
      const ids: string[] = [];
      for await (const m of c.models.list()) ids.push(m.id);
      expect(ids).toEqual(['gpt-4o', 'gpt-4o-mini', 'smart', 'claude-sonnet-4-20250514']);
      expect((await c.models.retrieve('smart')).owned_by).toBe('openai');
      expect((await c.models.retrieve('claude-sonnet-4-20250514')).owned_by).toBe('anthropic');
    } finally {
      await local.close();
    }
  });

  it('surfaces gateway errors as typed SDK errors in the OpenAI shape', async () => {
    const local = await startStack({
      config: `pack: {name: m, version: "1"}
providers:
  strategy: fallback
  targets:
    - {id: a, provider: openai, model: gpt-4o, base_url: "FAKE_URL/v1"}
`,
    });
    try {
      const c = new OpenAI({ baseURL: local.openaiBase, apiKey: 'k', maxRetries: 0 });
      const err = await c.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
      expect((err as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
      expect((err as Error).message).toMatch(/model "nope" is not served by this gateway; available: gpt-4o/);
    } finally {
      await local.close();
    }
  });

  it('passes upstream rate limits through with Retry-After', async () => {
    stack.fake.setFault({ kind: 'status', status: 429, retryAfter: '7' }, { times: 1 });
    const err = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).headers?.get('retry-after')).toBe('7');
  });
});
