import { describe, expect, it } from 'vitest';
import { writeBack, type Edit } from '../../src/protocol/content.js';
import { requestSegments, responseSegments } from '../../src/protocol/families.js';

const view = (segs: ReturnType<typeof requestSegments>) =>
  segs.map((s) => [s.source, s.turn, s.path.join('.') + (s.innerPath ? `#${s.innerPath.join('.')}` : '') + (s.key ? ' (name)' : ''), s.text]);

/** Replace every occurrence of `needle` in every segment, through the content view, and return the body. */
function redactAll(segs: ReturnType<typeof requestSegments>, body: Record<string, unknown>, needle: string) {
  const edits: Edit[] = [];
  for (const s of segs) {
    let i = s.text.indexOf(needle);
    while (i >= 0) {
      edits.push({ segment: s.id, start: i, end: i + needle.length, replacement: '[X]' });
      i = s.text.indexOf(needle, i + 1);
    }
  }
  writeBack(body, segs, edits);
  return body;
}

describe('content view: OpenAI chat completions', () => {
  const body = () => ({
    model: 'gpt-4o',
    temperature: 0,
    messages: [
      { role: 'system', content: 'sys S3CRET' },
      { role: 'user', content: [{ type: 'text', text: 'look S3CRET' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'run', arguments: '{"cmd":"echo S3CRET","n":2}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: 'out S3CRET' },
      { role: 'developer', content: 'dev' },
    ],
  });

  it('finds every text: parameters, system, user parts, tool names, tool-call arguments leaves and tool results; skips image bytes and ids', () => {
    expect(view(requestSegments('chat', body()))).toEqual([
      ['other', -1, 'model', 'gpt-4o'],
      ['system', 0, 'messages.0.content', 'sys S3CRET'],
      ['user', 1, 'messages.1.content.0.text', 'look S3CRET'],
      ['tool_call', 2, 'messages.2.tool_calls.0.function.name', 'run'],
      ['tool_call', 2, 'messages.2.tool_calls.0.function.arguments#cmd', 'echo S3CRET'],
      ['tool_result', 3, 'messages.3.content', 'out S3CRET'],
      ['developer', 4, 'messages.4.content', 'dev'],
    ]);
  });

  it('writes edits back in place, keeping the rest of the body (arguments stay a JSON string)', () => {
    const b = body();
    redactAll(requestSegments('chat', b), b, 'S3CRET');
    expect(b).toEqual({
      model: 'gpt-4o',
      temperature: 0,
      messages: [
        { role: 'system', content: 'sys [X]' },
        { role: 'user', content: [{ type: 'text', text: 'look [X]' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'run', arguments: '{"cmd":"echo [X]","n":2}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'out [X]' },
        { role: 'developer', content: 'dev' },
      ],
    });
  });

  it('reads a response: message text and tool-call arguments', () => {
    const res = { choices: [{ index: 0, message: { role: 'assistant', content: 'hi S3CRET', tool_calls: [{ function: { name: 'f', arguments: '{"a":"S3CRET"}' } }] } }] };
    expect(view(responseSegments('chat', res))).toEqual([
      ['output_text', 0, 'choices.0.message.content', 'hi S3CRET'],
      ['output_tool_call', 0, 'choices.0.message.tool_calls.0.function.name', 'f'],
      ['output_tool_call', 0, 'choices.0.message.tool_calls.0.function.arguments#a', 'S3CRET'],
    ]);
  });
});

describe('content view: Anthropic messages', () => {
  const body = () => ({
    model: 'claude',
    system: [{ type: 'text', text: 'billing header' }, { type: 'text', text: 'sys S3CRET', cache_control: { type: 'ephemeral' } }],
    messages: [
      { role: 'user', content: 'plain S3CRET' },
      { role: 'system', content: 'env block S3CRET' },
      {
        role: 'assistant',
        content: [
          { type: 'thinking', thinking: 'S3CRET thoughts', signature: 'sig' },
          { type: 'text', text: 'calling' },
          { type: 'tool_use', id: 't1', name: 'Bash', input: { command: 'cat .env', env: { KEY: 'S3CRET' } } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'API_KEY=S3CRET' }] },
          { type: 'tool_result', tool_use_id: 't2', content: 'direct S3CRET' },
          { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'doc S3CRET' } },
        ],
      },
    ],
    thinking: { type: 'adaptive' },
  });

  it('finds system blocks, string turns, system-in-messages, thinking, tool_use names and input (member names too), nested tool results, documents', () => {
    expect(view(requestSegments('messages', body()))).toEqual([
      ['other', -1, 'model', 'claude'],
      ['system', -1, 'system.0.text', 'billing header'],
      ['system', -1, 'system.1.text', 'sys S3CRET'],
      ['user', 0, 'messages.0.content', 'plain S3CRET'],
      ['system', 1, 'messages.1.content', 'env block S3CRET'],
      ['assistant', 2, 'messages.2.content.0.thinking', 'S3CRET thoughts'],
      ['assistant', 2, 'messages.2.content.1.text', 'calling'],
      ['tool_call', 2, 'messages.2.content.2.name', 'Bash'],
      ['tool_call', 2, 'messages.2.content.2.input.command', 'cat .env'],
      ['tool_call', 2, 'messages.2.content.2.input.env.KEY (name)', 'KEY'],
      ['tool_call', 2, 'messages.2.content.2.input.env.KEY', 'S3CRET'],
      ['tool_result', 3, 'messages.3.content.0.content.0.text', 'API_KEY=S3CRET'],
      ['tool_result', 3, 'messages.3.content.1.content', 'direct S3CRET'],
      ['document', 3, 'messages.3.content.2.source.data', 'doc S3CRET'],
    ]);
  });

  it('writes edits back everywhere, signed thinking included (the provider then refuses it: the safe failure)', () => {
    const b = body();
    redactAll(requestSegments('messages', b), b, 'S3CRET');
    const text = JSON.stringify(b);
    expect(text).not.toContain('S3CRET');
    expect(b.messages[2]!.content).toContainEqual({ type: 'thinking', thinking: '[X] thoughts', signature: 'sig' });
    expect(b.messages[2]!.content).toContainEqual({ type: 'tool_use', id: 't1', name: 'Bash', input: { command: 'cat .env', env: { KEY: '[X]' } } });
  });
});

describe('content view: OpenAI responses', () => {
  const body = () => ({
    model: 'gpt-5',
    instructions: 'be S3CRET',
    input: [
      { role: 'developer', content: 'dev prompt' },
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi S3CRET' }] },
      { type: 'reasoning', encrypted_content: 'opaque' },
      { type: 'function_call', call_id: 'c', name: 'exec_command', arguments: '{"cmd":"echo S3CRET"}' },
      { type: 'function_call_output', call_id: 'c', output: 'S3CRET printed' },
    ],
    tools: [{ type: 'namespace', name: 'ns', tools: [] }],
    store: false,
  });

  it('finds instructions, developer and user input, function calls and their outputs', () => {
    expect(view(requestSegments('responses', body()))).toEqual([
      ['other', -1, 'model', 'gpt-5'],
      ['system', -1, 'instructions', 'be S3CRET'],
      ['developer', 0, 'input.0.content', 'dev prompt'],
      ['user', 1, 'input.1.content.0.text', 'hi S3CRET'],
      ['tool_call', 3, 'input.3.name', 'exec_command'],
      ['tool_call', 3, 'input.3.arguments#cmd', 'echo S3CRET'],
      ['tool_result', 4, 'input.4.output', 'S3CRET printed'],
      ['tool_definition', -1, 'tools.0.name', 'ns'],
    ]);
    expect(view(requestSegments('responses', { input: 'just S3CRET' }))).toEqual([['user', 0, 'input', 'just S3CRET']]);
  });

  it('reads output items of a response', () => {
    const res = { output: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'S3CRET out' }] }, { type: 'function_call', arguments: '{"x":"S3CRET"}' }] };
    expect(view(responseSegments('responses', res))).toEqual([
      ['output_text', 0, 'output.0.content.0.text', 'S3CRET out'],
      ['output_tool_call', 1, 'output.1.arguments#x', 'S3CRET'],
    ]);
    const b = body();
    redactAll(requestSegments('responses', b), b, 'S3CRET');
    expect(JSON.stringify(b)).not.toContain('S3CRET');
    expect(b.tools).toEqual([{ type: 'namespace', name: 'ns', tools: [] }]);
  });
});
