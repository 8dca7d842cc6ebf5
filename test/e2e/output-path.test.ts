import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FakeFault } from '../../src/testing/fake-upstream.js';
import { startStack, type Stack } from '../helpers/stack.js';

/**
 * The output path fails closed: every reply the output policies should read is read (whatever its declared
 * type, encoding, status or frame shape) or refused by the fail mode, and no reply can hold the gateway's
 * memory or a client's connection without bound.
 */
const GH = 'ghp_R8x2Lk9QvT4mZ7wN1pYc6Hd3Jf5Bs0Ga2Ue8';
const EMAIL = 'dana.whitfield@northwind-labs.com';

const CONFIG = `pack: {name: output, version: "1"}
policies:
  chain: [pii-detector, code-sanitizer]
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "FAKE_URL/v1"}
    - {id: a, provider: anthropic, base_url: "FAKE_URL"}
`;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ config: CONFIG, maxResponseBytes: 1024 * 1024 });
});
afterAll(() => stack.close());
beforeEach(() => stack.fake.reset());

const PATHS = { chat: '/v1/chat/completions', messages: '/v1/messages', responses: '/v1/responses' } as const;
type Fam = keyof typeof PATHS;

function body(family: Fam, stream: boolean): Record<string, unknown> {
  if (family === 'responses') return { model: 'gpt-5', input: 'hi', stream };
  return { model: family === 'messages' ? 'claude-x' : 'gpt-4o', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }], stream };
}

async function call(family: Fam, stream: boolean, s: Stack = stack): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  const res = await request(`${s.gateway.url}${PATHS[family]}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer k', 'x-api-key': 'k', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify(body(family, stream)),
    bodyTimeout: 10_000,
    headersTimeout: 10_000,
  });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

function raw(chunks: Array<string | Buffer>, headers: Record<string, string>, extra: Partial<Extract<FakeFault, { kind: 'raw' }>> = {}): void {
  stack.fake.setFault({ kind: 'raw', chunks, headers, ...extra }, { times: 1 });
}

const sseHeaders = { 'content-type': 'text/event-stream' };
const frame = (data: unknown, event?: string) => `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;

describe('replies of any declared type are checked, not passed blind', () => {
  const reply = { id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: `use ${GH} and mail ${EMAIL}` }, finish_reason: 'stop' }] };
  const cases: Array<[string, Record<string, string>, string | Buffer]> = [
    ['Application/JSON', { 'content-type': 'Application/JSON' }, JSON.stringify(reply)],
    ['application/json with a byte order mark', { 'content-type': 'application/json' }, `\uFEFF${JSON.stringify(reply)}`],
    ['text/plain', { 'content-type': 'text/plain' }, `the key is ${GH}, mail ${EMAIL}`],
    ['application/octet-stream', { 'content-type': 'application/octet-stream' }, `the key is ${GH}, mail ${EMAIL}`],
    ['no content type', {}, `the key is ${GH}, mail ${EMAIL}`],
    ['JSON that is not valid', { 'content-type': 'application/json' }, `{"oops": "${GH} ${EMAIL}"`],
    ['a JSON string at the top', { 'content-type': 'application/json' }, JSON.stringify(`${GH} ${EMAIL}`)],
    ['SSE under a JSON type', { 'content-type': 'application/json' }, frame({ choices: [{ index: 0, delta: { content: `${GH} ${EMAIL}` } }] }) + 'data: [DONE]\n\n'],
  ];
  for (const [name, headers, payload] of cases) {
    it(name, async () => {
      raw([payload], headers);
      const res = await call('chat', false);
      expect(res.text).not.toContain(GH);
      expect(res.text).not.toContain(EMAIL);
      expect(res.text).toContain('[REDACTED:');
    });
  }

  it('Text/Event-Stream in any case goes through the stream guard', async () => {
    raw([frame({ choices: [{ index: 0, delta: { content: `key ${GH}` } }] }), 'data: [DONE]\n\n'], { 'content-type': 'Text/Event-Stream; charset=UTF-8' });
    const res = await call('chat', true);
    expect(res.text).not.toContain(GH);
    expect(res.text).toContain('[REDACTED:');
  });

  it('error replies are checked too: a provider error quoting the prompt does not echo a secret', async () => {
    for (const family of ['chat', 'messages'] as const) {
      raw([JSON.stringify({ error: { message: `invalid value '${GH}' for ${EMAIL}`, type: 'invalid_request_error' } })], { 'content-type': 'application/json' }, { status: 400 });
      const res = await call(family, false);
      expect(res.status).toBe(400);
      expect(res.text).not.toContain(GH);
      expect(res.text).not.toContain(EMAIL);
    }
    // Twice: a 502 is retried once on the same target.
    stack.fake.setFault({ kind: 'raw', chunks: [`<html>Bad gateway for ${EMAIL}</html>`], headers: { 'content-type': 'text/html' }, status: 502 }, { times: 2 });
    const html = await call('chat', false);
    expect(html.status).toBe(502);
    expect(html.text).not.toContain(EMAIL);
  });

  it('binary replies cannot be read: refused under fail-mode block, passed and flagged under allow', async () => {
    const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff, 0xfe, 0x00, 0x01]);
    raw([bytes], { 'content-type': 'application/octet-stream' });
    const blocked = await call('chat', false);
    expect(blocked.status).toBe(502);
    expect(JSON.parse(blocked.text).error.code).toBe('uncheckable_response');
    const allow = await startStack({ config: CONFIG, gateway: { failMode: 'allow' } });
    try {
      allow.fake.setFault({ kind: 'raw', chunks: [bytes], headers: { 'content-type': 'application/octet-stream' } }, { times: 1 });
      const passed = await call('chat', false, allow);
      expect(passed.status).toBe(200);
    } finally {
      await allow.close();
    }
  });
});

