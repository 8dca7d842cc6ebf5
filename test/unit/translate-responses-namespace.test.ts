import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/gateway/errors.js';
import { translatorFor } from '../../src/protocol/translate/index.js';
import { buildToolNames } from '../../src/protocol/translate/responses-names.js';
import { responsesToChatRequest, responsesToMessagesRequest } from '../../src/protocol/translate/responses-request.js';
import type { StreamTranslator } from '../../src/protocol/translate/stream-frames.js';
import { sseFrames } from '../helpers/assemble.js';

/**
 * Codex's namespace tools on targets without namespaces. The shapes are Codex's own (openai/codex):
 * the tool as codex-rs/tools/src/responses_api.rs serializes `ResponsesApiNamespace`, the call as
 * codex-rs/protocol/src/models.rs `ResponseItem::FunctionCall` reads and writes it (`name` + `namespace`).
 */

type Obj = Record<string, unknown>;
const now = () => 1_700_000_000;
const ev = (type: string, obj: Obj) => `event: ${type}\ndata: ${JSON.stringify({ type, ...obj })}\n\n`;
const data = (obj: unknown) => `data: ${JSON.stringify(obj)}\n\n`;
const events = (sse: string): Obj[] => sseFrames(sse).map((f) => JSON.parse(f.data) as Obj);

function run(t: StreamTranslator, text: string): string {
  return t.push(text) + t.end();
}

function refusal(f: () => unknown): { status: number; param: unknown } {
  try {
    f();
  } catch (err) {
    if (err instanceof GatewayError) return { status: err.status, param: err.extra.param };
    throw err;
  }
  throw new Error('not refused');
}

const SPAWN_PARAMS = { type: 'object', properties: { message: { type: 'string' } }, required: ['message'], additionalProperties: false };
const WAIT_PARAMS = { type: 'object', properties: { targets: { type: 'array', items: { type: 'string' } } }, additionalProperties: false };
const ECHO_PARAMS = { type: 'object', properties: { message: { type: 'string' } } };

/** A Codex turn after a sub-agent was spawned: the namespaced call and its output are in the input. */
const CODEX_NS: Obj = {
  model: 'gpt-5',
  stream: true,
  input: [
    { type: 'message', role: 'developer', content: [{ type: 'input_text', text: 'You are Codex.' }] },
    { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'delegate the audit' }] },
    { type: 'function_call', name: 'spawn_agent', namespace: 'multi_agent_v1', arguments: '{"message":"audit"}', call_id: 'call_spawn' },
    { type: 'function_call_output', call_id: 'call_spawn', output: '{"agent_id":"2"}' },
  ],
  tools: [
    { type: 'function', name: 'exec_command', description: 'Run a command', strict: false, parameters: { type: 'object', properties: { cmd: { type: 'string' } } } },
    {
      type: 'namespace',
      name: 'multi_agent_v1',
      description: 'Tools for spawning and managing sub-agents.',
      tools: [
        { type: 'function', name: 'spawn_agent', description: 'Spawn a sub-agent.', strict: false, parameters: SPAWN_PARAMS },
        { type: 'function', name: 'wait_agent', description: 'Wait for sub-agents.', strict: false, parameters: WAIT_PARAMS },
      ],
    },
    { type: 'namespace', name: 'mcp__rmcp__', description: 'Tools in the mcp__rmcp__ namespace.', tools: [{ type: 'function', name: 'echo', description: 'Echo back.', strict: false, parameters: ECHO_PARAMS }] },
  ],
  tool_choice: 'auto',
  parallel_tool_calls: true,
  store: false,
};

