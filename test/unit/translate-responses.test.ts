import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/gateway/errors.js';
import { translatorFor } from '../../src/protocol/translate/index.js';
import { AnthropicToResponsesStream, chatToResponsesReply, ChatToResponsesStream, messagesToResponsesReply } from '../../src/protocol/translate/responses-reply.js';
import { responsesToChatRequest, responsesToMessagesRequest } from '../../src/protocol/translate/responses-request.js';
import type { StreamTranslator } from '../../src/protocol/translate/stream-frames.js';
import { UntranslatableReply } from '../../src/protocol/translate/types.js';
import { sseFrames } from '../helpers/assemble.js';

type Obj = Record<string, unknown>;
const now = () => 1_700_000_000;
const ev = (type: string, obj: Obj) => `event: ${type}\ndata: ${JSON.stringify({ type, ...obj })}\n\n`;
const data = (obj: unknown) => `data: ${JSON.stringify(obj)}\n\n`;

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

const events = (sse: string): Array<Obj & { event: string | undefined }> => sseFrames(sse).map((f) => ({ ...(JSON.parse(f.data) as Obj), event: f.event }));
/** The response a stream ends with (response.completed / incomplete / failed). */
const finalResponse = (sse: string) => events(sse).at(-1)!.response as Obj;

function refusal(f: () => unknown): { status: number; param: unknown; message: string } {
  try {
    f();
  } catch (err) {
    if (err instanceof GatewayError) return { status: err.status, param: err.extra.param, message: err.message };
    throw err;
  }
  throw new Error('not refused');
}

/** A Codex turn as Codex 0.171 sends it (trimmed): developer messages, a tool loop, reasoning kept statelessly. */
const CODEX: Obj = {
  model: 'gpt-5',
  stream: true,
  input: [
    { type: 'message', id: 'msg_a', role: 'developer', content: [{ type: 'input_text', text: 'You are Codex.' }] },
    { type: 'message', id: 'msg_b', role: 'user', content: [{ type: 'input_text', text: 'list files' }] },
    { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 'I should run ls.' }], encrypted_content: 'sig-abc' },
    { type: 'function_call', status: 'completed', id: 'fc_1', name: 'exec_command', arguments: '{"cmd":"ls"}', call_id: 'call_1' },
    { type: 'function_call_output', id: 'fco_1', call_id: 'call_1', output: 'a.txt\nb.txt' },
  ],
  tools: [{ type: 'function', name: 'exec_command', description: 'Run a command', strict: false, parameters: { type: 'object', properties: { cmd: { type: 'string' } }, required: ['cmd'] } }],
  tool_choice: 'auto',
  parallel_tool_calls: true,
  reasoning: { summary: 'auto' },
  store: false,
  include: ['reasoning.encrypted_content'],
  prompt_cache_key: 'k',
  client_metadata: { session_id: 's' },
};

