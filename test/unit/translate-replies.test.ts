import { describe, expect, it } from 'vitest';
import { anthropicErrorFromChat, chatErrorFromAnthropic, chatToMessagesReply, messagesToChatReply } from '../../src/protocol/translate/replies.js';
import { translatorFor, UntranslatableReply } from '../../src/protocol/translate/index.js';
import { usageFromBody } from '../../src/usage/meter.js';

const now = () => 1_700_000_000;

describe('reply: Anthropic message → OpenAI chat.completion (golden)', () => {
  it('text and parallel tool calls, ids kept; stop reason; usage with cache reads and writes', () => {
    const msg = {
      id: 'msg_01',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4',
      content: [
        { type: 'text', text: 'Running ' },
        { type: 'text', text: 'two.' },
        { type: 'tool_use', id: 'toolu_1', name: 'Bash', input: { command: 'ls' } },
        { type: 'tool_use', id: 'toolu_2', name: 'Bash', input: { command: 'pwd' } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 10, cache_read_input_tokens: 100, cache_creation_input_tokens: 5, output_tokens: 20 },
    };
    const chat = messagesToChatReply(msg, { now });
    expect(chat).toEqual({
      id: 'msg_01',
      object: 'chat.completion',
      created: 1_700_000_000,
      model: 'claude-sonnet-4',
      choices: [
        {
          index: 0,
          logprobs: null,
          finish_reason: 'tool_calls',
          message: {
            role: 'assistant',
            content: 'Running two.',
            refusal: null,
            tool_calls: [
              { id: 'toolu_1', type: 'function', function: { name: 'Bash', arguments: '{"command":"ls"}' } },
              { id: 'toolu_2', type: 'function', function: { name: 'Bash', arguments: '{"command":"pwd"}' } },
            ],
          },
        },
      ],
      usage: { prompt_tokens: 115, completion_tokens: 20, total_tokens: 135, prompt_tokens_details: { cached_tokens: 100 } },
    });
    // The translated usage says what the upstream's said (cache writes are inside prompt_tokens, as OpenAI counts them).
    const up = usageFromBody('messages', msg)!;
    const down = usageFromBody('chat', chat)!;
    expect([down.input_tokens, down.output_tokens, down.cached_input_tokens]).toEqual([up.input_tokens, up.output_tokens, up.cached_input_tokens]);
  });

  it('stop reasons', () => {
    const reply = (stop_reason: string) => (messagesToChatReply({ content: [], stop_reason }, { now }).choices as Array<{ finish_reason: string }>)[0]!.finish_reason;
    expect(['end_turn', 'stop_sequence', 'max_tokens', 'tool_use', 'refusal'].map(reply)).toEqual(['stop', 'stop', 'length', 'tool_calls', 'content_filter']);
  });

  it('a block with no chat form fails the reply rather than being dropped', () => {
    expect(() => messagesToChatReply({ content: [{ type: 'server_tool_use', id: 'x', name: 'web_search', input: {} }] })).toThrow(UntranslatableReply);
  });
});

describe('reply: OpenAI chat.completion → Anthropic message (golden)', () => {
  it('text and parallel tool calls, ids kept; usage with cached tokens', () => {
    const chat = {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1,
      model: 'gpt-4o',
      choices: [
        {
          index: 0,
          finish_reason: 'tool_calls',
          message: {
            role: 'assistant',
            content: 'Two calls.',
            tool_calls: [
              { id: 'call_a', type: 'function', function: { name: 'Bash', arguments: '{"command":"ls"}' } },
              { id: 'call_b', type: 'function', function: { name: 'Read', arguments: '{"path":"a"}' } },
            ],
          },
        },
      ],
      usage: { prompt_tokens: 120, completion_tokens: 9, total_tokens: 129, prompt_tokens_details: { cached_tokens: 100 } },
    };
    const msg = chatToMessagesReply(chat);
    expect(msg).toEqual({
      id: 'chatcmpl-1',
      type: 'message',
      role: 'assistant',
      model: 'gpt-4o',
      content: [
        { type: 'text', text: 'Two calls.' },
        { type: 'tool_use', id: 'call_a', name: 'Bash', input: { command: 'ls' } },
        { type: 'tool_use', id: 'call_b', name: 'Read', input: { path: 'a' } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 20, output_tokens: 9, cache_read_input_tokens: 100, cache_creation_input_tokens: 0 },
    });
    const up = usageFromBody('chat', chat)!;
    const down = usageFromBody('messages', msg)!;
    expect([down.input_tokens, down.output_tokens, down.cached_input_tokens]).toEqual([up.input_tokens, up.output_tokens, up.cached_input_tokens]);
  });

  it('finish reasons; arguments that are not a JSON object fail the reply', () => {
    const stop = (finish_reason: string) => chatToMessagesReply({ choices: [{ finish_reason, message: { content: 'x' } }] }).stop_reason;
    expect(['stop', 'length', 'tool_calls', 'content_filter'].map(stop)).toEqual(['end_turn', 'max_tokens', 'tool_use', 'refusal']);
    const bad = { choices: [{ finish_reason: 'tool_calls', message: { content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{"a":' } }] } }] };
    expect(() => chatToMessagesReply(bad)).toThrow(UntranslatableReply);
  });
});

describe('errors in the client\'s shape', () => {
  it('Anthropic error → OpenAI error, OpenAI error → Anthropic error typed by status', () => {
    expect(chatErrorFromAnthropic({ type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } })).toEqual({
      error: { message: 'slow down', type: 'rate_limit_error', code: 'rate_limit_error', param: null },
    });
    expect(anthropicErrorFromChat({ error: { message: 'bad key', type: 'invalid_request_error', code: 'invalid_api_key' } }, 401)).toEqual({
      type: 'error',
      error: { type: 'authentication_error', message: 'bad key' },
    });
    expect(anthropicErrorFromChat({ error: { message: 'busy' } }, 503)).toMatchObject({ error: { type: 'overloaded_error' } });
  });

  it('the translator picks the error shape by status; a body that is not an object passes as it is', () => {
    const t = translatorFor('chat', 'anthropic')!;
    expect(t.reply({ type: 'error', error: { type: 'overloaded_error', message: 'm' } }, 529)).toMatchObject({ error: { type: 'overloaded_error' } });
    expect(t.reply([1], 200)).toEqual([1]);
    expect(translatorFor('messages', 'openai')!.reply({ error: { message: 'no' } }, 404)).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
  });

  it('only the pairs with a translator have one; the request headers are made right for the target', () => {
    expect(translatorFor('chat', 'openai')).toBeUndefined();
    // A target of format openai speaks Responses itself; one of format chat needs the translator.
    expect(translatorFor('responses', 'openai')).toBeUndefined();
    expect(translatorFor('responses', 'anthropic')!.pair).toBe('responses->messages');
    expect(translatorFor('responses', 'chat')!.pair).toBe('responses->chat');
    expect(translatorFor('messages', 'chat')!.pair).toBe('messages->chat');
    expect(translatorFor('count_tokens', 'openai')).toBeUndefined();
    expect(translatorFor('count_tokens', 'chat')).toBeUndefined();
    const up: Record<string, string> = { 'openai-organization': 'o', 'x-stainless-os': 'Linux' };
    translatorFor('chat', 'anthropic')!.headers(up);
    expect(up).toEqual({ 'x-stainless-os': 'Linux', 'anthropic-version': '2023-06-01' });
    const down: Record<string, string> = { 'anthropic-version': '2023-06-01', 'anthropic-beta': 'x', accept: 'application/json' };
    translatorFor('messages', 'openai')!.headers(down);
    expect(down).toEqual({ accept: 'application/json' });
    expect(translatorFor('messages', 'openai', 'openai')!.request({ max_tokens: 5, messages: [] }, 'g')).toMatchObject({ max_completion_tokens: 5 });
    expect(translatorFor('messages', 'openai', 'vllm')!.request({ max_tokens: 5, messages: [] }, 'g')).toMatchObject({ max_tokens: 5 });
  });
});