describe('request: namespace tools become flat function tools, namespaced calls in the input take the same names', () => {
  it('golden: Responses → Anthropic Messages', () => {
    expect(responsesToMessagesRequest(CODEX_NS, 'claude-sonnet-4-20250514')).toEqual({
      model: 'claude-sonnet-4-20250514',
      system: [{ type: 'text', text: 'You are Codex.' }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'delegate the audit' }] },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'call_spawn', name: 'multi_agent_v1__spawn_agent', input: { message: 'audit' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_spawn', content: '{"agent_id":"2"}' }] },
      ],
      stream: true,
      max_tokens: 16384,
      tools: [
        { name: 'exec_command', description: 'Run a command', input_schema: { type: 'object', properties: { cmd: { type: 'string' } } } },
        { name: 'multi_agent_v1__spawn_agent', description: 'Tools for spawning and managing sub-agents.\n\nSpawn a sub-agent.', input_schema: SPAWN_PARAMS },
        { name: 'multi_agent_v1__wait_agent', description: 'Tools for spawning and managing sub-agents.\n\nWait for sub-agents.', input_schema: WAIT_PARAMS },
        { name: 'mcp__rmcp__echo', description: 'Tools in the mcp__rmcp__ namespace.\n\nEcho back.', input_schema: ECHO_PARAMS },
      ],
    });
  });

  it('golden: Responses → OpenAI chat', () => {
    const out = responsesToChatRequest(CODEX_NS, 'llama-3');
    expect(out.messages).toEqual([
      { role: 'system', content: 'You are Codex.' },
      { role: 'user', content: [{ type: 'text', text: 'delegate the audit' }] },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_spawn', type: 'function', function: { name: 'multi_agent_v1__spawn_agent', arguments: '{"message":"audit"}' } }] },
      { role: 'tool', tool_call_id: 'call_spawn', content: '{"agent_id":"2"}' },
    ]);
    expect(out.tools).toEqual([
      { type: 'function', function: { name: 'exec_command', description: 'Run a command', parameters: { type: 'object', properties: { cmd: { type: 'string' } } } } },
      { type: 'function', function: { name: 'multi_agent_v1__spawn_agent', description: 'Tools for spawning and managing sub-agents.\n\nSpawn a sub-agent.', parameters: SPAWN_PARAMS } },
      { type: 'function', function: { name: 'multi_agent_v1__wait_agent', description: 'Tools for spawning and managing sub-agents.\n\nWait for sub-agents.', parameters: WAIT_PARAMS } },
      { type: 'function', function: { name: 'mcp__rmcp__echo', description: 'Tools in the mcp__rmcp__ namespace.\n\nEcho back.', parameters: ECHO_PARAMS } },
    ]);
  });

  it('a name already taken, one that does not fit the target, or one that had to change gets a hash; plain tools keep theirs', () => {
    const body = {
      input: [{ type: 'function_call', name: 'old_tool', namespace: 'gone.ns', arguments: '{}', call_id: 'c0' }],
      tools: [
        { type: 'function', name: 'multi_agent_v1__spawn_agent', parameters: { type: 'object' } },
        { type: 'namespace', name: 'multi_agent_v1', tools: [{ type: 'function', name: 'spawn_agent', parameters: { type: 'object' } }] },
        { type: 'namespace', name: 'n'.repeat(60), tools: [{ type: 'function', name: 'tool', parameters: { type: 'object' } }] },
      ],
    };
    const chat = responsesToChatRequest(body, 'm');
    const names = (chat.tools as Array<{ function: { name: string } }>).map((t) => t.function.name);
    expect(names[0]).toBe('multi_agent_v1__spawn_agent');
    expect(names[1]).toMatch(/^multi_agent_v1__spawn_agent_[0-9a-f]{10}$/);
    expect(names[2]).toMatch(/^n{53}_[0-9a-f]{10}$/);
    expect(((chat.messages as Obj[])[0]!.tool_calls as Array<{ function: { name: string } }>)[0]!.function.name).toMatch(/^gone_ns__old_tool_[0-9a-f]{10}$/);
    // Anthropic takes 128 characters: the long name fits there as it is.
    const anthropic = responsesToMessagesRequest(body, 'c');
    expect((anthropic.tools as Array<{ name: string }>)[2]!.name).toBe(`${'n'.repeat(60)}__tool`);
  });

  it('an empty namespace offers nothing; a namespace holding only that leaves no tools member', () => {
    expect(responsesToChatRequest({ input: 'x', tools: [{ type: 'namespace', name: 'ns', description: 'd', tools: [] }] }, 'm').tools).toBeUndefined();
  });

  it('refused by name: what a namespace or its functions cannot say on these targets', () => {
    const ns = (extra: Obj, fn: Obj = {}) => ({ input: 'x', tools: [{ type: 'namespace', name: 'ns', tools: [{ type: 'function', name: 'f', parameters: { type: 'object' }, ...fn }], ...extra }] });
    expect(refusal(() => responsesToChatRequest(ns({ strict: true }), 'm'))).toEqual({ status: 400, param: 'tools[0].strict' });
    expect(refusal(() => responsesToChatRequest(ns({ name: '' }), 'm')).param).toBe('tools[0].name');
    expect(refusal(() => responsesToChatRequest(ns({ tools: 'x' }), 'm')).param).toBe('tools[0].tools');
    expect(refusal(() => responsesToChatRequest(ns({}, { defer_loading: true }), 'm')).param).toBe('tools[0].tools[0].defer_loading');
    expect(refusal(() => responsesToMessagesRequest(ns({}, { strict: true }), 'c')).param).toBe('tools[0].tools[0].strict');
    expect(refusal(() => responsesToMessagesRequest(ns({ tools: [{ type: 'namespace', name: 'inner', tools: [] }] }), 'c')).param).toBe('tools[0].tools[0].type');
    expect(refusal(() => responsesToMessagesRequest({ input: [{ type: 'function_call', name: 'f', namespace: 7, arguments: '{}', call_id: 'c' }] }, 'c')).param).toBe('input[0].namespace');
    // defer_loading at its default says nothing.
    expect(responsesToChatRequest(ns({}, { defer_loading: false }), 'm').tools).toHaveLength(1);
  });
});