describe('request: Responses → Anthropic Messages', () => {
  it('golden: a Codex turn (developer prompt, reasoning, function call and output, call ids kept)', () => {
    expect(responsesToMessagesRequest(CODEX, 'claude-sonnet-4-20250514')).toEqual({
      model: 'claude-sonnet-4-20250514',
      system: [{ type: 'text', text: 'You are Codex.' }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'list files' }] },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'I should run ls.', signature: 'sig-abc' },
            { type: 'tool_use', id: 'call_1', name: 'exec_command', input: { cmd: 'ls' } },
          ],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: 'a.txt\nb.txt' }] },
      ],
      stream: true,
      max_tokens: 16384,
      tools: [{ name: 'exec_command', description: 'Run a command', input_schema: { type: 'object', properties: { cmd: { type: 'string' } }, required: ['cmd'] } }],
    });
  });

  it('instructions, a string input, limits, sampling, user, effort as a thinking budget, a named tool without parallel calls', () => {
    const out = responsesToMessagesRequest(
      {
        model: 'c',
        instructions: 'Be brief.',
        input: 'hi',
        max_output_tokens: 20000,
        top_p: 0.5,
        user: 'u1',
        reasoning: { effort: 'medium' },
        tools: [{ type: 'function', name: 'f', parameters: { type: 'object' } }],
        tool_choice: { type: 'function', name: 'f' },
        parallel_tool_calls: false,
      },
      'claude-opus-4-1',
    );
    expect(out).toEqual({
      model: 'claude-opus-4-1',
      system: [{ type: 'text', text: 'Be brief.' }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
      max_tokens: 20000,
      thinking: { type: 'enabled', budget_tokens: 8192 },
      top_p: 0.5,
      metadata: { user_id: 'u1' },
      tools: [{ name: 'f', input_schema: { type: 'object' } }],
      tool_choice: { type: 'tool', name: 'f', disable_parallel_tool_use: true },
    });
  });

  it('refused by name, nothing dropped: server tools, what a namespace cannot hold, stored state, other includes, file ids, temperature above 1', () => {
    const codexTools = { ...CODEX, tools: [...(CODEX.tools as Obj[]), { type: 'web_search', external_web_access: false }] };
    expect(refusal(() => responsesToMessagesRequest(codexTools, 'c'))).toMatchObject({ status: 400, param: 'tools[1].type' });
    expect(refusal(() => responsesToMessagesRequest({ ...CODEX, tools: [{ type: 'namespace', name: 'multi_agent_v1', tools: [{ type: 'web_search' }] }] }, 'c')).param).toBe('tools[0].tools[0].type');
    expect(refusal(() => responsesToMessagesRequest({ input: 'x', previous_response_id: 'resp_1' }, 'c')).message).toMatch(/^previous_response_id cannot be translated .* Anthropic Messages API: the gateway keeps no stored responses/);
    expect(refusal(() => responsesToMessagesRequest({ input: 'x', include: ['reasoning.encrypted_content', 'message.output_text.logprobs'] }, 'c')).param).toBe('include[1]');
    expect(refusal(() => responsesToMessagesRequest({ input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file_1' }] }] }, 'c')).param).toBe('input[0].content[0].image_url');
    expect(refusal(() => responsesToMessagesRequest({ input: 'x', temperature: 1.5 }, 'c')).param).toBe('temperature');
    expect(refusal(() => responsesToMessagesRequest({ input: [{ type: 'item_reference', id: 'x' }] }, 'c')).param).toBe('input[0].type');
    expect(refusal(() => responsesToMessagesRequest({ input: [{ type: 'function_call', call_id: 'c', name: 'f', arguments: '[1]' }] }, 'c')).param).toBe('input[0].arguments');
    expect(refusal(() => responsesToMessagesRequest({ input: 'x', tools: [{ type: 'function', name: 'f', strict: true }] }, 'c')).param).toBe('tools[0].strict');
    expect(refusal(() => responsesToMessagesRequest({ input: 'x', text: { format: { type: 'json_schema', name: 'n', schema: {} } } }, 'c')).param).toBe('text.format');
  });
});

describe('request: Responses → OpenAI chat', () => {
  it('golden: a Codex turn; reasoning items are left out (chat takes none back), streams ask for usage', () => {
    expect(responsesToChatRequest({ ...CODEX, reasoning: { effort: 'low', summary: 'auto' } }, 'llama-3')).toEqual({
      model: 'llama-3',
      messages: [
        { role: 'system', content: 'You are Codex.' },
        { role: 'user', content: [{ type: 'text', text: 'list files' }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'exec_command', arguments: '{"cmd":"ls"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'a.txt\nb.txt' },
      ],
      stream: true,
      stream_options: { include_usage: true },
      reasoning_effort: 'low',
      tools: [{ type: 'function', function: { name: 'exec_command', description: 'Run a command', parameters: { type: 'object', properties: { cmd: { type: 'string' } }, required: ['cmd'] } } }],
      parallel_tool_calls: true,
      tool_choice: 'auto',
    });
  });

  it('assistant text with its calls is one message; json_schema output; the output limit under the provider\'s name', () => {
    const out = responsesToChatRequest(
      {
        input: [
          { role: 'user', content: 'q' },
          { role: 'assistant', content: [{ type: 'output_text', text: 'let me look' }] },
          { type: 'function_call', call_id: 'a', name: 'f', arguments: '{}' },
          { type: 'function_call', call_id: 'b', name: 'g', arguments: '{}' },
          { type: 'function_call_output', call_id: 'a', output: '1' },
          { type: 'function_call_output', call_id: 'b', output: [{ type: 'input_text', text: '2' }] },
        ],
        max_output_tokens: 99,
        text: { format: { type: 'json_schema', name: 'n', schema: { type: 'object' }, strict: true } },
      },
      'gpt-4o',
      { maxTokensField: 'max_completion_tokens' },
    );
    expect(out.messages).toEqual([
      { role: 'user', content: 'q' === 'q' ? [{ type: 'text', text: 'q' }] : [] },
      { role: 'assistant', content: 'let me look', tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{}' } }, { id: 'b', type: 'function', function: { name: 'g', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'a', content: '1' },
      { role: 'tool', tool_call_id: 'b', content: '2' },
    ]);
    expect(out.max_completion_tokens).toBe(99);
    expect(out.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'n', schema: { type: 'object' }, strict: true } });
  });

  it('refused by name: Codex web search, other item types', () => {
    expect(refusal(() => responsesToChatRequest({ input: 'x', tools: [{ type: 'web_search' }] }, 'm'))).toMatchObject({ status: 400, param: 'tools[0].type' });
    expect(refusal(() => responsesToChatRequest({ input: [{ type: 'local_shell_call', call_id: 'x' }] }, 'm')).message).toMatch(/OpenAI Chat Completions API/);
  });
});

describe('whole replies', () => {
  it('golden: Anthropic thinking, text and a tool call → reasoning (signature as encrypted_content), message and function_call items; usage with cached tokens', () => {
    const msg = {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'claude-x',
      content: [
        { type: 'thinking', thinking: 'hmm', signature: 'sig' },
        { type: 'text', text: 'Running it.' },
        { type: 'tool_use', id: 'toolu_1', name: 'exec_command', input: { cmd: 'ls' } },
      ],
      stop_reason: 'tool_use',
      usage: { input_tokens: 5, cache_read_input_tokens: 100, cache_creation_input_tokens: 10, output_tokens: 7 },
    };
    expect(messagesToResponsesReply(msg, { now })).toEqual({
      id: 'resp_msg_1',
      object: 'response',
      created_at: 1_700_000_000,
      status: 'completed',
      error: null,
      incomplete_details: null,
      model: 'claude-x',
      output: [
        { id: 'rs_0_msg_1', type: 'reasoning', summary: [{ type: 'summary_text', text: 'hmm' }], encrypted_content: 'sig' },
        { id: 'msg_1_msg_1', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'Running it.', annotations: [] }] },
        { id: 'fc_2_msg_1', type: 'function_call', status: 'completed', arguments: '{"cmd":"ls"}', call_id: 'toolu_1', name: 'exec_command' },
      ],
      parallel_tool_calls: true,
      tool_choice: 'auto',
      tools: [],
      usage: { input_tokens: 115, input_tokens_details: { cached_tokens: 100 }, output_tokens: 7, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 122 },
    });
    expect(messagesToResponsesReply({ ...msg, content: [{ type: 'text', text: 'cut' }], stop_reason: 'max_tokens' }, { now })).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
    expect(() => messagesToResponsesReply({ ...msg, content: [{ type: 'server_tool_use', id: 'x' }] })).toThrow(UntranslatableReply);
  });

  it('golden: a chat completion with parallel tool calls; an error body keeps OpenAI\'s shape, an Anthropic one takes it', () => {
    const reply = {
      id: 'chatcmpl-1',
      model: 'gpt-x',
      choices: [{ index: 0, message: { role: 'assistant', content: 'ok', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }, { id: 'c2', type: 'function', function: { name: 'g', arguments: '{}' } }] }, finish_reason: 'tool_calls' }],
      usage: { prompt_tokens: 50, completion_tokens: 9, total_tokens: 59, prompt_tokens_details: { cached_tokens: 40 }, completion_tokens_details: { reasoning_tokens: 3 } },
    };
    const r = chatToResponsesReply(reply, { now });
    expect(r.output).toEqual([
      { id: 'msg_0_chatcmpl-1', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'ok', annotations: [] }] },
      { id: 'fc_1_chatcmpl-1', type: 'function_call', status: 'completed', arguments: '{"a":1}', call_id: 'c1', name: 'f' },
      { id: 'fc_2_chatcmpl-1', type: 'function_call', status: 'completed', arguments: '{}', call_id: 'c2', name: 'g' },
    ]);
    expect(r.usage).toEqual({ input_tokens: 50, input_tokens_details: { cached_tokens: 40 }, output_tokens: 9, output_tokens_details: { reasoning_tokens: 3 }, total_tokens: 59 });
    const chatErr = { error: { message: 'bad', type: 'invalid_request_error', code: null, param: null } };
    expect(translatorFor('responses', 'chat')!.reply(chatErr, 400)).toEqual(chatErr);
    expect(translatorFor('responses', 'anthropic')!.reply({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, 529)).toEqual({ error: { message: 'Overloaded', type: 'overloaded_error', code: 'overloaded_error', param: null } });
  });
});

