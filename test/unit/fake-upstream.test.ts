import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../../src/testing/fake-upstream.js';

type J = Record<string, any>;

let fake: FakeUpstream;
beforeAll(async () => {
  fake = await startFakeUpstream();
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

async function call(path: string, body?: unknown, headers: Record<string, string> = {}, method = body === undefined ? 'GET' : 'POST') {
  const res = await request(`${fake.url}${path}`, {
    method: method as 'GET',
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
  const buf = Buffer.from(await res.body.arrayBuffer());
  const text = buf.toString('utf8');
  let json: J | undefined;
  try {
    json = JSON.parse(text) as J;
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json, buf };
}

interface Frame {
  event: string | undefined;
  data: string;
}

function parseSse(text: string): Frame[] {
  expect(text.endsWith('\n\n')).toBe(true);
  return text
    .split('\n\n')
    .filter((f) => f !== '')
    .map((f) => {
      let event: string | undefined;
      const data: string[] = [];
      for (const line of f.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
        else throw new Error(`unexpected SSE line ${JSON.stringify(line)}`);
      }
      return { event, data: data.join('\n') };
    });
}

const json = (f: Frame) => JSON.parse(f.data) as J;

const chatTools = [{ type: 'function', function: { name: 'run_shell', parameters: { type: 'object', properties: { command: { type: 'string' } } } } }];
const anthropicTools = [{ name: 'Bash', description: 'run', input_schema: { type: 'object' } }];
const responsesTools = [
  { type: 'web_search' },
  { type: 'function', name: 'exec_command', parameters: { type: 'object', properties: {} } },
];

describe('chat completions', () => {
  it('plain JSON, recorded with family, path, query and parsed body', async () => {
    const r = await call('/v1/chat/completions?x=1', { model: 'gpt-4o', messages: [{ role: 'user', content: 'Say hello' }] });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(Number(r.headers['content-length'])).toBe(r.buf.length);
    expect(r.json).toMatchObject({
      object: 'chat.completion',
      model: 'gpt-4o',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello from fake upstream!' }, finish_reason: 'stop' }],
    });
    expect(r.json!.id).toMatch(/^chatcmpl-/);
    expect(typeof r.json!.created).toBe('number');
    const u = r.json!.usage;
    expect(u.prompt_tokens).toBe(Math.ceil(JSON.stringify([{ role: 'user', content: 'Say hello' }]).length / 4));
    expect(u.completion_tokens).toBe(Math.ceil('Hello from fake upstream!'.length / 4));
    expect(u.total_tokens).toBe(u.prompt_tokens + u.completion_tokens);

    expect(fake.requests).toHaveLength(1);
    const seen = fake.requests[0]!;
    expect(seen).toMatchObject({ method: 'POST', path: '/v1/chat/completions', url: '/v1/chat/completions?x=1', query: { x: '1' }, family: 'chat' });
    expect(seen.body).toEqual({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Say hello' }] });
    expect(seen.headers['content-type']).toBe('application/json');
  });

  it('streams when the body says stream:true, whatever Accept says; role chunk, deltas, finish, usage, [DONE]', async () => {
    const r = await call(
      '/v1/chat/completions',
      { model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] },
      { accept: 'application/json' },
    );
    expect(r.headers['content-type']).toMatch(/^text\/event-stream/);
    const frames = parseSse(r.text);
    expect(frames.every((f) => f.event === undefined)).toBe(true);
    expect(frames.at(-1)!.data).toBe('[DONE]');
    const chunks = frames.slice(0, -1).map(json);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === 'gpt-4o-mini' && c.id === chunks[0]!.id)).toBe(true);
    expect(chunks[0]!.choices[0].delta).toEqual({ role: 'assistant', content: '', refusal: null });
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe('Hello from fake upstream!');
    // 25 characters in chunks of 8 -> 4 content deltas.
    expect(chunks.filter((c) => typeof c.choices[0]?.delta.content === 'string' && c.choices[0].delta.content !== '')).toHaveLength(4);
    const finish = chunks.at(-2)!;
    expect(finish.choices[0]).toMatchObject({ delta: {}, finish_reason: 'stop' });
    const usage = chunks.at(-1)!;
    expect(usage.choices).toEqual([]);
    expect(usage.usage.total_tokens).toBeGreaterThan(0);
  });

  it('no usage chunk without include_usage', async () => {
    const r = await call('/v1/chat/completions', { model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const chunks = parseSse(r.text).slice(0, -1).map(json);
    expect(chunks.every((c) => c.choices.length === 1 && c.usage === undefined)).toBe(true);
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('stop');
  });

  it('tool call on TOOLTEST, plain and streamed; text once the tool result is back', async () => {
    const messages = [{ role: 'user', content: [{ type: 'text', text: 'please TOOLTEST' }] }];
    const plain = await call('/v1/chat/completions', { model: 'm', tools: chatTools, messages });
    const choice = plain.json!.choices[0];
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls).toHaveLength(1);
    expect(choice.message.tool_calls[0]).toMatchObject({ type: 'function', function: { name: 'run_shell' } });
    expect(choice.message.tool_calls[0].id).toMatch(/^call_/);
    expect(JSON.parse(choice.message.tool_calls[0].function.arguments)).toEqual({ command: 'echo hi' });

    const streamed = await call('/v1/chat/completions', { model: 'm', stream: true, tools: chatTools, messages });
    const chunks = parseSse(streamed.text).slice(0, -1).map(json);
    const first = chunks[0]!.choices[0].delta.tool_calls[0];
    expect(first).toMatchObject({ index: 0, type: 'function', function: { name: 'run_shell', arguments: '' } });
    expect(first.id).toMatch(/^call_/);
    const args = chunks.slice(1).map((c) => c.choices[0].delta.tool_calls?.[0].function.arguments ?? '').join('');
    expect(JSON.parse(args)).toEqual({ command: 'echo hi' });
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('tool_calls');

    const after = await call('/v1/chat/completions', {
      model: 'm',
      tools: chatTools,
      messages: [...messages, { role: 'assistant', content: null, tool_calls: [choice.message.tool_calls[0]] }, { role: 'tool', tool_call_id: 'x', content: 'hi' }],
    });
    expect(after.json!.choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: 'Hello from fake upstream!' } });

    const noTools = await call('/v1/chat/completions', { model: 'm', messages });
    expect(noTools.json!.choices[0].finish_reason).toBe('stop');
  });

  it('accepts a path prefix before /v1 and Azure deployment paths', async () => {
    const a = await call('/gw/openai/v1/chat/completions', { model: 'x', messages: [] });
    expect(a.json!.object).toBe('chat.completion');
    const b = await call('/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21', { messages: [{ role: 'user', content: 'hi' }] });
    expect(b.json).toMatchObject({ object: 'chat.completion', model: 'gpt4o' });
    expect(fake.requests.map((r) => [r.path, r.family])).toEqual([
      ['/gw/openai/v1/chat/completions', 'chat'],
      ['/openai/deployments/gpt4o/chat/completions', 'chat'],
    ]);
    expect(fake.requests[1]!.query).toEqual({ 'api-version': '2024-10-21' });
  });

  it('ECHOTEST replies with the last user text (string or parts)', async () => {
    const r = await call('/v1/chat/completions', {
      model: 'm',
      messages: [
        { role: 'user', content: 'old' },
        { role: 'assistant', content: 'x' },
        { role: 'user', content: [{ type: 'text', text: 'ECHOTEST one' }, { type: 'image_url', image_url: { url: 'x' } }, { type: 'text', text: 'two' }] },
      ],
    });
    expect(r.json!.choices[0].message.content).toBe('ECHOTEST one\ntwo');
  });
});

describe('anthropic messages', () => {
  it('plain JSON, with ?beta=true', async () => {
    const r = await call('/v1/messages?beta=true', { model: 'test-model', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }, { 'anthropic-version': '2023-06-01' });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: 'test-model',
      content: [{ type: 'text', text: 'Hello from fake upstream!' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    });
    expect(r.json!.id).toMatch(/^msg_/);
    expect(r.json!.usage.input_tokens).toBeGreaterThan(0);
    expect(r.json!.usage.output_tokens).toBeGreaterThan(0);
    expect(fake.requests[0]).toMatchObject({ path: '/v1/messages', query: { beta: 'true' }, family: 'messages' });
  });

  it('streams with event: lines matching each data type, in the real order', async () => {
    const r = await call('/v1/messages', { model: 'm', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'hi' }] });
    expect(r.headers['content-type']).toMatch(/^text\/event-stream/);
    const frames = parseSse(r.text);
    for (const f of frames) expect(json(f).type).toBe(f.event);
    expect(frames.map((f) => f.event)).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    const start = json(frames[0]!);
    expect(start.message).toMatchObject({ type: 'message', role: 'assistant', model: 'm', content: [], stop_reason: null });
    expect(start.message.usage.input_tokens).toBeGreaterThan(0);
    expect(json(frames[1]!).content_block).toEqual({ type: 'text', text: '' });
    const text = frames.filter((f) => f.event === 'content_block_delta').map((f) => json(f).delta.text as string).join('');
    expect(text).toBe('Hello from fake upstream!');
    expect(json(frames.at(-2)!)).toMatchObject({ delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 7 } });
  });

  it('tool_use on TOOLTEST, plain and streamed; text after a tool_result', async () => {
    const messages = [{ role: 'user', content: [{ type: 'text', text: '<system-reminder>x</system-reminder>' }, { type: 'text', text: 'TOOLTEST' }] }];
    const plain = await call('/v1/messages', { model: 'm', max_tokens: 10, tools: anthropicTools, messages });
    expect(plain.json!.stop_reason).toBe('tool_use');
    expect(plain.json!.content).toHaveLength(1);
    expect(plain.json!.content[0]).toMatchObject({ type: 'tool_use', name: 'Bash', input: { command: 'echo hi' } });
    expect(plain.json!.content[0].id).toMatch(/^toolu_/);

    const streamed = await call('/v1/messages', { model: 'm', max_tokens: 10, stream: true, tools: anthropicTools, messages });
    const frames = parseSse(streamed.text);
    const start = json(frames.find((f) => f.event === 'content_block_start')!);
    expect(start.content_block).toMatchObject({ type: 'tool_use', name: 'Bash', input: {} });
    const deltas = frames.filter((f) => f.event === 'content_block_delta').map(json);
    expect(deltas.every((d) => d.delta.type === 'input_json_delta')).toBe(true);
    expect(JSON.parse(deltas.map((d) => d.delta.partial_json as string).join(''))).toEqual({ command: 'echo hi' });
    expect(frames.map((f) => f.event)).toContain('content_block_stop');
    expect(json(frames.find((f) => f.event === 'message_delta')!).delta.stop_reason).toBe('tool_use');

    const after = await call('/v1/messages', {
      model: 'm',
      max_tokens: 10,
      tools: anthropicTools,
      messages: [
        ...messages,
        { role: 'assistant', content: [plain.json!.content[0]] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: plain.json!.content[0].id, content: 'hi' }, { type: 'text', text: 'TOOLTEST again?' }] },
      ],
    });
    expect(after.json!.stop_reason).toBe('end_turn');
  });

  it('uses toolName / toolInput options', async () => {
    const local = await startFakeUpstream({ toolName: 'Other', toolInput: { cmd: 'ls' }, record: false });
    try {
      const res = await request(`${local.url}/v1/messages`, {
        method: 'POST',
        body: JSON.stringify({ model: 'm', max_tokens: 5, tools: anthropicTools, messages: [{ role: 'user', content: 'TOOLTEST' }] }),
      });
      expect(((await res.body.json()) as J).content[0]).toMatchObject({ name: 'Other', input: { cmd: 'ls' } });
      expect(local.requests).toHaveLength(0);
    } finally {
      await local.close();
    }
  });

  it('ECHOTEST with string content and system messages inside messages', async () => {
    const r = await call('/v1/messages', { model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'ECHOTEST zz' }, { role: 'system', content: 'env' }] });
    expect(r.json!.content[0].text).toBe('ECHOTEST zz');
  });

  it('count_tokens', async () => {
    const r = await call('/v1/messages/count_tokens?beta=true', { model: 'm', messages: [{ role: 'user', content: 'hello there' }] });
    expect(r.status).toBe(200);
    expect(Object.keys(r.json!)).toEqual(['input_tokens']);
    expect(r.json!.input_tokens).toBeGreaterThan(0);
    expect(fake.requests[0]!.family).toBe('count_tokens');
  });
});