describe('replies: a call to a flat name comes back as the namespaced call Codex runs', () => {
  const spawned = { id: 'fc', type: 'function_call', status: 'completed', arguments: '{"message":"audit"}', call_id: 'call_2', name: 'spawn_agent', namespace: 'multi_agent_v1' };

  it('golden: a whole chat completion; plain and unknown names stay plain', () => {
    const reply = {
      id: 'cc1',
      model: 'm',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: 'call_1', type: 'function', function: { name: 'exec_command', arguments: '{"cmd":"ls"}' } },
              { id: 'call_2', type: 'function', function: { name: 'multi_agent_v1__spawn_agent', arguments: '{"message":"audit"}' } },
              { id: 'call_3', type: 'function', function: { name: 'mcp__rmcp__echo', arguments: '{}' } },
              { id: 'call_4', type: 'function', function: { name: 'made_up__tool', arguments: '{}' } },
            ],
          },
          finish_reason: 'tool_calls',
        },
      ],
    };
    const out = translatorFor('responses', 'chat')!.reply(reply, 200, CODEX_NS) as Obj;
    expect(out.output).toEqual([
      { id: 'fc_0_cc1', type: 'function_call', status: 'completed', arguments: '{"cmd":"ls"}', call_id: 'call_1', name: 'exec_command' },
      { ...spawned, id: 'fc_1_cc1' },
      { id: 'fc_2_cc1', type: 'function_call', status: 'completed', arguments: '{}', call_id: 'call_3', name: 'echo', namespace: 'mcp__rmcp__' },
      { id: 'fc_3_cc1', type: 'function_call', status: 'completed', arguments: '{}', call_id: 'call_4', name: 'made_up__tool' },
    ]);
    // Without the client's body there is no mapping: names pass as the target sent them.
    expect(((translatorFor('responses', 'chat')!.reply(reply, 200) as Obj).output as Obj[])[1]).toMatchObject({ name: 'multi_agent_v1__spawn_agent' });
  });

  it('golden: a whole Anthropic message', () => {
    const msg = { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-x', content: [{ type: 'tool_use', id: 'call_2', name: 'multi_agent_v1__spawn_agent', input: { message: 'audit' } }], stop_reason: 'tool_use', usage: { input_tokens: 1, output_tokens: 1 } };
    expect((translatorFor('responses', 'anthropic')!.reply(msg, 200, CODEX_NS) as Obj).output).toEqual([{ ...spawned, id: 'fc_0_msg_1' }]);
  });

  it('golden: chat chunks, the call reassembled from its deltas: added, done and response.completed name the namespace', () => {
    const c = (delta: Obj, finish: string | null = null) => data({ id: 'cc2', object: 'chat.completion.chunk', model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] });
    const sse =
      c({ role: 'assistant', content: '' }) +
      c({ tool_calls: [{ index: 0, id: 'call_2', type: 'function', function: { name: 'multi_agent_v1__spawn_agent', arguments: '' } }] }) +
      c({ tool_calls: [{ index: 0, function: { arguments: '{"mess' } }] }) +
      c({ tool_calls: [{ index: 0, function: { arguments: 'age":"audit"}' } }] }) +
      c({ tool_calls: [{ index: 1, id: 'call_5', type: 'function', function: { name: 'exec_command', arguments: '{}' } }] }) +
      c({}, 'tool_calls') +
      'data: [DONE]\n\n';
    // Split anywhere, the same events.
    const t = translatorFor('responses', 'chat')!;
    const whole = run(t.stream(CODEX_NS, { now }), sse);
    const cut = t.stream(CODEX_NS, { now });
    let pieces = '';
    for (let i = 0; i < sse.length; i += 7) pieces += cut.push(sse.slice(i, i + 7));
    expect(pieces + cut.end()).toBe(whole);
    const out = events(whole);
    const added = out.filter((e) => e.type === 'response.output_item.added').map((e) => e.item as Obj);
    expect(added[0]).toEqual({ id: 'fc_0_cc2', type: 'function_call', status: 'in_progress', arguments: '', call_id: 'call_2', name: 'spawn_agent', namespace: 'multi_agent_v1' });
    expect(added[1]).not.toHaveProperty('namespace');
    expect(out.find((e) => e.type === 'response.function_call_arguments.done')).toMatchObject({ name: 'spawn_agent', arguments: '{"message":"audit"}' });
    expect(out.find((e) => e.type === 'response.output_item.done')!.item).toEqual({ ...spawned, id: 'fc_0_cc2' });
    expect(((out.at(-1)!.response as Obj).output as Obj[])[0]).toEqual({ ...spawned, id: 'fc_0_cc2' });
  });

  it('golden: Anthropic events', () => {
    const sse =
      ev('message_start', { message: { id: 'msg_2', model: 'claude-x', usage: { input_tokens: 3, output_tokens: 1 } } }) +
      ev('content_block_start', { index: 0, content_block: { type: 'tool_use', id: 'call_2', name: 'multi_agent_v1__spawn_agent', input: {} } }) +
      ev('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: '{"message":' } }) +
      ev('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: '"audit"}' } }) +
      ev('content_block_stop', { index: 0 }) +
      ev('message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 9 } }) +
      ev('message_stop', {});
    const out = events(run(translatorFor('responses', 'anthropic')!.stream(CODEX_NS, { now }), sse));
    expect(out.find((e) => e.type === 'response.output_item.added')!.item).toMatchObject({ name: 'spawn_agent', namespace: 'multi_agent_v1', call_id: 'call_2' });
    expect(((out.at(-1)!.response as Obj).output as Obj[])[0]).toEqual({ ...spawned, id: 'fc_0_msg_2' });
  });

  it('the next turn: the reply\'s items sent back in input reach the target under the names its tools have', () => {
    const msg = { id: 'msg_3', type: 'message', role: 'assistant', model: 'claude-x', content: [{ type: 'tool_use', id: 'toolu_7', name: 'mcp__rmcp__echo', input: { message: 'hi' } }], stop_reason: 'tool_use', usage: { input_tokens: 1, output_tokens: 1 } };
    const item = ((translatorFor('responses', 'anthropic')!.reply(msg, 200, CODEX_NS) as Obj).output as Obj[])[0]!;
    // Codex drops the item id and status when it sends history back.
    const { id: _id, status: _status, ...sent } = item;
    const next = { ...CODEX_NS, input: [...(CODEX_NS.input as Obj[]), sent, { type: 'function_call_output', call_id: 'toolu_7', name: 'echo', namespace: 'mcp__rmcp__', output: 'hi' }] };
    const req = responsesToMessagesRequest(next, 'c');
    const calls = (req.messages as Array<{ content: Obj[] }>).flatMap((m) => m.content).filter((b) => b.type === 'tool_use');
    expect(calls.at(-1)).toEqual({ type: 'tool_use', id: 'toolu_7', name: 'mcp__rmcp__echo', input: { message: 'hi' } });
    expect((req.tools as Array<{ name: string }>).map((t) => t.name)).toContain('mcp__rmcp__echo');
    expect(buildToolNames([{ name: 'echo', namespace: 'mcp__rmcp__' }], 'messages').flat({ name: 'echo', namespace: 'mcp__rmcp__' })).toBe('mcp__rmcp__echo');
  });
});
