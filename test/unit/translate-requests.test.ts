import { describe, expect, it } from 'vitest';
import { chatToMessagesRequest, DEFAULT_MAX_TOKENS } from '../../src/protocol/translate/chat-to-messages.js';
import { messagesToChatRequest } from '../../src/protocol/translate/messages-to-chat.js';
import { GatewayError } from '../../src/gateway/errors.js';

/** The 400 a request that cannot be translated gets: final, naming the member. */
function refusal(fn: () => unknown): { param: string | undefined; message: string } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    const e = err as GatewayError;
    expect(e.status).toBe(400);
    expect(e.extra.code).toBe('untranslatable_field');
    expect(e.final).toBe(true);
    return { param: e.extra.param, message: e.message };
  }
  throw new Error('expected a refusal');
}

const tools = [{ type: 'function', function: { name: 'Bash', description: 'run a command', parameters: { type: 'object', properties: { command: { type: 'string' } } } } }];

describe('request: OpenAI chat → Anthropic Messages (golden)', () => {
  it('a tool loop with system and developer messages, images, parallel calls and their results', () => {
    const chat = {
      model: 'gpt-4o',
      stream: true,
      stream_options: { include_usage: true },
      max_completion_tokens: 300,
      temperature: 0.2,
      stop: 'END',
      user: 'dev-7',
      tools,
      tool_choice: 'required',
      parallel_tool_calls: true,
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'developer', content: [{ type: 'text', text: 'Prefer bash.' }] },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in these?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg', detail: 'low' } },
          ],
        },
        {
          role: 'assistant',
          content: 'Looking.',
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'Bash', arguments: '{"command":"ls"}' } },
            { id: 'call_2', type: 'function', function: { name: 'Bash', arguments: '{"command":"pwd"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'a.txt' },
        { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '/home' }] },
        { role: 'user', content: 'Thanks' },
      ],
    };
    expect(chatToMessagesRequest(chat, 'claude-sonnet-4')).toEqual({
      model: 'claude-sonnet-4',
      stream: true,
      max_tokens: 300,
      temperature: 0.2,
      stop_sequences: ['END'],
      metadata: { user_id: 'dev-7' },
      tools: [{ name: 'Bash', description: 'run a command', input_schema: { type: 'object', properties: { command: { type: 'string' } } } }],
      tool_choice: { type: 'any' },
      system: [
        { type: 'text', text: 'You are terse.' },
        { type: 'text', text: 'Prefer bash.' },
      ],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in these?' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
            { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Looking.' },
            { type: 'tool_use', id: 'call_1', name: 'Bash', input: { command: 'ls' } },
            { type: 'tool_use', id: 'call_2', name: 'Bash', input: { command: 'pwd' } },
          ],
        },
        {
          // Parallel results are one user turn, and the next user message joins it.
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'call_1', content: 'a.txt' },
            { type: 'tool_result', tool_use_id: 'call_2', content: [{ type: 'text', text: '/home' }] },
            { type: 'text', text: 'Thanks' },
          ],
        },
      ],
    });
  });

  it('max_tokens defaults, tool_choice forms, parallel_tool_calls: false', () => {
    const base = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
    expect(chatToMessagesRequest(base, 'c')).toEqual({ model: 'c', max_tokens: DEFAULT_MAX_TOKENS, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] });
    // The most the model is known to take; 4096 (which every Claude model takes) for names it does not know.
    expect(['claude-sonnet-4-20250514', 'claude-opus-4-1', 'claude-3-7-sonnet-latest', 'claude-haiku-4-5', 'claude-3-5-sonnet-20241022', 'claude-3-haiku-20240307', 'my-proxy-model'].map((m) => chatToMessagesRequest(base, m).max_tokens)).toEqual([
      16384, 16384, 16384, 16384, 8192, 4096, 4096,
    ]);
    // Empty text says nothing and Anthropic refuses an empty block: not sent.
    expect(chatToMessagesRequest({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: '' }, { type: 'text', text: 'x' }] }] }, 'c').messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'x' }] }]);
    expect(chatToMessagesRequest({ ...base, tools, tool_choice: { type: 'function', function: { name: 'Bash' } }, parallel_tool_calls: false }, 'c').tool_choice).toEqual({
      type: 'tool',
      name: 'Bash',
      disable_parallel_tool_use: true,
    });
    expect(chatToMessagesRequest({ ...base, tools, tool_choice: 'none' }, 'c').tool_choice).toEqual({ type: 'none' });
    expect(chatToMessagesRequest({ ...base, tools, parallel_tool_calls: false }, 'c').tool_choice).toEqual({ type: 'auto', disable_parallel_tool_use: true });
    // Defaults a client may send are accepted.
    expect(() => chatToMessagesRequest({ ...base, n: 1, presence_penalty: 0, logprobs: false, response_format: { type: 'text' } }, 'c')).not.toThrow();
  });

  it('refuses by name what Anthropic cannot say', () => {
    const base = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
    expect(refusal(() => chatToMessagesRequest({ ...base, n: 2 }, 'c')).param).toBe('n');
    expect(refusal(() => chatToMessagesRequest({ ...base, logit_bias: { 1: 2 } }, 'c')).param).toBe('logit_bias');
    expect(refusal(() => chatToMessagesRequest({ ...base, response_format: { type: 'json_object' } }, 'c')).param).toBe('response_format');
    expect(refusal(() => chatToMessagesRequest({ ...base, temperature: 1.5 }, 'c')).param).toBe('temperature');
    expect(refusal(() => chatToMessagesRequest({ ...base, seed: 3 }, 'c')).param).toBe('seed');
    expect(refusal(() => chatToMessagesRequest({ ...base, tools: [{ ...tools[0], function: { ...tools[0]!.function, strict: true } }] }, 'c')).param).toBe('tools[0].function.strict');
    const audio = { model: 'm', messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }] };
    const r = refusal(() => chatToMessagesRequest(audio, 'c'));
    expect(r.param).toBe('messages[0].content[0].type');
    expect(r.message).toMatch(/Anthropic Messages API/);
    const badArgs = { model: 'm', messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'x', type: 'function', function: { name: 'f', arguments: 'not json' } }] }] };
    expect(refusal(() => chatToMessagesRequest(badArgs, 'c')).param).toBe('messages[0].tool_calls[0].function.arguments');
    expect(refusal(() => chatToMessagesRequest({ model: 'm', messages: [{ role: 'user', name: 'bob', content: 'hi' }] }, 'c')).param).toBe('messages[0].name');
  });

  it('a member name that is not a plain name is not repeated in the refusal', () => {
    const r = refusal(() => chatToMessagesRequest({ model: 'm', messages: [], 'sk-live key=abc': 1 }, 'c'));
    expect(r.param).toBeUndefined();
    expect(r.message).not.toContain('sk-live');
  });
});