describe('responses', () => {
  it('plain JSON with a string input', async () => {
    const r = await call('/v1/responses', { model: 'gpt-4o', input: 'Say hello', instructions: 'be brief' });
    expect(r.json).toMatchObject({
      object: 'response',
      status: 'completed',
      model: 'gpt-4o',
      instructions: 'be brief',
      output: [{ type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'Hello from fake upstream!', annotations: [] }] }],
      usage: { input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: 0 } },
    });
    expect(r.json!.id).toMatch(/^resp_/);
    expect(r.json!.output[0].id).toMatch(/^msg_/);
    expect(typeof r.json!.created_at).toBe('number');
    const u = r.json!.usage;
    expect(u.total_tokens).toBe(u.input_tokens + u.output_tokens);
  });

  it('streams events with type = event name and increasing sequence_number', async () => {
    const r = await call('/v1/responses', { model: 'gpt-5', stream: true, input: [{ role: 'developer', content: 'sys' }, { role: 'user', content: [{ type: 'input_text', text: 'hi' }] }] });
    const frames = parseSse(r.text);
    const events = frames.map(json);
    frames.forEach((f, i) => {
      expect(events[i]!.type).toBe(f.event);
      expect(events[i]!.sequence_number).toBe(i);
    });
    expect(frames.map((f) => f.event)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      ...Array(4).fill('response.output_text.delta'),
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const itemId = events[2]!.item.id as string;
    const deltas = events.filter((e) => e.type === 'response.output_text.delta');
    for (const d of deltas) expect(d).toMatchObject({ item_id: itemId, output_index: 0, content_index: 0 });
    expect(deltas.map((d) => d.delta as string).join('')).toBe('Hello from fake upstream!');
    expect(events[0]!.response).toMatchObject({ status: 'in_progress', output: [] });
    const done = events.at(-1)!.response;
    expect(done).toMatchObject({ status: 'completed', output: [{ id: itemId, content: [{ text: 'Hello from fake upstream!' }] }] });
    expect(done.usage.total_tokens).toBeGreaterThan(0);
  });

  it('function_call on TOOLTEST (first function tool), plain and streamed; text after function_call_output', async () => {
    const input = [{ role: 'user', content: 'TOOLTEST go' }];
    const plain = await call('/v1/responses', { model: 'm', input, tools: responsesTools });
    const item = plain.json!.output[0];
    expect(item).toMatchObject({ type: 'function_call', name: 'exec_command', status: 'completed' });
    expect(item.id).toMatch(/^fc_/);
    expect(item.call_id).toMatch(/^call_/);
    expect(JSON.parse(item.arguments)).toEqual({ command: 'echo hi' });

    const streamed = await call('/v1/responses', { model: 'm', input, tools: responsesTools, stream: true });
    const frames = parseSse(streamed.text);
    const names = frames.map((f) => f.event);
    expect(names.slice(0, 3)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added']);
    expect(names.slice(-3)).toEqual(['response.function_call_arguments.done', 'response.output_item.done', 'response.completed']);
    const events = frames.map(json);
    expect(events[2]!.item).toMatchObject({ type: 'function_call', name: 'exec_command', arguments: '' });
    const args = events.filter((e) => e.type === 'response.function_call_arguments.delta').map((e) => e.delta as string).join('');
    expect(JSON.parse(args)).toEqual({ command: 'echo hi' });
    expect(events.at(-3)!.arguments).toBe(args);
    expect(events.at(-1)!.response.output[0]).toMatchObject({ type: 'function_call', arguments: args, status: 'completed' });

    const after = await call('/v1/responses', {
      model: 'm',
      tools: responsesTools,
      input: [...input, { type: 'function_call', call_id: item.call_id, name: 'exec_command', arguments: item.arguments }, { type: 'function_call_output', call_id: item.call_id, output: 'hi' }],
    });
    expect(after.json!.output[0].type).toBe('message');
  });

  it('ECHOTEST with a string input and with input items', async () => {
    expect((await call('/v1/responses', { model: 'm', input: 'ECHOTEST a' })).json!.output[0].content[0].text).toBe('ECHOTEST a');
    const r = await call('/v1/responses', { model: 'm', input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'ECHOTEST b' }] }] });
    expect(r.json!.output[0].content[0].text).toBe('ECHOTEST b');
  });
});

