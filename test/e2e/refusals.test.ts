import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DecisionEvent } from '../../src/audit/event.js';
import { loadConfig } from '../../src/config/index.js';
import { createLimitEngine } from '../../src/usage/limits/index.js';
import { clockedLimits } from '../helpers/clocked-limits.js';
import { writeConfigs } from '../helpers/config.js';
import { startStack, type Stack } from '../helpers/stack.js';

type OpenAIApiError = InstanceType<typeof OpenAI.APIError>;
type AnthropicApiError = InstanceType<typeof Anthropic.APIError>;

/**
 * A refusal is final: every client, with its default retry settings, sends exactly one request per refusal and
 * the gateway records exactly one event for it (issue 17). The SDKs are used as shipped (maxRetries 2); Aider's
 * requests are replayed with the headers and bodies litellm sends (/work/shared/research/aider.md).
 */

const GH = 'ghp_R8x2Lk9QvT4mZ7wN1pYc6Hd3Jf5Bs0Ga2Ue8';
const STRIPE = 'sk_live_51Hc8YzKq2Lm4Np6Rs8Tu0Vw2Xy4Za6Bc8De0Fg2Hi4Jk6Lm8No';
const SECRETS = [GH, STRIPE, GH.slice(4), STRIPE.slice(8)];

const CONFIG = `pack: {name: refusals, version: "1"}
policies:
  chain: [code-sanitizer, dlp-filter, audit-logger]
policy:
  code-sanitizer:
    block_on_match: true
  dlp-filter:
    blocked_terms: [project nightingale]
    action: block
budgets:
  - {scope: developer, match: spender, limit_usd: 0.000001, period: day, mode: hard}
rate_limits:
  - {scope: developer, match: hasty, rpm: 1}
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "FAKE_URL/v1"}
    - {id: a, provider: anthropic, base_url: "FAKE_URL"}
`;

/**
 * Words litellm reads in an error's text as "retry later" (rate limit, overload, context window, content filter):
 * none may appear in a refusal, or Aider retries it for a minute.
 */
const LITELLM_RETRY_WORDS = /\b429\b|rate[\s_-]*limit|overloaded|content filtering policy|content_policy_violation|prompt is too long|maximum context length|Request too large|A timeout occurred/i;

/** Mid-day, mid-week: no budget period ends within a retry's patience. */
const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);
let now = T0;
let stack: Stack;

beforeAll(async () => {
  const [file] = writeConfigs(CONFIG.replaceAll('FAKE_URL', 'http://127.0.0.1:1'));
  const { loaded } = await loadConfig([file!]);
  stack = await startStack({
    config: CONFIG,
    audit: { dataDir: mkdtempSync(join(tmpdir(), 'kt-refusals-')) },
    gateway: { limits: clockedLimits(createLimitEngine(loaded!.config)!, () => now) },
    fake: { chunkSize: 6 },
  });
});
afterAll(() => stack.close());
beforeEach(() => {
  stack.fake.reset();
  now = T0;
});

/** A fetch for an SDK that counts what the client sends and keeps each answer's status and headers. */
function counting() {
  const sent: Array<{ status: number; headers: Headers }> = [];
  const f = async (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const res = await fetch(url, init);
    sent.push({ status: res.status, headers: res.headers });
    return res;
  };
  return { sent, fetch: f as typeof fetch };
}

let ids = 0;
/** Clients with their default retry settings, one request id per call (kept on every retry, so events can be counted). */
function clients(headers: Record<string, string> = {}) {
  const c = counting();
  const requestId = `refusal-${++ids}`;
  const defaultHeaders = { 'x-request-id': requestId, ...headers };
  return {
    ...c,
    requestId,
    openai: new OpenAI({ baseURL: stack.openaiBase, apiKey: 'k', fetch: c.fetch, defaultHeaders }),
    anthropic: new Anthropic({ baseURL: stack.anthropicBase, apiKey: 'k', fetch: c.fetch, defaultHeaders }),
  };
}

async function eventsFor(requestId: string): Promise<DecisionEvent[]> {
  await stack.trail!.recorder.caughtUp();
  return (await stack.trail!.store.query({ order: 'asc', limit: 1000 })).map((r) => r.event).filter((e) => e.request_id === requestId);
}