describe('request: Anthropic Messages → OpenAI chat (golden)', () => {
  it('a tool loop with a system prompt, images, parallel calls and results', () => {
    const messages = {
      model: 'claude-sonnet-4',
      max_tokens: 512,
      stream: true,
      system: [
        { type: 'text', text: 'You are Claude Code.', cache_control: { type: 'ephemeral' } },
        { type: 'text', text: 'Be brief.' },
      ],
      tools: [{ name: 'Bash', description: 'run', input_schema: { type: 'object', properties: { command: { type: 'string' } } } }],
      tool_choice: { type: 'auto', disable_parallel_tool_use: true },
      stop_sequences: ['###'],
      metadata: { user_id: 'u1' },
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/' } }] },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Running two.' },
            { type: 'tool_use', id: 'toolu_1', name: 'Bash', input: { command: 'ls' } },
            { type: 'tool_use', id: 'toolu_2', name: 'Bash', input: { command: 'pwd' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: 'a.txt' },
            { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: '/home' }], is_error: false },
            { type: 'text', text: 'next?' },
          ],
        },
      ],
    };
    expect(messagesToChatRequest(messages, 'gpt-4o', { maxTokensField: 'max_completion_tokens' })).toEqual({
      model: 'gpt-4o',
      max_completion_tokens: 512,
      stream: true,
      stream_options: { include_usage: true },
      tools: [{ type: 'function', function: { name: 'Bash', description: 'run', parameters: { type: 'object', properties: { command: { type: 'string' } } } } }],
      tool_choice: 'auto',
      parallel_tool_calls: false,
      stop: ['###'],
      user: 'u1',
      messages: [
        { role: 'system', content: 'You are Claude Code.\n\nBe brief.' },
        { role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,/9j/' } }] },
        {
          role: 'assistant',
          content: 'Running two.',
          tool_calls: [
            { id: 'toolu_1', type: 'function', function: { name: 'Bash', arguments: '{"command":"ls"}' } },
            { id: 'toolu_2', type: 'function', function: { name: 'Bash', arguments: '{"command":"pwd"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_1', content: 'a.txt' },
        { role: 'tool', tool_call_id: 'toolu_2', content: [{ type: 'text', text: '/home' }] },
        { role: 'user', content: 'next?' },
      ],
    });
  });

  it('a Claude Code turn: system messages among the turns, adaptive thinking, effort, clearing thinking, deferred tools, cache hints', () => {
    const body = {
      model: 'claude-opus-5-5',
      max_tokens: 32000,
      stream: true,
      system: [
        { type: 'text', text: 'x-anthropic-billing-header: cc_version=1;' },
        { type: 'text', text: 'You are a Claude agent.', cache_control: { type: 'ephemeral' } },
      ],
      messages: [
        { role: 'system', content: 'Environment: linux' },
        { role: 'user', content: [{ type: 'text', text: '<system-reminder>x</system-reminder>' }, { type: 'text', text: 'fix it', cache_control: { type: 'ephemeral' } }] },
      ],
      tools: [
        { name: 'Bash', description: 'run', input_schema: { type: 'object' } },
        { name: 'DeferredToolPlaceholder', description: 'later', input_schema: { type: 'object' }, defer_loading: true },
      ],
      metadata: { user_id: '{"device_id":"d","session_id":"s"}' },
      thinking: { type: 'adaptive', display: 'omitted' },
      context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] },
      output_config: { effort: 'medium' },
    };
    const out = messagesToChatRequest(body, 'gpt-5', { maxTokensField: 'max_completion_tokens' });
    expect(out).toMatchObject({ model: 'gpt-5', max_completion_tokens: 32000, reasoning_effort: 'medium', user: '{"device_id":"d","session_id":"s"}' });
    expect(out.messages).toEqual([
      { role: 'system', content: 'x-anthropic-billing-header: cc_version=1;\n\nYou are a Claude agent.' },
      { role: 'system', content: 'Environment: linux' },
      { role: 'user', content: [{ type: 'text', text: '<system-reminder>x</system-reminder>' }, { type: 'text', text: 'fix it' }] },
    ]);
    expect((out.tools as unknown[]).length).toBe(2);
    // Its title call: no tools, thinking disabled, a JSON schema for the reply.
    const title = messagesToChatRequest({ model: 'c', max_tokens: 100, tools: [], thinking: { type: 'disabled' }, output_config: { format: { type: 'json_schema', schema: { type: 'object', properties: { title: { type: 'string' } } } } }, messages: [{ role: 'user', content: 'name this' }] }, 'g');
    expect(title.tools).toBeUndefined();
    expect(title.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'output', schema: { type: 'object', properties: { title: { type: 'string' } } } } });
    expect(messagesToChatRequest({ model: 'c', max_tokens: 100, thinking: { type: 'enabled', budget_tokens: 20000 }, messages: [] }, 'g').reasoning_effort).toBe('high');
    expect(refusal(() => messagesToChatRequest({ model: 'c', max_tokens: 1, context_management: { edits: [{ type: 'clear_tool_uses_20250919' }] }, messages: [] }, 'g')).param).toBe('context_management.edits[0].type');
  });

  it('tool_choice forms; an assistant turn of calls only has null content', () => {
    const base = { model: 'c', max_tokens: 10, messages: [{ role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'f', input: {} }] }] };
    const out = messagesToChatRequest({ ...base, tools: [{ name: 'f', input_schema: { type: 'object' } }], tool_choice: { type: 'tool', name: 'f' } }, 'g');
    expect(out.tool_choice).toEqual({ type: 'function', function: { name: 'f' } });
    // No tools offered: no tool_choice either (OpenAI refuses one alone).
    expect(messagesToChatRequest({ ...base, tool_choice: { type: 'auto' } }, 'g').tool_choice).toBeUndefined();
    expect(out.max_tokens).toBe(10);
    expect((out.messages as unknown[])[0]).toEqual({ role: 'assistant', content: null, tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{}' } }] });
    expect(messagesToChatRequest({ ...base, tools: [{ name: 'f', input_schema: { type: 'object' } }], tool_choice: { type: 'any' } }, 'g').tool_choice).toBe('required');
  });

  it('refuses by name what OpenAI chat cannot say', () => {
    const base = { model: 'c', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] };
    expect(refusal(() => messagesToChatRequest({ ...base, top_k: 5 }, 'g')).param).toBe('top_k');
    expect(refusal(() => messagesToChatRequest({ ...base, thinking: { type: 'sometimes' } }, 'g')).param).toBe('thinking.type');
    expect(refusal(() => messagesToChatRequest({ ...base, tools: [{ type: 'web_search_20250305', name: 'web_search' }] }, 'g')).param).toBe('tools[0].type');
    expect(refusal(() => messagesToChatRequest({ ...base, stop_sequences: ['a', 'b', 'c', 'd', 'e'] }, 'g')).param).toBe('stop_sequences');
    const doc = { ...base, messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'x' } }] }] };
    expect(refusal(() => messagesToChatRequest(doc, 'g')).param).toBe('messages[0].content[0].source');
    const thinking = { ...base, messages: [{ role: 'assistant', content: [{ type: 'thinking', thinking: 'hmm', signature: 's' }] }] };
    const r = refusal(() => messagesToChatRequest(thinking, 'g'));
    expect(r.param).toBe('messages[0].content[0].type');
    expect(r.message).toMatch(/OpenAI Chat Completions API/);
    const imgResult = { ...base, messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'x' } }] }] }] };
    expect(refusal(() => messagesToChatRequest(imgResult, 'g')).param).toBe('messages[0].content[0].content[0]');
  });

  it('a round trip chat → messages → chat keeps a tool loop as it was', () => {
    const chat = {
      model: 'x',
      max_tokens: 100,
      tools,
      messages: [
        { role: 'system', content: 'S' },
        { role: 'user', content: 'U' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'Bash', arguments: '{"command":"ls"}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'out' },
      ],
    };
    const back = messagesToChatRequest(chatToMessagesRequest(chat, 'x'), 'x');
    expect(back.messages).toEqual(chat.messages);
    expect(back.tools).toEqual(tools);
  });
});
