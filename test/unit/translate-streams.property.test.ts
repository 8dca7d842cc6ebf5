import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chatToMessagesReply, messagesToChatReply } from '../../src/protocol/translate/replies.js';
import { AnthropicToChatStream } from '../../src/protocol/translate/stream-to-chat.js';
import { ChatToAnthropicStream } from '../../src/protocol/translate/stream-to-messages.js';
import type { StreamTranslator } from '../../src/protocol/translate/stream-frames.js';
import { UntranslatableReply } from '../../src/protocol/translate/types.js';
import { translatorFor } from '../../src/protocol/translate/index.js';
import { StreamMeter, usageFromBody } from '../../src/usage/meter.js';
import { assembleAnthropic, assembleChat } from '../helpers/assemble.js';

type Obj = Record<string, unknown>;
const now = () => 1_700_000_000;
const ev = (type: string, obj: Obj) => `event: ${type}\ndata: ${JSON.stringify({ type, ...obj })}\n\n`;
const data = (obj: unknown) => `data: ${JSON.stringify(obj)}\n\n`;

/** Feed `text` cut at `cuts` (offsets), collecting what the translator releases. */
function run(t: StreamTranslator, text: string, cuts: number[] = []): string {
  let out = '';
  let at = 0;
  for (const c of [...new Set(cuts)].filter((c) => c > 0 && c < text.length).sort((a, b) => a - b)) {
    out += t.push(text.slice(at, c));
    at = c;
  }
  out += t.push(text.slice(at));
  return out + t.end();
}

/** Split a string into pieces at the given fractions (deltas of a stream). */
function pieces(s: string, fractions: number[]): string[] {
  const points = [...new Set(fractions.map((f) => Math.floor(f * s.length)))].filter((p) => p > 0 && p < s.length).sort((a, b) => a - b);
  const out: string[] = [];
  let at = 0;
  for (const p of points) {
    out.push(s.slice(at, p));
    at = p;
  }
  out.push(s.slice(at));
  return out.filter((p) => p !== '');
}

// ---- Anthropic → chat ------------------------------------------------------------------------------------------

interface AnthropicReply {
  blocks: Array<{ type: 'text'; text: string; split: number[] } | { type: 'tool_use'; id: string; name: string; input: Obj; split: number[] }>;
  stop: string;
  usage: { input_tokens: number; cache_read_input_tokens: number; cache_creation_input_tokens: number; output_tokens: number };
}

function anthropicWhole(r: AnthropicReply): Obj {
  return {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: 'claude-x',
    content: r.blocks.map((b) => (b.type === 'text' ? { type: 'text', text: b.text } : { type: 'tool_use', id: b.id, name: b.name, input: b.input })),
    stop_reason: r.stop,
    stop_sequence: null,
    usage: r.usage,
  };
}

function anthropicSse(r: AnthropicReply): string {
  const { output_tokens, ...input } = r.usage;
  let s = ev('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-x', content: [], stop_reason: null, stop_sequence: null, usage: { ...input, output_tokens: 1 } } });
  s += ev('ping', {});
  r.blocks.forEach((b, index) => {
    if (b.type === 'text') {
      s += ev('content_block_start', { index, content_block: { type: 'text', text: '' } });
      for (const p of pieces(b.text, b.split)) s += ev('content_block_delta', { index, delta: { type: 'text_delta', text: p } });
    } else {
      s += ev('content_block_start', { index, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } });
      for (const p of pieces(JSON.stringify(b.input), b.split)) s += ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: p } });
    }
    s += ev('content_block_stop', { index });
  });
  s += ev('message_delta', { delta: { stop_reason: r.stop, stop_sequence: null }, usage: { output_tokens } });
  return s + ev('message_stop', {});
}

