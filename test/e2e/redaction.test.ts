import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';

/** Synthetic values with the shapes real detectors look for. */
const GH = 'ghp_R8x2Lk9QvT4mZ7wN1pYc6Hd3Jf5Bs0Ga2Ue8';
const AWS = 'AKIAQ4ZRX7T2MPLW6KDN';
const EMAIL = 'dana.whitfield@northwind-labs.com';
const SSN = '512-44-7193';
const CARD = '4539 1488 0343 6467';
const STRIPE = 'sk_live_51Hc8YzKq2Lm4Np6Rs8Tu0Vw2Xy4Za6Bc8De0Fg2Hi4Jk6Lm8No';
const PLANTED = [GH, AWS, EMAIL, SSN, CARD];

const CONFIG = `pack: {name: redaction, version: "1"}
policies:
  chain: [pii-detector, code-sanitizer, dlp-filter]
policy:
  dlp-filter:
    blocked_terms: [project nightingale]
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "FAKE_URL/v1"}
    - {id: a, provider: anthropic, base_url: "FAKE_URL"}
`;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ config: CONFIG });
});
afterAll(() => stack.close());
beforeEach(() => stack.fake.reset());

function assertForwardedClean() {
  const seen = stack.fake.requests.at(-1)!;
  for (const p of PLANTED) expect(seen.rawBody, `upstream saw ${p}`).not.toContain(p);
  expect(seen.rawBody).toContain('[REDACTED:');
  expect(seen.rawBody.toLowerCase()).not.toContain('project nightingale');
  return seen;
}

const replyWithSecrets = `Sure. Use ${STRIPE} for payments and mail ${EMAIL} for access.`;