describe('models, health, 404', () => {
  it('OpenAI list shape, Anthropic shape with anthropic-version, and one model', async () => {
    const o = await call('/v1/models');
    expect(o.json!.object).toBe('list');
    expect(o.json!.data.length).toBeGreaterThan(0);
    expect(o.json!.data[0]).toMatchObject({ object: 'model', owned_by: 'fake' });
    const a = await call('/v1/models', undefined, { 'anthropic-version': '2023-06-01' });
    expect(a.json).toMatchObject({ has_more: false });
    expect(a.json!.data[0]).toMatchObject({ type: 'model' });
    expect(a.json!.first_id).toBe(a.json!.data[0].id);
    expect(a.json!.last_id).toBe(a.json!.data.at(-1).id);
    expect((await call('/v1/models/gpt-4o')).json).toMatchObject({ id: 'gpt-4o', object: 'model' });
    expect((await call('/v1/models/claude-x', undefined, { 'anthropic-version': '2023-06-01' })).json).toMatchObject({ id: 'claude-x', type: 'model' });
    expect(fake.requests.every((r) => r.family === 'models')).toBe(true);
  });

  it('HEAD / and GET /health answer 200; anything else is a 404 JSON', async () => {
    expect((await call('/', undefined, {}, 'HEAD')).status).toBe(200);
    expect((await call('/health')).status).toBe(200);
    const nf = await call('/v1/embeddingz', { a: 1 });
    expect(nf.status).toBe(404);
    expect(nf.json).toEqual({ error: { message: 'not found', type: 'not_found' } });
    expect((await call('/v1/chat/completions')).status).toBe(404);
    expect(fake.requests.at(-2)!.family).toBe('other');
  });

  it('400 for a body that is not JSON, keeping the raw text', async () => {
    const r = await call('/v1/chat/completions', '{"model": ');
    expect(r.status).toBe(400);
    expect(r.json!.error.type).toBe('invalid_request_error');
    expect(fake.requests[0]).toMatchObject({ body: '{"model": ', rawBody: '{"model": ' });
  });
});