describe('streams', () => {
  const anthropicSse =
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

  it('golden: Anthropic events → Responses events, in order, numbered, ending with response.completed and its usage', () => {
    const out = events(run(new AnthropicToResponsesStream({ now }), anthropicSse));
    expect(out.map((e) => [e.event, e.sequence_number])).toEqual(
      [
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.content_part.added',
        'response.output_text.delta',
        'response.output_text.done',
        'response.content_part.done',
        'response.output_item.done',
        'response.output_item.added',
        'response.function_call_arguments.delta',
        'response.function_call_arguments.delta',
        'response.function_call_arguments.done',
        'response.output_item.done',
        'response.completed',
      ].map((t, i) => [t, i]),
    );
    expect(out.every((e) => e.type === e.event)).toBe(true);
    expect(out[4]).toMatchObject({ item_id: 'msg_0_msg_1', output_index: 0, content_index: 0, delta: 'Hi' });
    expect(out[8]).toMatchObject({ output_index: 1, item: { type: 'function_call', call_id: 'toolu_9', name: 'Bash', arguments: '', status: 'in_progress' } });
    expect(out[11]).toMatchObject({ item_id: 'fc_1_msg_1', arguments: '{"command":"ls"}' });
    expect(out[13]!.response).toMatchObject({ status: 'completed', usage: { input_tokens: 10, input_tokens_details: { cached_tokens: 3 }, output_tokens: 12, total_tokens: 22 } });
  });

  it('golden: chat chunks → Responses events; reasoning_content is a reasoning item; usage from the usage chunk', () => {
    const c = (delta: Obj, finish: string | null = null) => data({ id: 'cc1', object: 'chat.completion.chunk', model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] });
    const sse =
      c({ role: 'assistant', content: '' }) +
      c({ reasoning_content: 'think' }) +
      c({ content: 'A' }) +
      c({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '' } }] }) +
      c({ tool_calls: [{ index: 0, function: { arguments: '{}' } }] }) +
      c({}, 'tool_calls') +
      data({ id: 'cc1', object: 'chat.completion.chunk', model: 'm', choices: [], usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 } }) +
      'data: [DONE]\n\n';
    const out = run(new ChatToResponsesStream({ now }), sse);
    expect(events(out).map((e) => e.event)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.reasoning_summary_part.added',
      'response.reasoning_summary_text.delta',
      'response.reasoning_summary_text.done',
      'response.reasoning_summary_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(finalResponse(out).usage).toEqual({ input_tokens: 4, input_tokens_details: { cached_tokens: 0 }, output_tokens: 2, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 6 });
  });

  it('errors end the stream in the Responses shape: an error event, then response.failed; a cut stream fails; broken tool arguments are untranslatable', () => {
    const start = ev('message_start', { message: { id: 'm', model: 'x', usage: { input_tokens: 1 } } });
    const out = events(run(new AnthropicToResponsesStream({ now }), start + ev('error', { error: { type: 'overloaded_error', message: 'Overloaded' } })));
    expect(out.slice(-2)).toMatchObject([
      { event: 'error', code: 'server_error', message: 'Overloaded' },
      { event: 'response.failed', response: { status: 'failed', error: { code: 'server_error', message: 'Overloaded' } } },
    ]);
    expect(() => run(new AnthropicToResponsesStream({ now }), start)).toThrow(/before message_stop/);
    const chatErr = events(run(new ChatToResponsesStream({ now }), data({ error: { message: 'boom', code: 'server_error' } })));
    expect(chatErr.map((e) => e.event)).toEqual(['error', 'response.failed']);
    const bad = start + ev('content_block_start', { index: 0, content_block: { type: 'tool_use', id: 't', name: 'f', input: {} } }) + ev('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: '[1' } }) + ev('content_block_stop', { index: 0 });
    expect(() => run(new AnthropicToResponsesStream({ now }), bad)).toThrow(UntranslatableReply);
  });
});