describe('every text in a streamed reply is checked, known field or not', () => {
  const cases: Array<[string, Fam, string[]]> = [
    ['chat delta.refusal', 'chat', [frame({ choices: [{ index: 0, delta: { refusal: `no: ${GH}` } }] }), frame({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }), 'data: [DONE]\n\n']],
    ['chat delta.reasoning_content, split', 'chat', [frame({ choices: [{ index: 0, delta: { reasoning_content: `think ${GH.slice(0, 12)}` } }] }), frame({ choices: [{ index: 0, delta: { reasoning_content: `${GH.slice(12)} done` } }] }), frame({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }), 'data: [DONE]\n\n']],
    ['chat legacy function_call arguments', 'chat', [frame({ choices: [{ index: 0, delta: { function_call: { name: 'f', arguments: `{"k":"${GH}"}` } } }] }), frame({ choices: [{ index: 0, delta: {}, finish_reason: 'function_call' }] }), 'data: [DONE]\n\n']],
    ['chat: a field of a future version, in the chunk', 'chat', [frame({ choices: [{ index: 0, delta: { content: 'ok' } }], future_field: { note: `leak ${GH}` } }), 'data: [DONE]\n\n']],
    [
      'Anthropic thinking_delta',
      'messages',
      [frame({ type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '' } }, 'content_block_start'), frame({ type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: `I see ${GH}` } }, 'content_block_delta'), frame({ type: 'content_block_stop', index: 0 }, 'content_block_stop'), frame({ type: 'message_stop' }, 'message_stop')],
    ],
    ['Anthropic tool input in content_block_start', 'messages', [frame({ type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_1', name: 'Bash', input: { command: `curl -H "${GH}"` } } }, 'content_block_start'), frame({ type: 'content_block_stop', index: 0 }, 'content_block_stop'), frame({ type: 'message_stop' }, 'message_stop')]],
    ['Anthropic content in message_start', 'messages', [frame({ type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', content: [{ type: 'text', text: `pre ${GH}` }] } }, 'message_start'), frame({ type: 'message_stop' }, 'message_stop')]],
    ['Anthropic delta of an unknown type', 'messages', [frame({ type: 'content_block_delta', index: 0, delta: { type: 'future_delta', words: `x ${GH}` } }, 'content_block_delta'), frame({ type: 'content_block_stop', index: 0 }, 'content_block_stop'), frame({ type: 'message_stop' }, 'message_stop')]],
    ['Responses refusal delta', 'responses', [frame({ type: 'response.refusal.delta', output_index: 0, content_index: 0, delta: `no ${GH}` }, 'response.refusal.delta'), frame({ type: 'response.refusal.done', output_index: 0, content_index: 0, refusal: `no ${GH}` }, 'response.refusal.done'), frame({ type: 'response.completed', response: { id: 'r', status: 'completed', output: [] } }, 'response.completed')]],
    ['Responses reasoning summary delta', 'responses', [frame({ type: 'response.reasoning_summary_text.delta', output_index: 0, summary_index: 0, delta: `hm ${GH}` }, 'response.reasoning_summary_text.delta'), frame({ type: 'response.completed', response: { id: 'r', status: 'completed', output: [] } }, 'response.completed')]],
    ['Responses custom_tool_call_input.delta', 'responses', [frame({ type: 'response.custom_tool_call_input.delta', output_index: 0, delta: `echo ${GH}` }, 'response.custom_tool_call_input.delta'), frame({ type: 'response.completed', response: { id: 'r', status: 'completed', output: [] } }, 'response.completed')]],
    ['Responses output_text.done without deltas', 'responses', [frame({ type: 'response.output_text.done', output_index: 0, content_index: 0, text: `all ${GH}` }, 'response.output_text.done'), frame({ type: 'response.completed', response: { id: 'r', status: 'completed', output: [] } }, 'response.completed')]],
    ['Responses output_item.added', 'responses', [frame({ type: 'response.output_item.added', output_index: 0, item: { type: 'function_call', name: 'sh', arguments: `{"cmd":"${GH}"}`, call_id: 'c' } }, 'response.output_item.added'), frame({ type: 'response.completed', response: { id: 'r', status: 'completed', output: [] } }, 'response.completed')]],
    ['a comment line', 'chat', [`: note ${GH}\n\n`, frame({ choices: [{ index: 0, delta: { content: 'ok' } }] }), 'data: [DONE]\n\n']],
    ['a data line that is not JSON', 'chat', [`data: plain ${GH}\n\n`, 'data: [DONE]\n\n']],
    ['frames ending in CR only', 'chat', [`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: `x ${GH}` } }] })}\r\r`, 'data: [DONE]\r\r']],
  ];
  for (const [name, family, frames] of cases) {
    it(name, async () => {
      raw(frames, sseHeaders);
      const res = await call(family, true);
      expect(res.text, res.text).not.toContain(GH.slice(4, 20));
      expect(res.text).toContain('[REDACTED:');
    });
  }
});

describe('streamed tool arguments are scanned decoded and stay valid JSON', () => {
  const args = { cmd: `printf 'a\\n'\n${GH}`, to: `"quoted"\n${EMAIL}`, n: 4111111111111111 };
  const argsText = JSON.stringify(args);

  function framesFor(family: Fam, pieces: string[]): string[] {
    if (family === 'chat') {
      return [
        frame({ choices: [{ index: 0, delta: { role: 'assistant', tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'shell', arguments: '' } }] } }] }),
        ...pieces.map((p) => frame({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: p } }] } }] })),
        frame({ choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] }),
        'data: [DONE]\n\n',
      ];
    }
    if (family === 'messages') {
      return [
        frame({ type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_1', name: 'shell', input: {} } }, 'content_block_start'),
        ...pieces.map((p) => frame({ type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: p } }, 'content_block_delta')),
        frame({ type: 'content_block_stop', index: 0 }, 'content_block_stop'),
        frame({ type: 'message_stop' }, 'message_stop'),
      ];
    }
    return [
      frame({ type: 'response.output_item.added', output_index: 0, item: { type: 'function_call', name: 'shell', arguments: '', call_id: 'c1' } }, 'response.output_item.added'),
      ...pieces.map((p) => frame({ type: 'response.function_call_arguments.delta', output_index: 0, delta: p }, 'response.function_call_arguments.delta')),
      frame({ type: 'response.function_call_arguments.done', output_index: 0, arguments: argsText }, 'response.function_call_arguments.done'),
      frame({ type: 'response.completed', response: { id: 'r', status: 'completed', output: [{ type: 'function_call', name: 'shell', arguments: argsText, call_id: 'c1' }] } }, 'response.completed'),
    ];
  }

  /** The arguments as the client assembles them from the deltas it received. */
  function received(family: Fam, text: string): string {
    let out = '';
    for (const block of text.split('\n\n')) {
      const data = block.split('\n').find((l) => l.startsWith('data: '))?.slice(6);
      if (!data || data === '[DONE]') continue;
      const f = JSON.parse(data);
      if (family === 'chat') out += f.choices?.[0]?.delta?.tool_calls?.[0]?.function?.arguments ?? '';
      else if (family === 'messages') out += f.delta?.partial_json ?? '';
      else if (f.type === 'response.function_call_arguments.delta') out += f.delta;
    }
    return out;
  }

  async function nonStreamed(): Promise<unknown> {
    raw([JSON.stringify({ id: 'x', choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'shell', arguments: argsText } }] }, finish_reason: 'tool_calls' }] })], { 'content-type': 'application/json' });
    const res = await call('chat', false);
    return JSON.parse(JSON.parse(res.text).choices[0].message.tool_calls[0].function.arguments);
  }

  it('property: any split, every family: the client parses the arguments, no secret reaches it, and they equal the non-streamed redaction', async () => {
    const expected = await nonStreamed();
    expect(JSON.stringify(expected)).not.toContain(GH);
    expect(JSON.stringify(expected)).not.toContain(EMAIL);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom<Fam>('chat', 'messages', 'responses'), fc.array(fc.integer({ min: 1, max: argsText.length - 1 }), { maxLength: 12 }), async (family, cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const pieces = [0, ...points].map((p, i) => argsText.slice(p, points[i] ?? argsText.length)).filter((p) => p.length > 0);
        raw(framesFor(family, pieces), sseHeaders);
        const res = await call(family, true);
        expect(res.text).not.toContain(GH.slice(4, 20));
        expect(res.text).not.toContain(EMAIL);
        expect(JSON.parse(received(family, res.text))).toEqual(expected);
      }),
      { numRuns: 40 },
    );
  });

  it('every single split point, chat', async () => {
    const expected = await nonStreamed();
    for (let cut = 1; cut < argsText.length; cut++) {
      raw(framesFor('chat', [argsText.slice(0, cut), argsText.slice(cut)]), sseHeaders);
      const res = await call('chat', true);
      expect(JSON.parse(received('chat', res.text)), `cut at ${cut}`).toEqual(expected);
    }
  });
});