const count = fc.nat({ max: 5000 });
const split = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 });
const jsonInput = fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null)), { maxKeys: 4 });
const anthropicReply: fc.Arbitrary<AnthropicReply> = fc.record({
  blocks: fc.array(
    fc.oneof(
      fc.record({ type: fc.constant('text' as const), text: fc.string({ minLength: 1, maxLength: 60, unit: 'grapheme' }), split }),
      fc.record({ type: fc.constant('tool_use' as const), id: fc.stringMatching(/^toolu_[a-z0-9]{4}$/), name: fc.constantFrom('Bash', 'Read', 'Edit'), input: jsonInput, split }),
    ),
    { maxLength: 5 },
  ),
  stop: fc.constantFrom('end_turn', 'tool_use', 'max_tokens', 'stop_sequence'),
  usage: fc.record({ input_tokens: count, cache_read_input_tokens: count, cache_creation_input_tokens: count, output_tokens: count }),
});

/** What a chat client receives from the whole translated reply, comparable with an assembled stream. */
function expectedChat(r: AnthropicReply): Obj {
  const whole = messagesToChatReply(anthropicWhole(r), { now });
  const choice = (whole.choices as Obj[])[0]!;
  const message = choice.message as Obj;
  // A text block of only text joins others; the stream carries it the same.
  return { id: whole.id, model: whole.model, created: whole.created, object: 'chat.completion', choices: [{ ...choice, message }], usage: whole.usage, done: true };
}