// ---- property: any split of the upstream bytes gives the same stream, whose response is the whole reply's ----

interface Reply {
  blocks: Array<{ type: 'text'; text: string; split: number[] } | { type: 'tool_use'; id: string; name: string; input: Obj; split: number[] } | { type: 'thinking'; text: string; signature: string; split: number[] }>;
  stop: string;
  usage: { input_tokens: number; cache_read_input_tokens: number; output_tokens: number };
}

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

function anthropicWhole(r: Reply): Obj {
  const content = r.blocks.map((b) => (b.type === 'text' ? { type: 'text', text: b.text } : b.type === 'thinking' ? { type: 'thinking', thinking: b.text, signature: b.signature } : { type: 'tool_use', id: b.id, name: b.name, input: b.input }));
  return { id: 'msg_p', type: 'message', role: 'assistant', model: 'claude-x', content, stop_reason: r.stop, usage: r.usage };
}

function anthropicStream(r: Reply): string {
  const { output_tokens, ...input } = r.usage;
  let s = ev('message_start', { message: { id: 'msg_p', type: 'message', role: 'assistant', model: 'claude-x', content: [], usage: { ...input, output_tokens: 1 } } }) + ev('ping', {});
  r.blocks.forEach((b, index) => {
    if (b.type === 'text') {
      s += ev('content_block_start', { index, content_block: { type: 'text', text: '' } });
      for (const p of pieces(b.text, b.split)) s += ev('content_block_delta', { index, delta: { type: 'text_delta', text: p } });
    } else if (b.type === 'thinking') {
      s += ev('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } });
      for (const p of pieces(b.text, b.split)) s += ev('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: p } });
      s += ev('content_block_delta', { index, delta: { type: 'signature_delta', signature: b.signature } });
    } else {
      s += ev('content_block_start', { index, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } });
      for (const p of pieces(JSON.stringify(b.input), b.split)) s += ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: p } });
    }
    s += ev('content_block_stop', { index });
  });
  return s + ev('message_delta', { delta: { stop_reason: r.stop }, usage: { output_tokens } }) + ev('message_stop', {});
}