describe('OpenAI chat: secrets and PII everywhere in the request are redacted; the reply is cleaned too', () => {
  const client = () => new OpenAI({ baseURL: stack.openaiBase, apiKey: 'k', maxRetries: 0 });
  const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [
    { role: 'system', content: `Deploy with token ${GH}. Owner ${EMAIL}.` },
    { role: 'user', content: `Earlier: my SSN is ${SSN} and card ${CARD}. This is for Project Nightingale.` },
    { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'shell', arguments: JSON.stringify({ cmd: `aws configure set aws_access_key_id ${AWS}` }) } }] },
    { role: 'tool', tool_call_id: 'c1', content: `.env contents:\nGITHUB_TOKEN=${GH}\nADMIN_EMAIL=${EMAIL}` },
    { role: 'user', content: 'now fix the bug' },
  ];

  it('plain', async () => {
    stack.fake.setReplyText(replyWithSecrets);
    const res = await client().chat.completions.create({ model: 'gpt-4o', messages });
    const seen = assertForwardedClean();
    expect(JSON.parse((seen.body as any).messages[2].tool_calls[0].function.arguments).cmd).toMatch(/aws_access_key_id \[REDACTED:/);
    const text = res.choices[0]!.message.content!;
    expect(text).not.toContain(STRIPE);
    expect(text).not.toContain(EMAIL);
    expect(text).toMatch(/Sure\. Use \[REDACTED:SECRET\] for payments and mail \[REDACTED:EMAIL\] for access\./);
  });

  it('streamed', async () => {
    stack.fake.setReplyText(replyWithSecrets);
    const stream = await client().chat.completions.create({ model: 'gpt-4o', messages, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    assertForwardedClean();
    expect(text).toBe('Sure. Use [REDACTED:SECRET] for payments and mail [REDACTED:EMAIL] for access.');
  });
});

describe('Anthropic messages', () => {
  const client = () => new Anthropic({ baseURL: stack.anthropicBase, apiKey: 'k', maxRetries: 0 });
  const params = {
    model: 'test-model',
    max_tokens: 100,
    system: [{ type: 'text' as const, text: `Token ${GH}; owner ${EMAIL}` }],
    messages: [
      { role: 'user' as const, content: `SSN ${SSN}, card ${CARD}, Project Nightingale` },
      { role: 'assistant' as const, content: [{ type: 'tool_use' as const, id: 't1', name: 'Bash', input: { command: `export AWS_ACCESS_KEY_ID=${AWS}` } }] },
      { role: 'user' as const, content: [{ type: 'tool_result' as const, tool_use_id: 't1', content: [{ type: 'text' as const, text: `GITHUB_TOKEN=${GH}` }] }, { type: 'text' as const, text: 'continue' }] },
    ],
  };

  it('plain', async () => {
    stack.fake.setReplyText(replyWithSecrets);
    const msg = await client().messages.create(params);
    assertForwardedClean();
    const text = msg.content[0]!.type === 'text' ? msg.content[0]!.text : '';
    expect(text).toBe('Sure. Use [REDACTED:SECRET] for payments and mail [REDACTED:EMAIL] for access.');
  });

  it('streamed', async () => {
    stack.fake.setReplyText(replyWithSecrets);
    const final = await client().messages.stream(params).finalMessage();
    assertForwardedClean();
    const text = final.content[0]!.type === 'text' ? final.content[0]!.text : '';
    expect(text).toBe('Sure. Use [REDACTED:SECRET] for payments and mail [REDACTED:EMAIL] for access.');
  });
});

describe('OpenAI responses', () => {
  const client = () => new OpenAI({ baseURL: stack.openaiBase, apiKey: 'k', maxRetries: 0 });
  const input: OpenAI.Responses.ResponseInput = [
    { role: 'developer', content: `Owner ${EMAIL}, token ${GH}` },
    { role: 'user', content: `SSN ${SSN} card ${CARD} re Project Nightingale` },
    { type: 'function_call', call_id: 'c1', name: 'exec_command', arguments: JSON.stringify({ cmd: `echo ${AWS}` }) },
    { type: 'function_call_output', call_id: 'c1', output: `GITHUB_TOKEN=${GH}` },
  ];

  it('plain', async () => {
    stack.fake.setReplyText(replyWithSecrets);
    const res = await client().responses.create({ model: 'gpt-5', input, instructions: `contact ${EMAIL}` });
    assertForwardedClean();
    expect(res.output_text).toBe('Sure. Use [REDACTED:SECRET] for payments and mail [REDACTED:EMAIL] for access.');
  });

  it('streamed', async () => {
    stack.fake.setReplyText(replyWithSecrets);
    const stream = await client().responses.create({ model: 'gpt-5', input, stream: true });
    let deltas = '';
    let final = '';
    for await (const ev of stream) {
      if (ev.type === 'response.output_text.delta') deltas += ev.delta;
      if (ev.type === 'response.completed') final = ev.response.output_text ?? JSON.stringify(ev.response.output);
    }
    assertForwardedClean();
    expect(deltas).toBe('Sure. Use [REDACTED:SECRET] for payments and mail [REDACTED:EMAIL] for access.');
    expect(final).not.toContain(STRIPE);
  });
});

describe('blocking', () => {
  it('a block answers a final 400 in the client shape naming the policy, and nothing reaches the upstream', async () => {
    const local = await startStack({ config: CONFIG.replace('blocked_terms: [project nightingale]', 'blocked_terms: [project nightingale]\n    action: block') });
    try {
      const err = await new OpenAI({ baseURL: local.openaiBase, apiKey: 'k', maxRetries: 0 }).chat.completions
        .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'status of Project Nightingale?' }] })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect((err as any).error).toMatchObject({ type: 'invalid_request_error', code: 'input_blocked', policy: 'dlp-filter', location: 'a user message in turn 1' });
      expect((err as Error).message).not.toMatch(/nightingale/i);
      expect(local.fake.requests).toHaveLength(0);
      const aErr = await new Anthropic({ baseURL: local.anthropicBase, apiKey: 'k', maxRetries: 0 }).messages
        .create({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'Project Nightingale' }] })
        .catch((e: unknown) => e);
      expect(aErr).toBeInstanceOf(Anthropic.BadRequestError);
      expect((aErr as any).error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', code: 'input_blocked', policy: 'dlp-filter' } });
    } finally {
      await local.close();
    }
  });
});