describe('stream: Anthropic events → chat chunks', () => {
  it('golden: text, then a tool call whose input arrives in pieces, usage last', () => {
    const sse =
      ev('message_start', { message: { id: 'msg_1', model: 'claude-x', usage: { input_tokens: 7, cache_read_input_tokens: 3, output_tokens: 1 } } }) +
      ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) +
      ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hi' } }) +
      ev('content_block_stop', { index: 0 }) +
      ev('content_block_start', { index: 1, content_block: { type: 'tool_use', id: 'toolu_9', name: 'Bash', input: {} } }) +
      ev('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '{"comm' } }) +
      ev('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: 'and":"ls"}' } }) +
      ev('content_block_stop', { index: 1 }) +
      ev('message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 12 } }) +
      ev('message_stop', {});
    const out = run(new AnthropicToChatStream({ includeUsage: true, now }), sse);
    const c = (delta: Obj, finish: string | null = null) => data({ id: 'msg_1', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'claude-x', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
    expect(out).toBe(
      c({ role: 'assistant', content: '' }) +
        c({ content: 'Hi' }) +
        c({ tool_calls: [{ index: 0, id: 'toolu_9', type: 'function', function: { name: 'Bash', arguments: '' } }] }) +
        c({ tool_calls: [{ index: 0, function: { arguments: '{"comm' } }] }) +
        c({ tool_calls: [{ index: 0, function: { arguments: 'and":"ls"}' } }] }) +
        c({}, 'tool_calls') +
        data({ id: 'msg_1', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'claude-x', choices: [], usage: { prompt_tokens: 10, completion_tokens: 12, total_tokens: 22, prompt_tokens_details: { cached_tokens: 3 } } }) +
        'data: [DONE]\n\n',
    );
  });

  it('no usage chunk unless the client asked; an error event ends the stream in OpenAI\'s shape; a stream cut before message_stop fails', () => {
    const start = ev('message_start', { message: { id: 'm', model: 'x', usage: { input_tokens: 1 } } });
    const end = ev('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 1 } }) + ev('message_stop', {});
    expect(run(new AnthropicToChatStream({ includeUsage: false, now }), start + end)).not.toContain('usage');
    // Asked for by the gateway, not by the client: never made.
    expect(run(translatorFor('chat', 'anthropic')!.stream({ stream_options: { include_usage: true } }, { omitUsage: true, now }), start + end)).not.toContain('usage');
    expect(run(translatorFor('chat', 'anthropic')!.stream({ stream_options: { include_usage: true } }, { now }), start + end)).toContain('usage');
    const err = run(new AnthropicToChatStream({ includeUsage: false, now }), start + ev('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }));
    expect(err.endsWith(data({ error: { message: 'Overloaded', type: 'overloaded_error', code: 'overloaded_error', param: null } }))).toBe(true);
    expect(() => run(new AnthropicToChatStream({ includeUsage: false, now }), start)).toThrow(/ended before/);
    const server = ev('content_block_start', { index: 0, content_block: { type: 'server_tool_use', id: 's', name: 'web_search', input: {} } });
    expect(() => run(new AnthropicToChatStream({ includeUsage: false, now }), start + server + end)).toThrow(UntranslatableReply);
  });

  it('property: any chunking gives the same frames, and they assemble to the whole reply translated; the meter reads the upstream frames', () => {
    fc.assert(
      fc.property(anthropicReply, fc.array(fc.nat({ max: 4000 }), { maxLength: 12 }), (r, cuts) => {
        const sse = anthropicSse(r);
        const meter = new StreamMeter('messages');
        const whole = run(new AnthropicToChatStream({ includeUsage: true, now }), sse);
        const chunked = run(new AnthropicToChatStream({ includeUsage: true, now, onFrame: (e, d) => meter.onFrame(e, d) }), sse, cuts);
        expect(chunked).toBe(whole);
        expect(assembleChat(chunked)).toEqual(expectedChat(r));
        const metered = meter.result()!;
        expect(metered).toEqual(usageFromBody('messages', anthropicWhole(r)));
      }),
      { numRuns: 300 },
    );
  });
});

// ---- chat → Anthropic ------------------------------------------------------------------------------------------

interface ChatReply {
  text: string;
  textSplit: number[];
  calls: Array<{ id: string; name: string; args: Obj; split: number[]; nameSplit: number[] }>;
  finish: string;
  usage: { prompt_tokens: number; completion_tokens: number; cached: number };
}

function chatWhole(r: ChatReply): Obj {
  const message: Obj = { role: 'assistant', content: r.text === '' ? null : r.text };
  if (r.calls.length > 0) message.tool_calls = r.calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.args) } }));
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    model: 'gpt-x',
    choices: [{ index: 0, message, finish_reason: r.finish }],
    usage: { prompt_tokens: r.usage.prompt_tokens + r.usage.cached, completion_tokens: r.usage.completion_tokens, total_tokens: 0, prompt_tokens_details: { cached_tokens: r.usage.cached } },
  };
}

function chatSse(r: ChatReply): string {
  const chunk = (delta: Obj, finish: string | null = null) => data({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-x', choices: [{ index: 0, delta, finish_reason: finish }] });
  let s = chunk({ role: 'assistant', content: '' });
  for (const p of r.text === '' ? [] : pieces(r.text, r.textSplit)) s += chunk({ content: p });
  r.calls.forEach((c, index) => {
    // The id and the name may come in pieces before the arguments begin.
    pieces(c.name, c.nameSplit).forEach((name, i) => (s += chunk({ tool_calls: [{ index, ...(i === 0 ? { id: c.id, type: 'function' } : {}), function: { name, ...(i === 0 ? { arguments: '' } : {}) } }] })));
    for (const p of pieces(JSON.stringify(c.args), c.split)) s += chunk({ tool_calls: [{ index, function: { arguments: p } }] });
  });
  s += chunk({}, r.finish);
  s += data({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-x', choices: [], usage: chatWhole(r).usage });
  return `${s}data: [DONE]\n\n`;
}

const chatReply: fc.Arbitrary<ChatReply> = fc.record({
  text: fc.string({ maxLength: 60, unit: 'grapheme' }),
  textSplit: split,
  calls: fc.array(fc.record({ id: fc.stringMatching(/^call_[a-z0-9]{4}$/), name: fc.constantFrom('Bash', 'Read', 'Edit', 'apply_patch'), args: jsonInput, split, nameSplit: split }), { maxLength: 4 }),
  finish: fc.constantFrom('stop', 'tool_calls', 'length'),
  usage: fc.record({ prompt_tokens: count, completion_tokens: count, cached: count }),
});

function expectedAnthropic(r: ChatReply): Obj {
  return { ...chatToMessagesReply(chatWhole(r)), stopped: true };
}

describe('stream: chat chunks → Anthropic events', () => {
  it('golden: text, two parallel calls (ids kept), stop reason and usage in message_delta', () => {
    const chunk = (delta: Obj, finish: string | null = null) => data({ id: 'c1', model: 'gpt-x', choices: [{ index: 0, delta, finish_reason: finish }] });
    const sse =
      chunk({ role: 'assistant', content: '' }) +
      chunk({ content: 'Two.' }) +
      chunk({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'Bash', arguments: '' } }] }) +
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"command":' } }] }) +
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"ls"}' } }] }) +
      chunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'Read', arguments: '{"path":"a"}' } }] }) +
      chunk({}, 'tool_calls') +
      data({ id: 'c1', model: 'gpt-x', choices: [], usage: { prompt_tokens: 30, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 10 } } }) +
      'data: [DONE]\n\n';
    const out = run(new ChatToAnthropicStream({}), sse);
    const e = (type: string, obj: Obj) => `event: ${type}\ndata: ${JSON.stringify({ type, ...obj })}\n\n`;
    expect(out).toBe(
      e('message_start', { message: { id: 'c1', type: 'message', role: 'assistant', model: 'gpt-x', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 0, output_tokens: 0 } } }) +
        e('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) +
        e('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Two.' } }) +
        e('content_block_stop', { index: 0 }) +
        e('content_block_start', { index: 1, content_block: { type: 'tool_use', id: 'call_a', name: 'Bash', input: {} } }) +
        e('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '{"command":' } }) +
        e('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '"ls"}' } }) +
        e('content_block_stop', { index: 1 }) +
        e('content_block_start', { index: 2, content_block: { type: 'tool_use', id: 'call_b', name: 'Read', input: {} } }) +
        e('content_block_delta', { index: 2, delta: { type: 'input_json_delta', partial_json: '{"path":"a"}' } }) +
        e('content_block_stop', { index: 2 }) +
        e('message_delta', { delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { input_tokens: 20, output_tokens: 5, cache_read_input_tokens: 10, cache_creation_input_tokens: 0 } }) +
        e('message_stop', {}),
    );
  });

  it('an error chunk ends the stream as an Anthropic error event; a call resumed after another began, or a stream with no finish, fails', () => {
    const chunk = (delta: Obj, finish: string | null = null) => data({ id: 'c1', model: 'g', choices: [{ index: 0, delta, finish_reason: finish }] });
    const err = run(new ChatToAnthropicStream({}), chunk({ content: 'a' }) + data({ error: { message: 'boom', type: 'server_error' } }));
    expect(err.endsWith(`event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'api_error', message: 'boom' } })}\n\n`)).toBe(true);
    const call = (index: number, args: string, id?: string) => chunk({ tool_calls: [{ index, ...(id ? { id, type: 'function', function: { name: 'f', arguments: args } } : { function: { arguments: args } }) }] });
    expect(() => run(new ChatToAnthropicStream({}), call(0, '{', 'a') + call(1, '{}', 'b') + call(0, '}') + chunk({}, 'tool_calls'))).toThrow(UntranslatableReply);
    expect(() => run(new ChatToAnthropicStream({}), chunk({ content: 'a' }))).toThrow(/without a finish reason/);
    // Arguments that are not a JSON object fail the stream as the whole reply fails.
    expect(() => run(new ChatToAnthropicStream({}), call(0, '{"a":', 'a') + chunk({}, 'tool_calls') + 'data: [DONE]\n\n')).toThrow(UntranslatableReply);
    // A server that ends the body after the finish reason without [DONE] still ends the Anthropic stream properly.
    expect(assembleAnthropic(run(new ChatToAnthropicStream({}), chunk({ content: 'a' }) + chunk({}, 'stop')))).toMatchObject({ stopped: true, stop_reason: 'end_turn', content: [{ type: 'text', text: 'a' }] });
  });

  it('property: any chunking gives the same events, and they assemble to the whole reply translated; the meter reads the upstream frames', () => {
    fc.assert(
      fc.property(chatReply, fc.array(fc.nat({ max: 4000 }), { maxLength: 12 }), (r, cuts) => {
        const sse = chatSse(r);
        const meter = new StreamMeter('chat');
        const whole = run(new ChatToAnthropicStream({}), sse);
        const chunked = run(new ChatToAnthropicStream({ onFrame: (e, d) => meter.onFrame(e, d) }), sse, cuts);
        expect(chunked).toBe(whole);
        expect(assembleAnthropic(chunked)).toEqual(expectedAnthropic(r));
        expect(meter.result()).toEqual(usageFromBody('chat', chatWhole(r)));
      }),
      { numRuns: 300 },
    );
  });
});