/** The same reply as an OpenAI chat completion and chunk stream (thinking as reasoning_content, first only). */
function chatWhole(r: Reply): Obj {
  const text = r.blocks.filter((b) => b.type === 'text').map((b) => (b as { text: string }).text).join('');
  const thinking = r.blocks.filter((b) => b.type === 'thinking').map((b) => (b as { text: string }).text).join('');
  const calls = r.blocks.filter((b) => b.type === 'tool_use').map((b) => b as Extract<Reply['blocks'][number], { type: 'tool_use' }>);
  const finish = r.stop === 'max_tokens' ? 'length' : calls.length > 0 ? 'tool_calls' : 'stop';
  const message: Obj = { role: 'assistant', content: text === '' ? null : text };
  if (thinking !== '') message.reasoning_content = thinking;
  if (calls.length > 0) message.tool_calls = calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.input) } }));
  return { id: 'cc_p', model: 'm', choices: [{ index: 0, message, finish_reason: finish }], usage: { prompt_tokens: r.usage.input_tokens, completion_tokens: r.usage.output_tokens, total_tokens: r.usage.input_tokens + r.usage.output_tokens } };
}

function chatStream(r: Reply): string {
  const whole = chatWhole(r);
  const choice = (whole.choices as Obj[])[0]!;
  const m = choice.message as Obj;
  const c = (delta: Obj, finish: unknown = null) => data({ id: 'cc_p', object: 'chat.completion.chunk', model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] });
  let s = c({ role: 'assistant', content: '' });
  const split = r.blocks[0]?.split ?? [];
  if (typeof m.reasoning_content === 'string') for (const p of pieces(m.reasoning_content, split)) s += c({ reasoning_content: p });
  if (typeof m.content === 'string') for (const p of pieces(m.content, split)) s += c({ content: p });
  ((m.tool_calls as Obj[] | undefined) ?? []).forEach((tc, index) => {
    const fn = tc.function as Obj;
    s += c({ tool_calls: [{ index, id: tc.id, type: 'function', function: { name: fn.name, arguments: '' } }] });
    for (const p of pieces(fn.arguments as string, split)) s += c({ tool_calls: [{ index, function: { arguments: p } }] });
  });
  s += c({}, choice.finish_reason);
  return s + data({ id: 'cc_p', object: 'chat.completion.chunk', model: 'm', choices: [], usage: whole.usage }) + 'data: [DONE]\n\n';
}