describe('reply text and recording', () => {
  it('setReplyText, chunkSize, and reset', async () => {
    fake.setReplyText('abc');
    expect((await call('/v1/chat/completions', { model: 'm', messages: [] })).json!.choices[0].message.content).toBe('abc');
    fake.reset();
    expect(fake.requests).toHaveLength(0);
    expect((await call('/v1/chat/completions', { model: 'm', messages: [] })).json!.choices[0].message.content).toBe('Hello from fake upstream!');

    const local = await startFakeUpstream({ replyText: 'x'.repeat(10), chunkSize: 3 });
    try {
      const res = await request(`${local.url}/v1/messages`, { method: 'POST', body: JSON.stringify({ model: 'm', max_tokens: 5, stream: true, messages: [] }) });
      const deltas = parseSse(await res.body.text()).filter((f) => f.event === 'content_block_delta');
      expect(deltas.map((f) => json(f).delta.text)).toEqual(['xxx', 'xxx', 'xxx', 'x']);
    } finally {
      await local.close();
    }
  });
});

describe('request body encodings', () => {
  for (const [enc, zip] of [
    ['gzip', gzipSync],
    ['br', brotliCompressSync],
  ] as const) {
    it(`decodes a ${enc} request body`, async () => {
      const raw = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: `ECHOTEST ${enc}` }] });
      const r = await call('/v1/chat/completions', zip(Buffer.from(raw)), { 'content-encoding': enc });
      expect(r.json!.choices[0].message.content).toBe(`ECHOTEST ${enc}`);
      expect(fake.requests[0]!.rawBody).toBe(raw);
    });
  }
});