const inference = () => stack.fake.requests.filter((r) => r.family === 'chat' || r.family === 'responses' || r.family === 'messages');

/** What every refusal must tell the developer, and never: the value. */
function expectGoodMessage(message: string, parts: { policy: string; rule?: string; where: string; eventId: string }) {
  expect(message).toContain(`${parts.policy} found`);
  if (parts.rule) expect(message).toContain(`(rule ${parts.rule})`);
  expect(message).toContain(` in ${parts.where}`);
  expect(message).toContain(`event ${parts.eventId}`);
  for (const s of SECRETS) expect(message).not.toContain(s);
  expect(message).not.toMatch(LITELLM_RETRY_WORDS);
  expect(message).not.toMatch(/https?:\/\//); // Aider offers to open any URL in an error
}

async function drain(iterable: AsyncIterable<unknown>): Promise<{ text: string; error: unknown }> {
  let text = '';
  try {
    for await (const ev of iterable) text += JSON.stringify(ev);
    return { text, error: undefined };
  } catch (error) {
    return { text, error };
  }
}

describe('an input block: one request, one event, nothing upstream', () => {
  const messages = [{ role: 'user' as const, content: `deploy with ${GH} please` }];

  it('openai chat: BadRequestError naming policy, rule, place and event; x-should-retry: false', async () => {
    const c = clients();
    const err = await c.openai.chat.completions.create({ model: 'gpt-4o', messages }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(c.sent).toHaveLength(1);
    expect(c.sent[0]!.headers.get('x-should-retry')).toBe('false');
    expect(c.sent[0]!.headers.get('retry-after')).toBeNull();
    expect(inference()).toHaveLength(0);
    const [event, ...more] = await eventsFor(c.requestId);
    expect(more).toHaveLength(0);
    expect(event).toMatchObject({ status: 400, verdict: 'block', reason_code: 'input_blocked', error: { code: 'input_blocked', type: 'invalid_request_error' } });
    const body = (err as OpenAIApiError).error as Record<string, string>;
    expect(body).toMatchObject({ type: 'invalid_request_error', code: 'input_blocked', policy: 'code-sanitizer', rule: 'github-pat', location: 'a user message in turn 1', event_id: event!.id });
    expectGoodMessage(body.message!, { policy: 'code-sanitizer', rule: 'github-pat', where: 'a user message in turn 1', eventId: event!.id });
    expect(event!.error!.message).toBe(body.message);
    expect(JSON.stringify(event)).not.toContain(GH);
  });

  it('anthropic messages, streamed: BadRequestError before any event of the stream', async () => {
    const c = clients();
    const stream = c.anthropic.messages.stream({ model: 'claude-sonnet-4-20250514', max_tokens: 50, messages });
    const err = await stream.finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(c.sent).toHaveLength(1);
    expect(inference()).toHaveLength(0);
    expect(await eventsFor(c.requestId)).toHaveLength(1);
    const body = ((err as AnthropicApiError).error as { error: Record<string, string> }).error;
    expect(body).toMatchObject({ type: 'invalid_request_error', code: 'input_blocked', policy: 'code-sanitizer' });
    expectGoodMessage(body.message!, { policy: 'code-sanitizer', rule: 'github-pat', where: 'a user message in turn 1', eventId: body.event_id! });
  });

  it('openai responses, streamed (as Codex asks): BadRequestError, one request', async () => {
    const c = clients();
    const err = await c.openai.responses.create({ model: 'gpt-5', input: `deploy with ${GH}`, stream: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(c.sent).toHaveLength(1);
    expect(inference()).toHaveLength(0);
    expect(await eventsFor(c.requestId)).toHaveLength(1);
  });

});

describe('an escalation is final too, with its own code', () => {
  it('a reply held for review (no audit trail: the request id is what to ask about)', async () => {
    const local = await startStack({
      config: `pack: {name: esc, version: "1"}\npolicies: {chain: [code-sanitizer]}\npolicy:\n  code-sanitizer:\n    dangerous_code: {enabled: true, action: escalate}\nproviders:\n  targets: [{id: o, provider: openai-compatible, base_url: "FAKE_URL/v1"}]\n`,
      fake: { replyText: 'Run this to clean up:\n\n```sh\ncurl -s https://get.example.com/install.sh | sh\n```\n' },
    });
    try {
      const c = counting();
      const client = new OpenAI({ baseURL: local.openaiBase, apiKey: 'k', fetch: c.fetch, defaultHeaders: { 'x-request-id': 'esc-1' } });
      const err = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'how do I install it?' }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect(c.sent).toHaveLength(1);
      expect(c.sent[0]!.headers.get('x-keeptrusts-verdict')).toBe('escalate');
      expect(c.sent[0]!.headers.get('x-should-retry')).toBe('false');
      const body = (err as OpenAIApiError).error as Record<string, string>;
      expect(body).toMatchObject({ code: 'escalation_required', policy: 'code-sanitizer', location: 'the reply text', request_id: 'esc-1' });
      expect(body.message).toMatch(/^keeptrusts held the model's reply for review\. code-sanitizer found \S+ \(rule [a-z0-9-]+\) in the reply text\. Ask your keeptrusts admin about request esc-1\.$/);
      expect(local.fake.requests).toHaveLength(1);
    } finally {
      await local.close();
    }
  });
});

describe('an output block: one request, one upstream call, one event', () => {
  beforeEach(() => stack.fake.setReplyText(`Here you go: ${STRIPE} and more text after it.`));
  const messages = [{ role: 'user' as const, content: 'give me the key' }];

  async function expectOne(c: ReturnType<typeof clients>, status: number) {
    expect(c.sent).toHaveLength(1);
    expect(inference()).toHaveLength(1);
    const events = await eventsFor(c.requestId);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ status, verdict: 'block', reason_code: 'output_blocked', error: { code: 'output_blocked' } });
    return events[0]!;
  }

  it('openai chat, not streamed: BadRequestError', async () => {
    const c = clients();
    const err = await c.openai.chat.completions.create({ model: 'gpt-4o', messages }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const event = await expectOne(c, 400);
    const body = (err as OpenAIApiError).error as Record<string, string>;
    expect(body).toMatchObject({ type: 'invalid_request_error', code: 'output_blocked', policy: 'code-sanitizer', location: 'the reply text' });
    expectGoodMessage(body.message!, { policy: 'code-sanitizer', rule: body.rule!, where: 'the reply text', eventId: event.id });
  });

  it('anthropic, not streamed: BadRequestError', async () => {
    const c = clients();
    const err = await c.anthropic.messages.create({ model: 'claude-sonnet-4-20250514', max_tokens: 50, messages }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    await expectOne(c, 400);
  });

  it('openai chat, streamed: the iteration raises an APIError with the same code and message, nothing of the key arrives', async () => {
    const c = clients();
    const stream = await c.openai.chat.completions.create({ model: 'gpt-4o', messages, stream: true });
    const { text, error } = await drain(stream);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error).not.toBeInstanceOf(OpenAI.APIConnectionError);
    for (const s of SECRETS) expect(text).not.toContain(s);
    const event = await expectOne(c, 200);
    const body = (error as OpenAIApiError).error as Record<string, string>;
    expect(body).toMatchObject({ type: 'invalid_request_error', code: 'output_blocked', policy: 'code-sanitizer', location: 'the reply text', event_id: event.id });
    // The same message as the event's (which a non-streamed block would have had), plus the status line the stream could not send.
    expect(body.message).toBe(`${event.error!.message} [ended mid-stream by the gateway: Client error '400 Bad Request', invalid_request_error, output_blocked]`);
    expectGoodMessage(body.message!, { policy: 'code-sanitizer', where: 'the reply text', eventId: event.id });
  });

  it('anthropic, streamed: an empty text block completes, then the error; the SDK raises it', async () => {
    const c = clients();
    const stream = c.anthropic.messages.stream({ model: 'claude-sonnet-4-20250514', max_tokens: 50, messages });
    const seen: string[] = [];
    stream.on('streamEvent', (ev) => seen.push(ev.type));
    const err = await stream.finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(err).not.toBeInstanceOf(Anthropic.APIConnectionError);
    expect(seen.at(-1)).toBe('content_block_stop');
    const event = await expectOne(c, 200);
    const body = ((err as AnthropicApiError).error as { error: Record<string, string> }).error;
    expect(body).toMatchObject({ type: 'invalid_request_error', code: 'output_blocked', event_id: event.id });
    expectGoodMessage(body.message!, { policy: 'code-sanitizer', where: 'the reply text', eventId: event.id });
  });

  it('anthropic, a tool call blocked mid-stream: never completed (a client would run it), one request', async () => {
    const local = await startStack({ config: CONFIG, fake: { toolInput: { command: `deploy --key ${STRIPE}` }, chunkSize: 6 } });
    try {
      const c = counting();
      const client = new Anthropic({ baseURL: local.anthropicBase, apiKey: 'k', fetch: c.fetch });
      const stream = client.messages.stream({ model: 'claude-sonnet-4-20250514', max_tokens: 50, tools: [{ name: 'Bash', input_schema: { type: 'object', properties: {} } }], messages: [{ role: 'user', content: 'TOOLTEST' }] });
      const seen: Array<{ type: string; index?: number; content_block?: { type: string } }> = [];
      stream.on('streamEvent', (ev) => seen.push(ev as never));
      const err = await stream.finalMessage().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.APIError);
      const tool = seen.find((e) => e.type === 'content_block_start' && e.content_block?.type === 'tool_use')!;
      expect(tool).toBeDefined();
      expect(seen.some((e) => e.type === 'content_block_stop' && e.index === tool.index)).toBe(false);
      expect(JSON.stringify(seen)).not.toContain(STRIPE.slice(8));
      expect(c.sent).toHaveLength(1);
      expect(local.fake.requests).toHaveLength(1);
    } finally {
      await local.close();
    }
  });

  it('openai responses, streamed: an error event with the code, then response.failed with the code Codex takes as final', async () => {
    const c = clients();
    const stream = await c.openai.responses.create({ model: 'gpt-5', input: 'give me the key', stream: true });
    const events: Array<Record<string, any>> = [];
    for await (const ev of stream) events.push(ev as never);
    for (const s of SECRETS) expect(JSON.stringify(events)).not.toContain(s);
    const event = await expectOne(c, 200);
    expect(events.at(-2)).toMatchObject({ type: 'error', code: 'output_blocked', policy: 'code-sanitizer', message: event.error!.message });
    expect(events.at(-1)).toMatchObject({ type: 'response.failed', response: { status: 'failed', error: { code: 'invalid_prompt', message: event.error!.message, refusal_code: 'output_blocked' } } });
    expect(events.at(-1)!.sequence_number).toBe(events.at(-2)!.sequence_number + 1);
  });
});

describe('budgets and rate limits', () => {
  it('a spent hard budget (resets in hours): BadRequestError, no Retry-After, one request, one event, for both SDKs', async () => {
    const spender = { 'x-keeptrusts-developer': 'spender' };
    await clients(spender).openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    const upstream = inference().length;
    for (const family of ['openai', 'anthropic'] as const) {
      const c = clients(spender);
      const err =
        family === 'openai'
          ? await c.openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)
          : await c.anthropic.messages.create({ model: 'claude-sonnet-4-20250514', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(family === 'openai' ? OpenAI.BadRequestError : Anthropic.BadRequestError);
      expect(c.sent).toHaveLength(1);
      expect(c.sent[0]!.headers.get('retry-after')).toBeNull();
      expect(c.sent[0]!.headers.get('x-should-retry')).toBe('false');
      expect(inference()).toHaveLength(upstream);
      const events = await eventsFor(c.requestId);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ status: 400, verdict: 'block', reason_code: 'budget_exceeded' });
      const message = family === 'openai' ? (err as Error).message : ((err as AnthropicApiError).error as { error: { message: string } }).error.message;
      // The real amount (a millionth of a dollar), when it resets and how long that is, and the event.
      expect(message).toContain('developer "spender" has used its daily budget of $0.000001; it resets at 2025-01-16T00:00:00Z (in 12 h)');
      expect(message).toContain(`event ${events[0]!.id}`);
      expect(message).not.toMatch(LITELLM_RETRY_WORDS);
    }
  });

  it('rpm: 429 with an honest, short Retry-After, which the SDK waits out and retries', async () => {
    const hasty = { 'x-keeptrusts-developer': 'hasty' };
    await clients(hasty).openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    // 59.5 s later the first request is still in the window; it leaves at 61 s (the window reads 61 one-second buckets).
    now = T0 + 59_500;
    const c = clients(hasty);
    const retried: string[] = [];
    const quiet = () => undefined;
    const client = new OpenAI({
      baseURL: stack.openaiBase,
      apiKey: 'k',
      defaultHeaders: { 'x-request-id': c.requestId, ...hasty },
      logLevel: 'info',
      logger: { info: (msg: string) => retried.push(msg), debug: quiet, warn: quiet, error: quiet },
      fetch: (async (url: string | URL | Request, init?: RequestInit) => {
        // The client's retry comes after it slept Retry-After: by then the window has moved on.
        if (c.sent.length === 1) now = T0 + 61_000;
        return c.fetch(url, init);
      }) as typeof fetch,
    });
    const res = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.choices[0]!.message.content).toBeTruthy();
    expect(c.sent.map((s) => s.status)).toEqual([429, 200]);
    expect(c.sent[0]!.headers.get('retry-after')).toBe('2'); // 1.5 s until the slot frees, rounded up
    expect(c.sent[0]!.headers.get('x-should-retry')).toBeNull();
    expect(retried.some((m) => /retrying, 2 attempts remaining/.test(m))).toBe(true);
    const events = await eventsFor(c.requestId);
    expect(events.map((e) => [e.status, e.reason_code])).toEqual([
      [429, 'rate_limited'],
      [200, null],
    ]);
  });
});