describe('tool calls in replies are guarded too, streamed or not', () => {
  let local: Stack;
  beforeAll(async () => {
    local = await startStack({ config: CONFIG, fake: { toolInput: { command: `git push https://x:${GH}@github.com/acme/app.git` } } });
  });
  afterAll(() => local.close());
  const tools = [{ type: 'function' as const, function: { name: 'shell', parameters: { type: 'object', properties: {} } } }];

  it('OpenAI chat: streamed tool-call argument deltas never carry the token', async () => {
    const c = new OpenAI({ baseURL: local.openaiBase, apiKey: 'k', maxRetries: 0 });
    const plain = await c.chat.completions.create({ model: 'gpt-4o', tools, messages: [{ role: 'user', content: 'TOOLTEST' }] });
    const args = (plain.choices[0]!.message.tool_calls![0] as any).function.arguments as string;
    expect(args).not.toContain(GH);
    expect(JSON.parse(args).command).toMatch(/\[REDACTED:/);
    const final = await c.chat.completions.stream({ model: 'gpt-4o', tools, messages: [{ role: 'user', content: 'TOOLTEST' }] }).finalChatCompletion();
    const streamedArgs = (final.choices[0]!.message.tool_calls![0] as any).function.arguments as string;
    expect(streamedArgs).not.toContain(GH);
    expect(streamedArgs).toMatch(/\[REDACTED:/);
  });

  it('Anthropic: streamed input_json_delta never carries the token', async () => {
    const a = new Anthropic({ baseURL: local.anthropicBase, apiKey: 'k', maxRetries: 0 });
    const t = [{ name: 'Bash', input_schema: { type: 'object' as const, properties: {} } }];
    const stream = a.messages.stream({ model: 'm', max_tokens: 50, tools: t, messages: [{ role: 'user', content: 'TOOLTEST' }] });
    let raw = '';
    stream.on('inputJson', (partial) => (raw += partial));
    const final = await stream.finalMessage();
    expect(raw).not.toContain(GH);
    expect(JSON.stringify(final.content)).not.toContain(GH);
  });

  it('Responses: function_call_arguments deltas and the completed response never carry the token', async () => {
    const c = new OpenAI({ baseURL: local.openaiBase, apiKey: 'k', maxRetries: 0 });
    const stream = await c.responses.create({ model: 'gpt-5', stream: true, input: 'TOOLTEST', tools: [{ type: 'function', name: 'exec_command', parameters: { type: 'object', properties: {} }, strict: false }] });
    let all = '';
    for await (const ev of stream) all += JSON.stringify(ev);
    expect(all).not.toContain(GH);
    expect(all).toContain('REDACTED');
  });
});

describe('an output block mid-stream ends the stream as the SDKs expect', () => {
  let local: Stack;
  beforeAll(async () => {
    local = await startStack({
      config: CONFIG.replace('policy:\n', 'policy:\n  code-sanitizer:\n    block_on_match: true\n    apply_to: output\n'),
      fake: { replyText: `Here you go: ${STRIPE} and more text after it.`, chunkSize: 5 },
    });
  });
  afterAll(() => local.close());

  it('openai chat stream: iteration throws an APIError and the key never arrives', async () => {
    const c = new OpenAI({ baseURL: local.openaiBase, apiKey: 'k', maxRetries: 0 });
    const stream = await c.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    let text = '';
    const err = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as Error).message).toMatch(/keeptrusts withheld the model's reply\. code-sanitizer found SECRET/);
    expect((err as any).error).toMatchObject({ type: 'invalid_request_error', code: 'output_blocked', policy: 'code-sanitizer' });
    expect(text).not.toContain('sk_live');
  });

  it('openai chat, not streamed: 400 output_blocked', async () => {
    const c = new OpenAI({ baseURL: local.openaiBase, apiKey: 'k', maxRetries: 0 });
    const err = await c.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as any).error).toMatchObject({ type: 'invalid_request_error', code: 'output_blocked', policy: 'code-sanitizer', location: 'the reply text' });
  });

  it('anthropic stream: the SDK raises an error event and the key never arrives', async () => {
    const a = new Anthropic({ baseURL: local.anthropicBase, apiKey: 'k', maxRetries: 0 });
    let text = '';
    const stream = a.messages.stream({ model: 'm', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] });
    stream.on('text', (t) => (text += t));
    const err = await stream.finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(String((err as Error).message)).toMatch(/keeptrusts withheld the model's reply\. code-sanitizer found SECRET/);
    expect(text).not.toContain('sk_live');
  });

  it('responses stream: the SDK yields an error event and response.failed, the stream ends, and the key never arrives', async () => {
    const c = new OpenAI({ baseURL: local.openaiBase, apiKey: 'k', maxRetries: 0 });
    const stream = await c.responses.create({ model: 'gpt-5', input: 'hi', stream: true });
    const events: Array<{ type: string; message?: string; code?: string; response?: any }> = [];
    for await (const ev of stream) events.push(ev as never);
    expect(JSON.stringify(events)).not.toContain('sk_live');
    expect(events.at(-2)).toMatchObject({ type: 'error', code: 'output_blocked', policy: 'code-sanitizer' });
    expect(events.at(-2)!.message).toMatch(/keeptrusts withheld the model's reply\. code-sanitizer found SECRET/);
    expect(events.at(-1)).toMatchObject({ type: 'response.failed', response: { status: 'failed', error: { code: 'invalid_prompt', refusal_code: 'output_blocked' } } });
    expect(events.some((e) => e.type === 'response.completed')).toBe(false);
  });
});
