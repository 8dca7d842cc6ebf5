import fc from 'fast-check';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Family } from '../../src/providers/targets.js';
import { startFakeUpstream, type FakeUpstream } from '../../src/testing/fake-upstream.js';
import { PolicyChain } from '../../src/policy/engine.js';
import { ReplyBudget } from '../../src/stream/budget.js';
import { StreamGuard } from '../../src/stream/guard.js';
import { addIncludeUsage, isUsageOnlyChunk, StreamMeter, usageFromBody, wantsIncludeUsage } from '../../src/usage/meter.js';
import { estimateTokens } from '../../src/usage/tokens.js';
import type { Usage } from '../../src/usage/types.js';

type J = Record<string, any>;

let fake: FakeUpstream;
beforeAll(async () => {
  fake = await startFakeUpstream({ chunkSize: 5 });
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

const PATHS: Record<Exclude<Family, 'count_tokens'>, string> = { chat: '/v1/chat/completions', messages: '/v1/messages', responses: '/v1/responses' };

function body(family: Exclude<Family, 'count_tokens'>, stream: boolean, text = 'Say hello', tools = false): J {
  if (family === 'chat') {
    return {
      model: 'gpt-4o',
      stream,
      messages: [{ role: 'user', content: text }],
      ...(stream ? { stream_options: { include_usage: true } } : {}),
      ...(tools ? { tools: [{ type: 'function', function: { name: 'run_shell', parameters: { type: 'object' } } }] } : {}),
    };
  }
  if (family === 'messages') {
    return { model: 'claude-sonnet-4-20250514', max_tokens: 1024, stream, system: 'Be brief.', messages: [{ role: 'user', content: text }], ...(tools ? { tools: [{ name: 'Bash', input_schema: { type: 'object' } }] } : {}) };
  }
  return { model: 'gpt-5', stream, input: text, ...(tools ? { tools: [{ type: 'function', name: 'exec_command', parameters: { type: 'object' } }] } : {}) };
}

async function call(family: Exclude<Family, 'count_tokens'> | 'count_tokens', payload: J): Promise<string> {
  const path = family === 'count_tokens' ? '/v1/messages/count_tokens' : PATHS[family];
  const res = await request(`${fake.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(family === 'messages' || family === 'count_tokens' ? { 'anthropic-version': '2023-06-01' } : {}) },
    body: JSON.stringify(payload),
  });
  return res.body.text();
}

/** Frames of an SSE text, each with its separator, as a list. */
function frames(sse: string): string[] {
  return sse.split(/(?<=\n\n)/).filter((f) => f !== '');
}

function feed(family: Family, chunks: string[], requestText?: string): { usage: Usage | null; text: string } {
  const m = new StreamMeter(family);
  for (const c of chunks) m.push(c);
  return { usage: m.result(requestText), text: m.generatedText() };
}

function splitAt(text: string, cuts: number[]): string[] {
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let last = 0;
  for (const p of points) {
    out.push(text.slice(last, p));
    last = p;
  }
  out.push(text.slice(last));
  return out;
}

const FAMILIES = ['chat', 'messages', 'responses'] as const;

describe('usageFromBody', () => {
  it('chat: prompt_tokens includes cached tokens, completion_tokens includes reasoning', async () => {
    fake.setUsage({ cachedTokens: 3000, reasoningTokens: 200 });
    const reply = JSON.parse(await call('chat', body('chat', false))) as J;
    const u = reply.usage;
    expect(usageFromBody('chat', reply)).toEqual({
      input_tokens: u.prompt_tokens,
      output_tokens: u.completion_tokens,
      cached_input_tokens: 3000,
      cache_write_tokens: null,
      reasoning_tokens: 200,
      estimated: false,
    });
    expect(u.prompt_tokens).toBeGreaterThan(3000);
  });

  it('responses: input_tokens includes cached tokens, output_tokens includes reasoning', async () => {
    fake.setUsage({ cachedTokens: 1500, reasoningTokens: 64 });
    const reply = JSON.parse(await call('responses', body('responses', false))) as J;
    expect(usageFromBody('responses', reply)).toEqual({
      input_tokens: reply.usage.input_tokens,
      output_tokens: reply.usage.output_tokens,
      cached_input_tokens: 1500,
      cache_write_tokens: null,
      reasoning_tokens: 64,
      estimated: false,
    });
  });

  it('messages: cache reads and writes are added to input_tokens, which excludes them on the wire', async () => {
    fake.setUsage({ cachedTokens: 10_240, cacheWriteTokens: 2048, cacheWrite1hTokens: 512, reasoningTokens: 100 });
    const reply = JSON.parse(await call('messages', body('messages', false))) as J;
    const u = reply.usage;
    expect(u.input_tokens).toBeLessThan(100);
    expect(usageFromBody('messages', reply)).toEqual({
      input_tokens: u.input_tokens + 10_240 + 2048,
      output_tokens: u.output_tokens,
      cached_input_tokens: 10_240,
      cache_write_tokens: 2048,
      cache_write_1h_tokens: 512,
      reasoning_tokens: null,
      estimated: false,
    });
  });

  it('defaults of the fake: zero cache and reasoning details, no 1-hour field', async () => {
    const reply = JSON.parse(await call('messages', body('messages', false))) as J;
    const u = usageFromBody('messages', reply)!;
    expect(u).toMatchObject({ cached_input_tokens: 0, cache_write_tokens: 0, reasoning_tokens: null, estimated: false });
    expect('cache_write_1h_tokens' in u).toBe(false);
  });

  it('count_tokens replies are not usage; bodies without usage give null', async () => {
    const reply = JSON.parse(await call('count_tokens', { model: 'claude-sonnet-4', messages: [{ role: 'user', content: 'hi' }] })) as J;
    expect(reply.input_tokens).toBeGreaterThan(0);
    expect(usageFromBody('count_tokens', reply)).toBeNull();
    expect(usageFromBody('chat', { id: 'x', choices: [] })).toBeNull();
    expect(usageFromBody('chat', { usage: {} })).toBeNull();
    expect(usageFromBody('messages', 'not json')).toBeNull();
  });

  it('adds reasoning to the output when the provider reports it beside completion_tokens (total_tokens tells)', () => {
    // xAI: total = prompt + completion + reasoning.
    const xai = usageFromBody('chat', { usage: { prompt_tokens: 100, completion_tokens: 20, total_tokens: 420, completion_tokens_details: { reasoning_tokens: 300 } } });
    expect(xai).toMatchObject({ input_tokens: 100, output_tokens: 320, reasoning_tokens: 300 });
    // OpenAI: reasoning already inside completion_tokens.
    const openai = usageFromBody('chat', { usage: { prompt_tokens: 100, completion_tokens: 320, total_tokens: 420, completion_tokens_details: { reasoning_tokens: 300 } } });
    expect(openai).toMatchObject({ input_tokens: 100, output_tokens: 320, reasoning_tokens: 300 });
  });

  it('reads DeepSeek cache hits', () => {
    const u = usageFromBody('chat', { usage: { prompt_tokens: 1000, completion_tokens: 10, total_tokens: 1010, prompt_cache_hit_tokens: 900, prompt_cache_miss_tokens: 100 } });
    expect(u).toMatchObject({ input_tokens: 1000, cached_input_tokens: 900 });
  });
});

describe('StreamMeter on whole streams', () => {
  it.each(FAMILIES)('%s: streamed usage equals the plain reply usage, not estimated', async (family) => {
    fake.setUsage({ cachedTokens: 700, cacheWriteTokens: 300, reasoningTokens: 50 });
    const plain = usageFromBody(family, JSON.parse(await call(family, body(family, false))));
    const sse = await call(family, body(family, true));
    const { usage, text } = feed(family, [sse]);
    expect(usage).toEqual(plain);
    expect(usage!.estimated).toBe(false);
    expect(text).toBe('Hello from fake upstream!');
  });

  it.each(FAMILIES)('%s: tool-call arguments are generated text too', async (family) => {
    const sse = await call(family, body(family, true, 'TOOLTEST please', true));
    const m = new StreamMeter(family);
    m.push(sse);
    expect(m.generatedText()).toContain('{"command":"echo hi"}');
    expect(m.complete).toBe(true);
  });

  it('anthropic: message_delta counts are cumulative and may repeat the input and cache counts', () => {
    const m = new StreamMeter('messages');
    m.onFrame('message_start', { type: 'message_start', message: { usage: { input_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 } } });
    m.onFrame('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '' } });
    m.onFrame('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Let me think.' } });
    m.onFrame('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'EqQBCgIYAhIM' } });
    m.onFrame('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 40 } });
    m.onFrame('message_delta', { type: 'message_delta', delta: {}, usage: { input_tokens: 12, cache_read_input_tokens: 5000, cache_creation_input_tokens: 100, output_tokens: 90 } });
    expect(m.generatedText()).toBe('Let me think.');
    expect(m.result()).toEqual({ input_tokens: 5112, output_tokens: 90, cached_input_tokens: 5000, cache_write_tokens: 100, reasoning_tokens: null, estimated: false });
  });

  it('responses: response.incomplete carries usage too', () => {
    const m = new StreamMeter('responses');
    m.onFrame(undefined, { type: 'response.output_text.delta', delta: 'partial' });
    m.onFrame(undefined, { type: 'response.incomplete', response: { status: 'incomplete', usage: { input_tokens: 10, input_tokens_details: { cached_tokens: 0 }, output_tokens: 16, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 26 } } });
    expect(m.result()).toMatchObject({ input_tokens: 10, output_tokens: 16, estimated: false });
  });

  it('count_tokens streams have no usage', () => {
    const m = new StreamMeter('count_tokens');
    m.push('data: {"input_tokens": 5}\n\n');
    expect(m.result('x')).toBeNull();
  });

  it.each(FAMILIES)('%s: parsed frames through onFrame give what push gives', async (family) => {
    fake.setUsage({ cachedTokens: 10, reasoningTokens: 3 });
    const sse = await call(family, body(family, true, 'ECHOTEST some words to echo back'));
    const byFrame = new StreamMeter(family);
    for (const f of frames(sse)) {
      const event = /^event: (.*)$/m.exec(f)?.[1];
      const data = /^data: (.*)$/m.exec(f)?.[1];
      if (data === undefined || data === '[DONE]') continue;
      byFrame.onFrame(event, JSON.parse(data));
    }
    expect(byFrame.result()).toEqual(feed(family, [sse]).usage);
    expect(byFrame.generatedText()).toBe('ECHOTEST some words to echo back');
  });
});

describe('StreamMeter on arbitrarily split text', () => {
  const streams: Partial<Record<string, string>> = {};
  beforeAll(async () => {
    fake.setUsage({ cachedTokens: 321, cacheWriteTokens: 123, cacheWrite1hTokens: 23, reasoningTokens: 7 });
    for (const family of FAMILIES) {
      streams[family] = await call(family, body(family, true, 'ECHOTEST héllo wörld 🌍 with "quotes" and \\ backslashes'));
      streams[`${family}-tool`] = await call(family, body(family, true, 'TOOLTEST', true));
    }
    fake.reset();
  });

  for (const family of FAMILIES) {
    for (const variant of ['', '-tool']) {
      it(`${family}${variant}: the same usage and text wherever the chunks break, with LF or CRLF line ends`, () => {
        const sse = streams[family + variant]!;
        const whole = feed(family, [sse], 'request text');
        expect(whole.usage!.estimated).toBe(false);
        fc.assert(
          fc.property(fc.array(fc.nat(), { maxLength: 40 }), fc.boolean(), (cuts, crlf) => {
            const text = crlf ? sse.replace(/\n/g, '\r\n') : sse;
            const got = feed(family, splitAt(text, cuts), 'request text');
            expect(got.usage).toEqual(whole.usage);
            expect(got.text).toBe(whole.text);
          }),
          { numRuns: 150 },
        );
      });
    }
  }

  it('a last frame without its blank line still counts', () => {
    const sse = streams.responses!;
    const m = new StreamMeter('responses');
    m.push(sse.replace(/\n\n$/, ''));
    expect(m.result()!.estimated).toBe(false);
  });
});

describe('StreamMeter on cut streams', () => {
  const REQUEST = 'Please write a function that adds two numbers, with tests.';

  it.each(FAMILIES)('%s: a stream cut before usage is estimated from the request and the generated text', async (family) => {
    fake.setReplyText('function add(a, b) { return a + b; } // and some tests follow here');
    const all = frames(await call(family, body(family, true)));
    // Keep the frames up to the middle of the text deltas: no usage frame, no terminal frame.
    const kept = all.slice(0, Math.ceil(all.length / 2));
    const m = new StreamMeter(family);
    for (const f of kept) m.push(f);
    const u = m.result(REQUEST)!;
    expect(u.estimated).toBe(true);
    expect(m.complete).toBe(false);
    const generated = m.generatedText();
    expect(generated.length).toBeGreaterThan(0);
    expect('function add(a, b) { return a + b; } // and some tests follow here'.startsWith(generated)).toBe(true);
    if (family === 'messages') {
      // message_start already gave the exact input.
      const start = JSON.parse(/^data: (.*)$/m.exec(all[0]!)![1]!).message.usage;
      expect(u.input_tokens).toBe(start.input_tokens + start.cache_read_input_tokens + start.cache_creation_input_tokens);
      expect(u.cached_input_tokens).toBe(0);
      expect(u.output_tokens).toBe(Math.max(1, estimateTokens(generated)));
    } else {
      expect(u).toEqual({ input_tokens: estimateTokens(REQUEST), output_tokens: estimateTokens(generated), cached_input_tokens: null, cache_write_tokens: null, reasoning_tokens: null, estimated: true });
    }
  });

  it('an OpenAI chat stream without include_usage (aider) is estimated even when it completes', async () => {
    const b = body('chat', true);
    delete b.stream_options;
    const m = new StreamMeter('chat');
    m.push(await call('chat', b));
    expect(m.result(REQUEST)).toMatchObject({ input_tokens: estimateTokens(REQUEST), output_tokens: estimateTokens('Hello from fake upstream!'), estimated: true });
  });

  it('anthropic: cut after message_start keeps the exact input and cache counts, output estimated', () => {
    const m = new StreamMeter('messages');
    m.push(
      'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-20250514","content":[],"stop_reason":null,"stop_sequence":null,' +
        '"usage":{"input_tokens":12,"cache_creation_input_tokens":2048,"cache_read_input_tokens":10240,"cache_creation":{"ephemeral_5m_input_tokens":1024,"ephemeral_1h_input_tokens":1024},"output_tokens":1,"service_tier":"standard"}}}\n\n' +
        'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n' +
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Here is the plan: first we read the file"}}\n\n',
    );
    expect(m.result()).toEqual({
      input_tokens: 12 + 2048 + 10240,
      output_tokens: estimateTokens('Here is the plan: first we read the file'),
      cached_input_tokens: 10240,
      cache_write_tokens: 2048,
      cache_write_1h_tokens: 1024,
      reasoning_tokens: null,
      estimated: true,
    });
  });

  it('a stream cut by the upstream (fake cut fault over HTTP) is estimated', async () => {
    fake.setFault({ kind: 'cut', afterFrames: 4 }, { times: 1 });
    const m = new StreamMeter('responses');
    const res = await request(`${fake.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body('responses', true)) });
    await expect(
      (async () => {
        for await (const chunk of res.body) m.push((chunk as Buffer).toString('utf8'));
      })(),
    ).rejects.toThrow();
    const u = m.result(REQUEST)!;
    expect(u.estimated).toBe(true);
    expect(u.input_tokens).toBe(estimateTokens(REQUEST));
  });

  it('no frames at all and no request text: nothing generated, input unknown', () => {
    expect(new StreamMeter('chat').result()).toEqual({ input_tokens: null, output_tokens: 0, cached_input_tokens: null, cache_write_tokens: null, reasoning_tokens: null, estimated: true });
  });

  it('result() can be asked more than once', () => {
    const m = new StreamMeter('chat');
    m.push('data: {"choices":[{"index":0,"delta":{"content":"abc"}}]}\n\n');
    const a = m.result('q');
    expect(m.result('q')).toEqual(a);
  });
});