const split = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 5 });
const reply: fc.Arbitrary<Reply> = fc.record({
  blocks: fc.array(
    fc.oneof(
      fc.record({ type: fc.constant('text' as const), text: fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }), split }),
      fc.record({ type: fc.constant('thinking' as const), text: fc.string({ minLength: 1, maxLength: 40 }), signature: fc.base64String({ minLength: 4, maxLength: 20 }), split }),
      fc.record({
        type: fc.constant('tool_use' as const),
        id: fc.stringMatching(/^toolu_[a-z0-9]{4}$/),
        name: fc.constantFrom('exec_command', 'Read'),
        input: fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), fc.oneof(fc.string(), fc.integer(), fc.boolean()), { maxKeys: 3 }),
        split,
      }),
    ),
    { maxLength: 5 },
  ),
  stop: fc.constantFrom('end_turn', 'tool_use', 'max_tokens'),
  usage: fc.record({ input_tokens: fc.nat(5000), cache_read_input_tokens: fc.nat(5000), output_tokens: fc.nat(5000) }),
});
const cuts = fc.array(fc.nat(20_000), { maxLength: 12 });

describe('property: stream translation of any split equals the whole-reply translation', () => {
  it('Anthropic → Responses', () => {
    fc.assert(
      fc.property(reply, cuts, (r, at) => {
        const sse = anthropicStream(r);
        const whole = run(new AnthropicToResponsesStream({ now }), sse);
        expect(run(new AnthropicToResponsesStream({ now }), sse, at.map((c) => c % (sse.length + 1)))).toBe(whole);
        expect(finalResponse(whole)).toEqual(messagesToResponsesReply(anthropicWhole(r), { now }));
        // What SDKs assemble from the deltas is the reply's text.
        const text = events(whole).filter((e) => e.event === 'response.output_text.delta').map((e) => e.delta).join('');
        expect(text).toBe(r.blocks.filter((b) => b.type === 'text').map((b) => (b as { text: string }).text).join(''));
      }),
      { numRuns: 300 },
    );
  });

  it('OpenAI chat → Responses', () => {
    fc.assert(
      fc.property(reply, cuts, (r, at) => {
        const sse = chatStream(r);
        const whole = run(new ChatToResponsesStream({ now }), sse);
        expect(run(new ChatToResponsesStream({ now }), sse, at.map((c) => c % (sse.length + 1)))).toBe(whole);
        expect(finalResponse(whole)).toEqual(chatToResponsesReply(chatWhole(r), { now }));
      }),
      { numRuns: 300 },
    );
  });
});