describe('faults', () => {
  it('529 with times:1 on messages: Anthropic overloaded body, then back to normal', async () => {
    fake.setFault({ kind: 'status', status: 529 }, { times: 1 });
    const first = await call('/v1/messages', { model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] });
    expect(first.status).toBe(529);
    expect(first.json).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'fake overloaded' } });
    const second = await call('/v1/messages', { model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] });
    expect(second.status).toBe(200);
    expect(fake.requests).toHaveLength(2);
  });

  it('429 in the OpenAI shape with retry-after; custom bodies; family filter', async () => {
    fake.setFault({ kind: 'status', status: 429, retryAfter: '7' }, { times: 2, family: 'chat' });
    const models = await call('/v1/models');
    expect(models.status).toBe(200);
    const r = await call('/v1/chat/completions', { model: 'm', messages: [], stream: true });
    expect(r.status).toBe(429);
    expect(r.headers['retry-after']).toBe('7');
    expect(r.json).toEqual({ error: { message: 'fake rate limited', type: 'rate_limit_error', code: null, param: null } });
    expect((await call('/v1/chat/completions', { model: 'm', messages: [] })).status).toBe(429);
    expect((await call('/v1/chat/completions', { model: 'm', messages: [] })).status).toBe(200);

    fake.setFault({ kind: 'status', status: 500 });
    const e = await call('/v1/responses', { model: 'm', input: 'x' });
    expect(e.json!.error).toMatchObject({ type: 'server_error', message: 'fake server error' });
    expect((await call('/v1/responses', { model: 'm', input: 'x' })).status).toBe(500); // until cleared
    expect((await call('/health')).status).toBe(200); // health probes are spared unless family 'other' is given
    fake.setFault({ kind: 'status', status: 400, body: { error: { message: 'bad thing' } } }, { times: 1 });
    expect((await call('/v1/chat/completions', { model: 'm', messages: [] })).json).toEqual({ error: { message: 'bad thing' } });
    fake.setFault(null);
    expect((await call('/v1/responses', { model: 'm', input: 'x' })).status).toBe(200);
  });

  it('cut: the stream ends after N frames without the terminal frame', async () => {
    fake.setFault({ kind: 'cut', afterFrames: 3 }, { times: 1 });
    const res = await request(`${fake.url}/v1/messages`, {
      method: 'POST',
      body: JSON.stringify({ model: 'm', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.statusCode).toBe(200);
    let got = '';
    const err = await (async () => {
      for await (const c of res.body) got += (c as Buffer).toString();
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(parseSse(got).map((f) => f.event)).toEqual(['message_start', 'content_block_start', 'ping']);

    // Plain: headers, then the socket goes away.
    fake.setFault({ kind: 'cut', afterFrames: 0 }, { times: 1 });
    const plain = await request(`${fake.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'm', messages: [] }) });
    expect(plain.statusCode).toBe(200);
    await expect(plain.body.text()).rejects.toThrow();
    expect((await call('/v1/chat/completions', { model: 'm', messages: [] })).status).toBe(200);
  });

  it('gzip and br: compressed bodies with content-encoding, JSON and SSE', async () => {
    fake.setFault({ kind: 'gzip' }, { times: 1 });
    const g = await call('/v1/chat/completions', { model: 'm', messages: [] });
    expect(g.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(gunzipSync(g.buf).toString()).choices[0].message.content).toBe('Hello from fake upstream!');

    fake.setFault({ kind: 'br' }, { times: 1 });
    const b = await call('/v1/messages', { model: 'm', max_tokens: 5, stream: true, messages: [] });
    expect(b.headers['content-encoding']).toBe('br');
    expect(parseSse(brotliDecompressSync(b.buf).toString()).at(-1)!.event).toBe('message_stop');

    fake.setFault({ kind: 'gzip' }, { times: 1 });
    const gs = await call('/v1/chat/completions', { model: 'm', messages: [], stream: true });
    expect(gunzipSync(gs.buf).toString().endsWith('data: [DONE]\n\n')).toBe(true);
  });

  it('slow: delays the first byte and spaces the frames', async () => {
    fake.setFault({ kind: 'slow', firstByteDelayMs: 150 }, { times: 1 });
    let t = Date.now();
    expect((await call('/v1/chat/completions', { model: 'm', messages: [] })).status).toBe(200);
    expect(Date.now() - t).toBeGreaterThanOrEqual(140);

    fake.setFault({ kind: 'slow', chunkDelayMs: 30 }, { times: 1 });
    t = Date.now();
    const r = await call('/v1/chat/completions', { model: 'm', messages: [], stream: true });
    expect(Date.now() - t).toBeGreaterThanOrEqual(6 * 30 - 10); // 7 frames, 6 gaps
    expect(r.text.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  it('hang: records the request, never answers, and close() still returns', async () => {
    const local = await startFakeUpstream();
    local.setFault({ kind: 'hang' });
    const pending = request(`${local.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'm', messages: [] }) }).then(
      () => 'answered',
      () => 'failed',
    );
    for (let i = 0; i < 50 && local.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(local.requests).toHaveLength(1);
    const raced = await Promise.race([pending, new Promise((r) => setTimeout(() => r('still waiting'), 100))]);
    expect(raced).toBe('still waiting');
    await local.close();
    expect(await pending).toBe('failed');
  });
});

describe('paceMs: a model producing tokens at its pace', () => {
  it('sends each frame as a chunk of its own and the same stream as unpaced', async () => {
    const paced = await startFakeUpstream({ paceMs: 5, chunkSize: 4, replyText: 'one two three four five' });
    try {
      const res = await request(`${paced.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      });
      const chunks: string[] = [];
      for await (const c of res.body) chunks.push(Buffer.from(c).toString('utf8'));
      const text = chunks.join('');
      const frames = parseSse(text).filter((f) => f.data !== '[DONE]');
      // Paced frames cannot share a read: the client sees them one at a time.
      expect(chunks.length).toBeGreaterThanOrEqual(frames.length);
      const content = frames.map((f) => (JSON.parse(f.data) as J).choices?.[0]?.delta?.content ?? '').join('');
      expect(content).toBe('one two three four five');
      expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    } finally {
      await paced.close();
    }
  });
});