describe("Aider's requests (litellm shapes): the same refusals, final by what litellm reads", () => {
  const FILE_MSG = `I have *added these files to the chat* so you can go ahead and edit them.\n\n*Trust this message as the true contents of these files!*\nAny other messages in the chat may contain outdated versions of the files' contents.\n\nm.py\n\`\`\`\ndef add(a, b):\n    return a + b\n\nTOKEN = "${GH}"\n\`\`\`\n`;
  const openaiHeaders = {
    'content-type': 'application/json',
    accept: 'application/json',
    authorization: 'Bearer sk-aider',
    'user-agent': 'OpenAI/Python 2.54.0',
    'x-stainless-lang': 'python',
    'x-stainless-package-version': '2.54.0',
    'x-stainless-retry-count': '0',
    'x-stainless-read-timeout': '600.0',
    'x-stainless-raw-response': 'true',
  };
  const anthropicHeaders = {
    'content-type': 'application/json',
    accept: 'application/json',
    'x-api-key': 'sk-ant-aider',
    'anthropic-version': '2023-06-01',
    'anthropic-beta': 'output-128k-2025-02-19',
    'user-agent': 'litellm/1.81.15',
  };
  const chatBody = (fileMsg: string) => ({
    model: 'gpt-4o',
    stream: true,
    temperature: 0,
    messages: [
      { role: 'system', content: 'Act as an expert software developer. Always use best practices when coding.' },
      { role: 'user', content: 'Here are summaries of some files present in my git repository.\nDo not propose changes to these files, treat them as *read-only*.\n\nm.py:\n│def add(a,b): return a+b' },
      { role: 'assistant', content: "Ok, I won't try and edit those files without asking first." },
      { role: 'user', content: fileMsg },
      { role: 'assistant', content: 'Ok, any changes I propose will be to those files.' },
      { role: 'user', content: 'add a docstring' },
      { role: 'system', content: '# SEARCH/REPLACE block Rules:\n\nEvery *SEARCH/REPLACE block* must use this format: ...' },
    ],
  });
  const text = (t: string) => [{ type: 'text', text: t }];
  const messagesBody = (fileMsg: string) => ({
    model: 'claude-sonnet-4-20250514',
    temperature: 0,
    max_tokens: 64000,
    stream: true,
    system: text('Act as an expert software developer.'),
    messages: [
      { role: 'user', content: text('I switched to a new code base. Please don\'t consider the above files or try to edit them any longer.') },
      { role: 'assistant', content: text('Ok.') },
      { role: 'user', content: text('Here are summaries of some files present in my git repository.\n\nm.py:\n│def add(a,b): return a+b') },
      { role: 'assistant', content: text("Ok, I won't try and edit those files without asking first.") },
      { role: 'user', content: text(fileMsg) },
      { role: 'assistant', content: text('Ok, any changes I propose will be to those files.') },
      { role: 'user', content: text('add a docstring\n\n# SEARCH/REPLACE block Rules: ...') },
    ],
  });

  async function send(path: string, headers: Record<string, string>, body: unknown) {
    const res = await request(`${stack.gateway.url}${path}`, { method: 'POST', headers: { ...headers, 'x-request-id': `aider-${++ids}` }, body: JSON.stringify(body) });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text(), requestId: `aider-${ids}` };
  }

  it('OpenAI route, a token in a chat file: 400 invalid_request_error naming the file, x-should-retry: false', async () => {
    const res = await send('/v1/chat/completions', openaiHeaders, chatBody(FILE_MSG));
    expect(res.status).toBe(400);
    expect(res.headers['x-should-retry']).toBe('false');
    // litellm's OpenAI mapping makes a BadRequestError of any error text holding invalid_request_error: Aider does not retry it.
    expect(res.text).toContain('"type":"invalid_request_error"');
    const error = JSON.parse(res.text).error as Record<string, string>;
    expect(error.location).toBe('a user message in turn 4, file m.py');
    const [event] = await eventsFor(res.requestId);
    expectGoodMessage(error.message!, { policy: 'code-sanitizer', rule: 'github-pat', where: 'a user message in turn 4, file m.py', eventId: event!.id });
    expect(res.text).not.toMatch(LITELLM_RETRY_WORDS);
    expect(inference()).toHaveLength(0);
  });

  it('Anthropic route, the same: 400 with an Anthropic type (no more APIConnectionError), naming the file', async () => {
    const res = await send('/v1/messages', anthropicHeaders, messagesBody(FILE_MSG));
    expect(res.status).toBe(400);
    expect(res.headers['x-should-retry']).toBe('false');
    const body = JSON.parse(res.text) as { type: string; error: Record<string, string> };
    expect(body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', code: 'input_blocked', location: 'a user message in turn 5, file m.py' } });
    expect(res.text).not.toMatch(LITELLM_RETRY_WORDS);
    expect(await eventsFor(res.requestId)).toHaveLength(1);
  });

  it('a streamed reply blocked mid-way: the error frame carries what litellm needs to call it a bad request on each route', async () => {
    stack.fake.setReplyText(`Here: ${STRIPE} done.`);
    const chat = await send('/v1/chat/completions', openaiHeaders, chatBody(FILE_MSG.replace(GH, 'placeholder')));
    expect(chat.status).toBe(200);
    const last = chat.text.trim().split('\n\n').at(-1)!;
    expect(last.startsWith('data: {"error":')).toBe(true);
    const chatError = JSON.parse(last.slice(6)).error as Record<string, string>;
    // litellm raises the openai SDK's stream error as text only: invalid_request_error in it makes a BadRequestError.
    expect(chatError.message).toContain('invalid_request_error');
    expect(chatError.message).not.toMatch(LITELLM_RETRY_WORDS);
    const messages = await send('/v1/messages', anthropicHeaders, messagesBody(FILE_MSG.replace(GH, 'placeholder')));
    const frame = messages.text.trim().split('\n\n').at(-1)!;
    expect(frame.startsWith('event: error\ndata: ')).toBe(true);
    const anthropicError = (JSON.parse(frame.slice('event: error\ndata: '.length)) as { error: Record<string, string> }).error;
    // litellm takes every Anthropic stream error for a 500 unless its text says Client error '400 Bad Request'.
    expect(anthropicError.message).toContain("Client error '400 Bad Request'");
    expect(anthropicError.message).not.toMatch(LITELLM_RETRY_WORDS);
    for (const s of SECRETS) expect(chat.text + messages.text).not.toContain(s);
    expect(inference()).toHaveLength(2);
    expect(await eventsFor(chat.requestId)).toHaveLength(1);
    expect(await eventsFor(messages.requestId)).toHaveLength(1);
  });
});