describe('include_usage for OpenAI chat streams', () => {
  it('wantsIncludeUsage: streaming chat requests that do not already ask for usage', () => {
    expect(wantsIncludeUsage({ model: 'gpt-4o', stream: true, temperature: 0, messages: [] })).toBe(true); // aider
    expect(wantsIncludeUsage({ stream: true, stream_options: { include_usage: false } })).toBe(true);
    expect(wantsIncludeUsage({ stream: true, stream_options: {} })).toBe(true);
    expect(wantsIncludeUsage({ stream: true, stream_options: { include_usage: true } })).toBe(false); // Vercel AI SDK
    expect(wantsIncludeUsage({ stream: false })).toBe(false);
    expect(wantsIncludeUsage({ messages: [] })).toBe(false);
    expect(wantsIncludeUsage(null)).toBe(false);
  });

  it('addIncludeUsage keeps other stream_options and leaves the original body alone', () => {
    const original = { model: 'gpt-4o', stream: true, stream_options: { include_obfuscation: false } };
    const added = addIncludeUsage(original);
    expect(added).toEqual({ model: 'gpt-4o', stream: true, stream_options: { include_obfuscation: false, include_usage: true } });
    expect(original.stream_options).toEqual({ include_obfuscation: false });
    expect(addIncludeUsage({ stream: true }).stream_options).toEqual({ include_usage: true });
    expect(wantsIncludeUsage(added)).toBe(false);
  });

  it('isUsageOnlyChunk: only empty choices with a usage object', () => {
    expect(isUsageOnlyChunk({ id: 'c', object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 1, completion_tokens: 2 } })).toBe(true);
    expect(isUsageOnlyChunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: { prompt_tokens: 1 } })).toBe(false);
    expect(isUsageOnlyChunk({ choices: [], usage: null })).toBe(false);
    expect(isUsageOnlyChunk({ choices: [], prompt_filter_results: [{ prompt_index: 0 }] })).toBe(false); // Azure's first chunk
    expect(isUsageOnlyChunk(null)).toBe(false);
  });

  it('StreamGuard with the metering hook drops exactly the usage-only frame, however the bytes are split', async () => {
    const aider = body('chat', true);
    delete aider.stream_options;
    const sse = await call('chat', addIncludeUsage(aider));
    const all = frames(sse);
    const usageIdx = all.findIndex((f) => /"choices":\[\],"usage":\{/.test(f));
    expect(usageIdx).toBe(all.length - 2); // just before [DONE]
    // What the client gets is what it would get from the same stream without that frame.
    const expected = throughGuard([all.filter((_, i) => i !== usageIdx).join('')], false).out;
    const whole = throughGuard([sse], true);
    expect(whole.out).toBe(expected);
    expect(whole.out).not.toContain('"usage":{');
    // The gateway still metered it: usage came from the chunk the client never sees.
    expect(whole.meter.result()!.estimated).toBe(false);
    fc.assert(
      fc.property(fc.array(fc.nat({ max: sse.length }), { maxLength: 12 }), (cuts) => {
        const points = [...new Set([0, ...cuts, sse.length])].sort((a, b) => a - b);
        const pieces = points.slice(1).map((p, i) => sse.slice(points[i], p));
        expect(throughGuard(pieces, true).out).toBe(expected);
      }),
      { numRuns: 100 },
    );
  });

  it('the metering hook keeps every other frame: comments, Azure filter results, broken JSON, usage on a real chunk', () => {
    const kept = [
      ': keep-alive comment\n\n',
      'data: {"id":"a","choices":[],"prompt_filter_results":[{"prompt_index":0}]}\n\n',
      'data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}\n\n',
      'data: {"id":"d", "choices": [], "usage": {broken json\n\n',
    ];
    const usageFrames = [
      'data: {"id":"e","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}\r\n\r\n',
      // A spaced-out usage-only chunk (other OpenAI-compatible servers) is recognised too.
      'data: {"choices": [], "usage": {"prompt_tokens": 5}}\n\n',
    ];
    const text = kept.slice(0, 2).join('') + usageFrames[0] + kept.slice(2).join('') + usageFrames[1] + 'data: [DONE]\n\n';
    expect(throughGuard([text], true).out).toBe(kept.join('') + 'data: [DONE]\n\n');
  });
});