describe('compressed replies: an error on either side reaches the other', () => {
  const stream = [frame({ choices: [{ index: 0, delta: { content: 'hello ' } }] }), frame({ choices: [{ index: 0, delta: { content: 'world' } }] }), 'data: [DONE]\n\n'].join('');
  const encoders: Record<string, (b: Buffer) => Buffer> = { gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync };

  for (const [encoding, encode] of Object.entries(encoders)) {
    it(`${encoding}: a stream cut at any point ends with the protocol's error frame, promptly, and frees its slot`, async () => {
      const whole = encode(Buffer.from(stream.repeat(20)));
      for (const fraction of [0.1, 0.5, 0.9]) {
        const cut = Math.max(1, Math.floor(whole.length * fraction));
        raw([whole.subarray(0, cut)], { ...sseHeaders, 'content-encoding': encoding }, { ending: 'destroy' });
        const started = Date.now();
        const res = await call('chat', true);
        expect(res.text, `${encoding} cut at ${cut}/${whole.length}`).toMatch(/"error":\{"message":"the upstream stream ended before completion"/);
        expect(Date.now() - started).toBeLessThan(5_000);
      }
      const health = await (await request(`${stack.gateway.url}/healthz`)).body.json();
      expect(health).toEqual({ status: 'ok' });
    });

    it(`${encoding}: a JSON reply cut mid-way is a 502, and a corrupt one a 502 naming the encoding`, async () => {
      const json = encode(Buffer.from(JSON.stringify({ choices: [{ index: 0, message: { content: 'x'.repeat(5000) } }] })));
      raw([json.subarray(0, Math.floor(json.length / 2))], { 'content-type': 'application/json', 'content-encoding': encoding }, { ending: 'destroy' });
      const cut = await call('chat', false);
      expect(cut.status).toBe(502);
      expect(JSON.parse(cut.text).error.code).toMatch(/upstream_cut|bad_upstream_encoding/);
      raw([Buffer.from('this is not compressed at all, not even a little')], { 'content-type': 'application/json', 'content-encoding': encoding });
      const corrupt = await call('chat', false);
      expect(corrupt.status).toBe(502);
      expect(JSON.parse(corrupt.text).error.code).toBe('bad_upstream_encoding');
    });
  }
});

describe('one byte budget per reply', () => {
  it('an unterminated SSE frame larger than the budget ends the stream cleanly, and other clients are served meanwhile', async () => {
    const piece = `data: {"choices":[{"index":0,"delta":{"content":"${'a'.repeat(64 * 1024)}`;
    raw([piece, ...Array.from({ length: 40 }, () => 'b'.repeat(64 * 1024))], sseHeaders, { gapMs: 5 });
    const big = call('chat', true);
    const other = await request(`${stack.gateway.url}/healthz`);
    expect(other.statusCode).toBe(200);
    await other.body.dump();
    const res = await big;
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/"error":\{"message":"the reply is larger than the gateway's limit of 1048576 bytes/);
  });

  it('a JSON reply over the budget is a 502 (not a 413 about the request)', async () => {
    raw([`{"choices":[{"index":0,"message":{"content":"${'x'.repeat(2 * 1024 * 1024)}"}}]}`], { 'content-type': 'application/json' });
    const res = await call('chat', false);
    expect(res.status).toBe(502);
    expect(JSON.parse(res.text).error.code).toBe('response_too_large');
  });
});