/** An OpenAI chat stream through a StreamGuard without rules, metered as the gateway meters it. */
function throughGuard(pieces: string[], dropUsage: boolean): { out: string; meter: StreamMeter } {
  const meter = new StreamMeter('chat');
  const guard = new StreamGuard('chat', new PolicyChain([], 'block'), new ReplyBudget(1 << 26), undefined, (event, data) => {
    meter.onFrame(event, data);
    return dropUsage && isUsageOnlyChunk(data);
  });
  let out = '';
  for (const p of pieces) out += guard.push(p);
  return { out: out + guard.end(), meter };
}

describe('estimateTokens', () => {
  it('counts o200k tokens, 0 for empty text, and special-token strings as plain text', () => {
    expect(estimateTokens('')).toBe(0);
    expect(estimateTokens('Hello from fake upstream!')).toBe(5);
    expect(estimateTokens('<|endoftext|>')).toBeGreaterThan(1);
  });

  it('stays fast on pathological input (long runs without spaces) and grows with the text', () => {
    const t0 = performance.now();
    const a = estimateTokens('a'.repeat(200_000));
    const spaces = estimateTokens(' '.repeat(200_000));
    const b64 = estimateTokens(Buffer.alloc(150_000, 7).toString('base64'));
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(a).toBeGreaterThan(10_000);
    expect(spaces).toBeGreaterThan(0);
    expect(b64).toBeGreaterThan(10_000);
    const big = 'const x = 1;\n'.repeat(60_000); // over the exact-count limit: counted from a prefix
    expect(estimateTokens(big)).toBeGreaterThan(estimateTokens('const x = 1;\n'.repeat(30_000)));
  });
});
