/**
 * A fake LLM provider: OpenAI Chat Completions, OpenAI Responses and Anthropic Messages, plain JSON and SSE,
 * shaped like the real APIs (see docs in /work/shared/research/clients.md, section 0).
 *
 * Used as a test fixture, as the direct baseline of the benchmark, and by `kt demo`. It is on the hot path of the
 * benchmark, so the default path does no logging, no sync work beyond JSON, and sends a plain reply with a single
 * `res.end(buf)`.
 *
 * Triggers in the last user text:
 * - `TOOLTEST` (with tools offered and no tool result yet): answer with a tool call instead of text.
 * - `ECHOTEST`: the reply text is the whole last user text.
 * A `respond` function (option or `setResponder`) decides the reply from the request instead: text, or a tool call.
 *
 * Runnable as a script: `PORT=18080 FAKE_LOG=off node dist/testing/fake-upstream.js`.
 */
import { createWriteStream } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import {
  brotliCompress,
  brotliDecompress,
  constants as zlibConstants,
  createBrotliCompress,
  createGzip,
  gunzip,
  gzip,
  inflate,
  inflateRaw,
} from 'node:zlib';

export type FakeFamily = 'chat' | 'responses' | 'messages' | 'count_tokens' | 'models' | 'other';

export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  /** Path with the query string, as received. */
  url: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON, or the raw text when it is not JSON (empty string for no body). */
  body: unknown;
  /** The body as text, after undoing any content-encoding. */
  rawBody: string;
  family: FakeFamily;
  receivedAt: number;
}

export type FakeFault =
  | { kind: 'status'; status: number; retryAfter?: string; retryAfterMs?: string; body?: unknown }
  | { kind: 'slow'; firstByteDelayMs?: number; chunkDelayMs?: number }
  | { kind: 'cut'; afterFrames: number }
  | { kind: 'hang' }
  /**
   * Headers (and on a stream, the first `afterFrames` frames, default 0) then nothing until the client gives up:
   * a provider that accepted the request and stalls before its first token.
   */
  | { kind: 'stall'; afterFrames?: number }
  | { kind: 'gzip' }
  | { kind: 'br' }
  /**
   * Exactly these bytes, for replies no real provider should send: odd content types, frames of unknown shapes,
   * compressed bodies cut at a given byte. `ending`: end the response (default), or destroy the socket after the
   * last chunk (a cut). `gapMs` between chunks.
   */
  | { kind: 'raw'; status?: number; headers?: Record<string, string>; chunks: Array<string | Buffer>; ending?: 'end' | 'destroy'; gapMs?: number };

export interface FakeUpstreamOptions {
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 0 (ephemeral). */
  port?: number;
  /** Default 'Hello from fake upstream!'. */
  replyText?: string;
  /** Default true: push every request into `requests`. */
  record?: boolean;
  /** Name of the tool to call on TOOLTEST; default: the first tool offered. */
  toolName?: string;
  /** Tool input on TOOLTEST; default {command: 'echo hi'}. */
  toolInput?: Record<string, unknown>;
  /** Characters of reply text (or tool arguments) per SSE delta, default 8. */
  chunkSize?: number;
  /**
   * Milliseconds between the frames of every streamed reply that no fault governs (default 0: all at once), as
   * a model producing tokens at its pace: the time-to-first-token bench measures what the gateway adds to it.
   */
  paceMs?: number;
  /** Called with every recorded request (only when `record` is on). */
  onRequest?: (req: RecordedRequest) => void;
  /** Cache and reasoning tokens to report on top of the estimates (default: none, all details 0). */
  usage?: FakeUsage;
  /** Decides the reply from the request (a model that reads what it was sent); undefined falls back to the rules above. */
  respond?: FakeResponder;
}

/** A reply chosen by a test: text, or one tool call with its input. */
export type FakeReply = { text: string } | { tool: { name: string; input: Record<string, unknown> } };
export type FakeResponder = (req: RecordedRequest) => FakeReply | undefined;

/**
 * Token counts the fake adds to its usage, each reported the way that family's real API reports it, so tests can
 * check usage normalisation. OpenAI (chat, responses) counts cached tokens inside the prompt and reasoning inside
 * the completion; Anthropic reports cache reads and writes beside `input_tokens` and thinking inside `output_tokens`.
 */
export interface FakeUsage {
  /** chat/responses: added to prompt/input tokens and reported as `cached_tokens`; messages: `cache_read_input_tokens`. */
  cachedTokens?: number;
  /** messages only (`cache_creation_input_tokens`); OpenAI does not report cache writes. */
  cacheWriteTokens?: number;
  /** messages only: of cacheWriteTokens, the 1-hour TTL part (`cache_creation.ephemeral_1h_input_tokens`). */
  cacheWrite1hTokens?: number;
  /** chat/responses: added to completion/output tokens and reported as `reasoning_tokens`; messages: added to `output_tokens`. */
  reasoningTokens?: number;
}

export interface FakeUpstream {
  /** 'http://127.0.0.1:PORT', no trailing slash, no /v1. */
  url: string;
  port: number;
  requests: RecordedRequest[];
  setReplyText(text: string): void;
  /** Cache/reasoning tokens to report from now on; null goes back to the `usage` option. */
  setUsage(usage: FakeUsage | null): void;
  /** `times`: apply to the next N matching requests only, then clear (default: until cleared). `family`: only requests of that family. */
  setFault(fault: FakeFault | null, opts?: { times?: number; family?: FakeFamily }): void;
  /** The reply function from now on; null goes back to the `respond` option. */
  setResponder(respond: FakeResponder | null): void;
  /** Clears requests and the fault, restores the reply text, the responder and the usage extras. */
  reset(): void;
  /** Stops listening and destroys open sockets (keep-alive, hung requests). */
  close(): Promise<void>;
}

const DEFAULT_REPLY = 'Hello from fake upstream!';
const DEFAULT_TOOL_INPUT: Record<string, unknown> = { command: 'echo hi' };
const OPENAI_MODELS = ['gpt-4o', 'gpt-4o-mini', 'o3-mini'];
const ANTHROPIC_MODELS = ['claude-sonnet-4-20250514', 'claude-opus-4-1-20250805', 'claude-3-5-haiku-20241022'];
const MODEL_CREATED = 1_715_367_049;

type Json = Record<string, unknown>;
type Shape = 'openai' | 'anthropic';

interface ActiveFault {
  fault: FakeFault;
  remaining: number | undefined;
  family: FakeFamily | undefined;
}

interface Reply {
  kind: 'text' | 'tool';
  text: string;
  toolName: string;
  toolArgs: string;
  toolInput: Record<string, unknown>;
}

const JSON_HEADERS = 'application/json';
const SSE_HEADERS: Record<string, string> = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown, fallback: string): string {
  return typeof v === 'string' && v !== '' ? v : fallback;
}

// Ids: a random per-process prefix plus a counter. Unique enough for a fake, and much cheaper than fresh randomness per id.
const ID_PREFIX = randomUUID().replace(/-/g, '');
let idCounter = 0;

function hexId(len: number): string {
  const n = (++idCounter).toString(16);
  return len > n.length ? ID_PREFIX.slice(0, len - n.length) + n : n;
}

function estimateTokens(value: unknown): number {
  if (value === undefined) return 1;
  const s = typeof value === 'string' ? value : JSON.stringify(value);
  return Math.max(1, Math.ceil(s.length / 4));
}

/** Splits text into pieces of `size` characters without cutting a surrogate pair. */
function chunks(text: string, size: number): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    let end = Math.min(text.length, i + size);
    const code = text.charCodeAt(end - 1);
    if (end < text.length && code >= 0xd800 && code <= 0xdbff) end++;
    out.push(text.slice(i, end));
    i = end;
  }
  return out;
}

/** Text of a message content: a string, or the text parts/blocks of an array. */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const parts: string[] = [];
  for (const p of content) {
    if (typeof p === 'string') parts.push(p);
    else if (isObj(p) && typeof p.text === 'string' && (p.type === 'text' || p.type === 'input_text' || p.type === undefined)) parts.push(p.text);
  }
  return parts.join('\n');
}

interface Turn {
  /** Text of the last user message. */
  userText: string;
  /** A tool result came after (or inside) the last user message. */
  toolResultAfter: boolean;
  /** Name of the first tool offered, if any. */
  firstTool: string | undefined;
}

function lastIndexWhere<T>(arr: readonly T[], pred: (v: T) => boolean): number {
  for (let i = arr.length - 1; i >= 0; i--) if (pred(arr[i] as T)) return i;
  return -1;
}

function chatTurn(body: Json): Turn {
  const messages = Array.isArray(body.messages) ? (body.messages as unknown[]) : [];
  const idx = lastIndexWhere(messages, (m) => isObj(m) && m.role === 'user');
  const last = messages[idx];
  let firstTool: string | undefined;
  if (Array.isArray(body.tools)) {
    for (const t of body.tools as unknown[]) {
      if (isObj(t) && isObj(t.function) && typeof t.function.name === 'string') {
        firstTool = t.function.name;
        break;
      }
    }
  }
  return {
    userText: isObj(last) ? contentText(last.content) : '',
    toolResultAfter: idx >= 0 && messages.slice(idx + 1).some((m) => isObj(m) && m.role === 'tool'),
    firstTool,
  };
}

function messagesTurn(body: Json): Turn {
  const messages = Array.isArray(body.messages) ? (body.messages as unknown[]) : [];
  const idx = lastIndexWhere(messages, (m) => isObj(m) && m.role === 'user');
  const last = messages[idx];
  let firstTool: string | undefined;
  if (Array.isArray(body.tools)) {
    for (const t of body.tools as unknown[]) {
      if (isObj(t) && typeof t.name === 'string') {
        firstTool = t.name;
        break;
      }
    }
  }
  const content = isObj(last) ? last.content : undefined;
  return {
    userText: contentText(content),
    toolResultAfter: Array.isArray(content) && content.some((b) => isObj(b) && b.type === 'tool_result'),
    firstTool,
  };
}

function responsesTurn(body: Json): Turn {
  let firstTool: string | undefined;
  if (Array.isArray(body.tools)) {
    for (const t of body.tools as unknown[]) {
      if (isObj(t) && t.type === 'function' && typeof t.name === 'string') {
        firstTool = t.name;
        break;
      }
    }
  }
  const input = body.input;
  if (typeof input === 'string') return { userText: input, toolResultAfter: false, firstTool };
  const items = Array.isArray(input) ? (input as unknown[]) : [];
  const idx = lastIndexWhere(items, (m) => isObj(m) && m.role === 'user');
  const last = items[idx];
  const tail = items[items.length - 1];
  return {
    userText: isObj(last) ? contentText(last.content) : '',
    toolResultAfter: isObj(tail) && tail.type === 'function_call_output',
    firstTool,
  };
}

function parseQuery(url: string): Record<string, string> {
  const q = url.indexOf('?');
  if (q < 0) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(url.slice(q + 1))) out[k] = v;
  return out;
}

/** The route part after `/v1` (any prefix allowed) or after `/deployments/NAME` (Azure); undefined when neither. */
function routeOf(path: string): string | undefined {
  let p = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  const v1 = p.indexOf('/v1/');
  if (v1 >= 0) return p.slice(v1 + 3);
  if (p.endsWith('/v1')) return '';
  const dep = p.indexOf('/deployments/');
  if (dep >= 0) {
    p = p.slice(dep + '/deployments/'.length);
    const slash = p.indexOf('/');
    return slash >= 0 ? p.slice(slash) : '';
  }
  return undefined;
}

function familyOf(route: string | undefined): FakeFamily {
  switch (route) {
    case '/chat/completions':
      return 'chat';
    case '/responses':
      return 'responses';
    case '/messages':
      return 'messages';
    case '/messages/count_tokens':
      return 'count_tokens';
    case '/models':
      return 'models';
    default:
      return route !== undefined && route.startsWith('/models/') ? 'models' : 'other';
  }
}

function isHealthProbe(method: string, path: string): boolean {
  return (method === 'HEAD' && path === '/') || path === '/health';
}

function errorType(status: number, shape: Shape): string {
  if (status === 429) return 'rate_limit_error';
  if (status === 529) return shape === 'anthropic' ? 'overloaded_error' : 'server_error';
  if (status >= 500) return shape === 'anthropic' ? 'api_error' : 'server_error';
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return shape === 'anthropic' ? 'not_found_error' : 'not_found';
  if (status === 413) return 'request_too_large';
  return 'invalid_request_error';
}

function errorMessage(status: number): string {
  if (status === 429) return 'fake rate limited';
  if (status === 529) return 'fake overloaded';
  if (status >= 500) return 'fake server error';
  return `fake error ${status}`;
}

function errorBody(status: number, shape: Shape, message = errorMessage(status)): Json {
  const type = errorType(status, shape);
  return shape === 'anthropic' ? { type: 'error', error: { type, message } } : { error: { message, type, code: null, param: null } };
}

function sse(name: string, data: Json): string {
  return 'event: ' + name + '\ndata: ' + JSON.stringify(data) + '\n\n';
}

// ---------------------------------------------------------------------------------------------------------------
// Response builders. Each returns either a JSON object or the list of SSE frames.

interface Extra {
  cached: number;
  write: number;
  write1h: number;
  reasoning: number;
}

const NO_EXTRA: Extra = { cached: 0, write: 0, write1h: 0, reasoning: 0 };

function toExtra(u: FakeUsage | undefined): Extra {
  if (!u) return NO_EXTRA;
  const n = (v: number | undefined) => Math.max(0, Math.floor(v ?? 0));
  const write = n(u.cacheWriteTokens);
  return { cached: n(u.cachedTokens), write, write1h: Math.min(write, n(u.cacheWrite1hTokens)), reasoning: n(u.reasoningTokens) };
}

function chatUsage(promptTokens: number, completionTokens: number, x: Extra): Json {
  const prompt = promptTokens + x.cached;
  const completion = completionTokens + x.reasoning;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: x.cached, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: x.reasoning, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

function chatJson(model: string, reply: Reply, promptTokens: number, completionTokens: number, x: Extra): Json {
  const message: Json =
    reply.kind === 'tool'
      ? {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_' + hexId(24), type: 'function', function: { name: reply.toolName, arguments: reply.toolArgs } }],
          refusal: null,
          annotations: [],
        }
      : { role: 'assistant', content: reply.text, refusal: null, annotations: [] };
  return {
    id: 'chatcmpl-' + hexId(29),
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: reply.kind === 'tool' ? 'tool_calls' : 'stop' }],
    usage: chatUsage(promptTokens, completionTokens, x),
    service_tier: 'default',
    system_fingerprint: 'fp_fake',
  };
}

function chatFrames(model: string, reply: Reply, promptTokens: number, completionTokens: number, includeUsage: boolean, size: number, x: Extra): string[] {
  const head =
    'data: {"id":"chatcmpl-' +
    hexId(29) +
    '","object":"chat.completion.chunk","created":' +
    Math.floor(Date.now() / 1000) +
    ',"model":' +
    JSON.stringify(model) +
    ',"service_tier":"default","system_fingerprint":"fp_fake","choices":[{"index":0,"delta":';
  const usageNull = includeUsage ? ',"usage":null' : '';
  const mid = ',"logprobs":null,"finish_reason":';
  const tail = '}]' + usageNull + '}\n\n';
  const frames: string[] = [];
  if (reply.kind === 'tool') {
    const first = { role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_' + hexId(24), type: 'function', function: { name: reply.toolName, arguments: '' } }], refusal: null };
    frames.push(head + JSON.stringify(first) + mid + 'null' + tail);
    for (const piece of chunks(reply.toolArgs, size)) {
      frames.push(head + '{"tool_calls":[{"index":0,"function":{"arguments":' + JSON.stringify(piece) + '}}]}' + mid + 'null' + tail);
    }
    frames.push(head + '{}' + mid + '"tool_calls"' + tail);
  } else {
    frames.push(head + '{"role":"assistant","content":"","refusal":null}' + mid + 'null' + tail);
    for (const piece of chunks(reply.text, size)) frames.push(head + '{"content":' + JSON.stringify(piece) + '}' + mid + 'null' + tail);
    frames.push(head + '{}' + mid + '"stop"' + tail);
  }
  if (includeUsage) {
    const usage = chatUsage(promptTokens, completionTokens, x);
    // Same id/created/model as the other chunks, but no choices.
    frames.push(head.slice(0, head.indexOf(',"choices":[')) + ',"choices":[],"usage":' + JSON.stringify(usage) + '}\n\n');
  }
  frames.push('data: [DONE]\n\n');
  return frames;
}

function anthropicUsage(input: number, output: number, x: Extra): Json {
  const u: Json = { input_tokens: input, output_tokens: output, cache_creation_input_tokens: x.write, cache_read_input_tokens: x.cached };
  if (x.write1h > 0) u.cache_creation = { ephemeral_5m_input_tokens: x.write - x.write1h, ephemeral_1h_input_tokens: x.write1h };
  return u;
}

function messagesJson(model: string, reply: Reply, inputTokens: number, outputTokens: number, x: Extra): Json {
  const content =
    reply.kind === 'tool'
      ? [{ type: 'tool_use', id: 'toolu_' + hexId(24), name: reply.toolName, input: reply.toolInput }]
      : [{ type: 'text', text: reply.text }];
  return {
    id: 'msg_' + hexId(24),
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: reply.kind === 'tool' ? 'tool_use' : 'end_turn',
    stop_sequence: null,
    usage: anthropicUsage(inputTokens, outputTokens + x.reasoning, x),
  };
}

function messagesFrames(model: string, reply: Reply, inputTokens: number, outputTokens: number, size: number, x: Extra): string[] {
  const frames: string[] = [];
  frames.push(
    sse('message_start', {
      type: 'message_start',
      message: { id: 'msg_' + hexId(24), type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: anthropicUsage(inputTokens, 1, x) },
    }),
  );
  if (reply.kind === 'tool') {
    frames.push(sse('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_' + hexId(24), name: reply.toolName, input: {} } }));
    frames.push('event: ping\ndata: {"type": "ping"}\n\n');
    for (const piece of chunks(reply.toolArgs, size)) {
      frames.push('event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":' + JSON.stringify(piece) + '}}\n\n');
    }
  } else {
    frames.push('event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n');
    frames.push('event: ping\ndata: {"type": "ping"}\n\n');
    for (const piece of chunks(reply.text, size)) {
      frames.push('event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":' + JSON.stringify(piece) + '}}\n\n');
    }
  }
  frames.push('event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n');
  frames.push(
    'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":' +
      (reply.kind === 'tool' ? '"tool_use"' : '"end_turn"') +
      ',"stop_sequence":null},"usage":{"output_tokens":' +
      (outputTokens + x.reasoning) +
      '}}\n\n',
  );
  frames.push('event: message_stop\ndata: {"type":"message_stop"}\n\n');
  return frames;
}

interface ResponsesCtx {
  id: string;
  createdAt: number;
  model: string;
  body: Json;
}

function responseObject(ctx: ResponsesCtx, status: 'in_progress' | 'completed', output: Json[], usage: Json | null): Json {
  const b = ctx.body;
  return {
    id: ctx.id,
    object: 'response',
    created_at: ctx.createdAt,
    status,
    error: null,
    incomplete_details: null,
    instructions: b.instructions ?? null,
    max_output_tokens: b.max_output_tokens ?? null,
    model: ctx.model,
    output,
    parallel_tool_calls: b.parallel_tool_calls ?? true,
    previous_response_id: b.previous_response_id ?? null,
    reasoning: { effort: null, summary: null },
    store: b.store ?? true,
    temperature: b.temperature ?? 1,
    text: { format: { type: 'text' } },
    tool_choice: b.tool_choice ?? 'auto',
    tools: Array.isArray(b.tools) ? b.tools : [],
    top_p: b.top_p ?? 1,
    truncation: 'disabled',
    usage,
    metadata: isObj(b.metadata) ? b.metadata : {},
  };
}

function responsesUsage(inputTokens: number, outputTokens: number, x: Extra): Json {
  const input = inputTokens + x.cached;
  const output = outputTokens + x.reasoning;
  return { input_tokens: input, input_tokens_details: { cached_tokens: x.cached }, output_tokens: output, output_tokens_details: { reasoning_tokens: x.reasoning }, total_tokens: input + output };
}

function responsesOutputItem(reply: Reply, itemId: string, callId: string, done: boolean): Json {
  if (reply.kind === 'tool') {
    return { type: 'function_call', id: itemId, call_id: callId, name: reply.toolName, arguments: done ? reply.toolArgs : '', status: done ? 'completed' : 'in_progress' };
  }
  return {
    type: 'message',
    id: itemId,
    status: done ? 'completed' : 'in_progress',
    role: 'assistant',
    content: done ? [{ type: 'output_text', text: reply.text, annotations: [] }] : [],
  };
}

function newResponsesIds(reply: Reply): { itemId: string; callId: string } {
  return reply.kind === 'tool' ? { itemId: 'fc_' + hexId(32), callId: 'call_' + hexId(24) } : { itemId: 'msg_' + hexId(32), callId: '' };
}

function responsesJson(ctx: ResponsesCtx, reply: Reply, inputTokens: number, outputTokens: number, x: Extra): Json {
  const { itemId, callId } = newResponsesIds(reply);
  return responseObject(ctx, 'completed', [responsesOutputItem(reply, itemId, callId, true)], responsesUsage(inputTokens, outputTokens, x));
}

function responsesFrames(ctx: ResponsesCtx, reply: Reply, inputTokens: number, outputTokens: number, size: number, x: Extra): string[] {
  const { itemId, callId } = newResponsesIds(reply);
  const frames: string[] = [];
  let seq = 0;
  const push = (type: string, data: Json) => {
    frames.push(sse(type, { type, sequence_number: seq++, ...data }));
  };
  const pushRaw = (type: string, rest: string) => {
    frames.push('event: ' + type + '\ndata: {"type":"' + type + '","sequence_number":' + seq++ + ',' + rest + '}\n\n');
  };
  const inProgress = responseObject(ctx, 'in_progress', [], null);
  push('response.created', { response: inProgress });
  push('response.in_progress', { response: inProgress });
  push('response.output_item.added', { output_index: 0, item: responsesOutputItem(reply, itemId, callId, false) });
  const ids = '"item_id":"' + itemId + '","output_index":0';
  if (reply.kind === 'tool') {
    for (const piece of chunks(reply.toolArgs, size)) pushRaw('response.function_call_arguments.delta', ids + ',"delta":' + JSON.stringify(piece));
    push('response.function_call_arguments.done', { item_id: itemId, output_index: 0, name: reply.toolName, arguments: reply.toolArgs });
  } else {
    const part = { type: 'output_text', text: '', annotations: [] };
    push('response.content_part.added', { item_id: itemId, output_index: 0, content_index: 0, part });
    for (const piece of chunks(reply.text, size)) pushRaw('response.output_text.delta', ids + ',"content_index":0,"delta":' + JSON.stringify(piece) + ',"logprobs":[]');
    push('response.output_text.done', { item_id: itemId, output_index: 0, content_index: 0, text: reply.text, logprobs: [] });
    push('response.content_part.done', { item_id: itemId, output_index: 0, content_index: 0, part: { ...part, text: reply.text } });
  }
  const doneItem = responsesOutputItem(reply, itemId, callId, true);
  push('response.output_item.done', { output_index: 0, item: doneItem });
  push('response.completed', { response: responseObject(ctx, 'completed', [doneItem], responsesUsage(inputTokens, outputTokens, x)) });
  return frames;
}

function modelsJson(route: string, shape: Shape): Json {
  const one = route.startsWith('/models/') ? decodeURIComponent(route.slice('/models/'.length)) : undefined;
  if (shape === 'anthropic') {
    const entry = (id: string): Json => ({ type: 'model', id, display_name: id, created_at: '2025-05-14T00:00:00Z' });
    if (one !== undefined) return entry(one);
    return { data: ANTHROPIC_MODELS.map(entry), has_more: false, first_id: ANTHROPIC_MODELS[0], last_id: ANTHROPIC_MODELS[ANTHROPIC_MODELS.length - 1] };
  }
  const entry = (id: string): Json => ({ id, object: 'model', created: MODEL_CREATED, owned_by: 'fake' });
  if (one !== undefined) return entry(one);
  return { object: 'list', data: OPENAI_MODELS.map(entry) };
}

// ---------------------------------------------------------------------------------------------------------------

function decodeBody(buf: Buffer, encoding: string | undefined, cb: (err: Error | null, out: Buffer) => void): void {
  const enc = encoding?.trim().toLowerCase();
  if (!enc || enc === 'identity' || buf.length === 0) return cb(null, buf);
  if (enc === 'gzip' || enc === 'x-gzip') return gunzip(buf, cb);
  if (enc === 'br') return brotliDecompress(buf, cb);
  if (enc === 'deflate') {
    return inflate(buf, (err, out) => {
      if (!err) return cb(null, out);
      inflateRaw(buf, cb);
    });
  }
  cb(new Error(`unsupported content-encoding: ${enc}`), buf);
}

export function startFakeUpstream(opts: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const host = opts.host ?? '127.0.0.1';
  const record = opts.record ?? true;
  const chunkSize = Math.max(1, Math.floor(opts.chunkSize ?? 8));
  const pace = Math.max(0, opts.paceMs ?? 0);
  const defaultReply = opts.replyText ?? DEFAULT_REPLY;
  const toolInput = opts.toolInput ?? DEFAULT_TOOL_INPUT;
  const toolArgs = JSON.stringify(toolInput);
  const onRequest = opts.onRequest;

  let replyText = defaultReply;
  let responder = opts.respond;
  const defaultExtra = toExtra(opts.usage);
  let extra = defaultExtra;
  let active: ActiveFault | null = null;
  const requests: RecordedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  /** Takes the fault for this request, if one applies, counting down `times`. */
  const takeFault = (family: FakeFamily, method: string, path: string): FakeFault | null => {
    const a = active;
    if (!a) return null;
    if (a.family !== undefined ? a.family !== family : isHealthProbe(method, path)) return null;
    if (a.remaining !== undefined) {
      a.remaining--;
      if (a.remaining <= 0) active = null;
    }
    return a.fault;
  };

  const sendJson = (res: ServerResponse, status: number, payload: unknown, fault: FakeFault | null, extra?: Record<string, string>): void => {
    const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
    const ctype = typeof payload === 'string' && !/^\s*[[{]/.test(payload) ? 'text/plain; charset=utf-8' : JSON_HEADERS;
    if (fault === null) {
      // A string body goes out in one write together with the headers (a Buffer would take a writev of two).
      const len = Buffer.byteLength(text);
      res.writeHead(status, extra ? { 'content-type': ctype, 'content-length': len, ...extra } : { 'content-type': ctype, 'content-length': len });
      res.end(text);
      return;
    }
    const buf = Buffer.from(text);
    switch (fault.kind) {
      case 'slow':
        later(fault.firstByteDelayMs ?? 0, () => {
          if (!res.destroyed) sendJson(res, status, payload, null, extra);
        });
        return;
      case 'cut': {
        res.writeHead(status, { 'content-type': ctype, 'content-length': buf.length, ...extra });
        res.flushHeaders();
        destroyAfterFlush(res);
        return;
      }
      case 'stall':
        res.writeHead(status, { 'content-type': ctype, 'content-length': buf.length, ...extra });
        res.flushHeaders();
        return;
      case 'gzip':
      case 'br': {
        const done = (err: Error | null, out: Buffer) => {
          if (res.destroyed) return;
          if (err) return sendJson(res, 500, errorBody(500, 'openai', err.message), null);
          res.writeHead(status, { 'content-type': ctype, 'content-encoding': fault.kind, 'content-length': out.length, vary: 'Accept-Encoding', ...extra });
          res.end(out);
        };
        if (fault.kind === 'gzip') gzip(buf, done);
        else brotliCompress(buf, done);
        return;
      }
      default:
        sendJson(res, status, payload, null, extra);
    }
  };

  const sendFrames = (res: ServerResponse, frames: string[], fault: FakeFault | null): void => {
    if (fault === null && pace > 0) fault = { kind: 'slow', chunkDelayMs: pace };
    if (fault === null) {
      res.writeHead(200, SSE_HEADERS);
      for (let i = 0; i < frames.length; i++) res.write(frames[i] as string);
      res.end();
      return;
    }
    switch (fault.kind) {
      case 'slow': {
        const gap = fault.chunkDelayMs ?? 0;
        let i = 0;
        const next = (): void => {
          if (res.destroyed) return;
          if (i === 0) res.writeHead(200, SSE_HEADERS);
          if (i >= frames.length) {
            res.end();
            return;
          }
          res.write(frames[i++] as string);
          if (i >= frames.length) res.end();
          else if (gap > 0) later(gap, next);
          else next();
        };
        later(fault.firstByteDelayMs ?? 0, next);
        return;
      }
      case 'cut': {
        // Never the terminal frame: at most all but the last.
        const n = Math.max(0, Math.min(Math.floor(fault.afterFrames), frames.length - 1));
        res.writeHead(200, SSE_HEADERS);
        if (n === 0) {
          res.flushHeaders();
          destroyAfterFlush(res);
          return;
        }
        for (let i = 0; i < n - 1; i++) res.write(frames[i] as string);
        res.write(frames[n - 1] as string, () => res.socket?.destroy());
        return;
      }
      case 'stall': {
        res.writeHead(200, SSE_HEADERS);
        res.flushHeaders();
        const n = Math.max(0, Math.min(Math.floor(fault.afterFrames ?? 0), frames.length - 1));
        for (let i = 0; i < n; i++) res.write(frames[i] as string);
        return;
      }
      case 'gzip':
      case 'br': {
        res.writeHead(200, { ...SSE_HEADERS, 'content-encoding': fault.kind, vary: 'Accept-Encoding' });
        const z =
          fault.kind === 'gzip'
            ? createGzip({ flush: zlibConstants.Z_SYNC_FLUSH })
            : createBrotliCompress({ flush: zlibConstants.BROTLI_OPERATION_FLUSH });
        z.on('error', () => res.destroy());
        z.pipe(res);
        for (const f of frames) z.write(f);
        z.end();
        return;
      }
      default:
        sendFrames(res, frames, null);
    }
  };

  const sendRaw = (res: ServerResponse, fault: Extract<FakeFault, { kind: 'raw' }>): void => {
    res.writeHead(fault.status ?? 200, fault.headers ?? {});
    res.flushHeaders();
    let i = 0;
    const next = (): void => {
      if (res.destroyed) return;
      if (i >= fault.chunks.length) {
        if (fault.ending === 'destroy') destroyAfterFlush(res);
        else res.end();
        return;
      }
      res.write(fault.chunks[i++]!, () => (fault.gapMs ? later(fault.gapMs, next) : next()));
    };
    next();
  };

  const makeReply = (turn: Turn, chosen?: FakeReply): Reply => {
    if (chosen && 'tool' in chosen) return { kind: 'tool', text: '', toolName: chosen.tool.name, toolArgs: JSON.stringify(chosen.tool.input), toolInput: chosen.tool.input };
    if (chosen) return { kind: 'text', text: chosen.text, toolName: '', toolArgs: '', toolInput };
    const tooltest = turn.userText.includes('TOOLTEST');
    const name = opts.toolName ?? turn.firstTool;
    if (tooltest && turn.firstTool !== undefined && name !== undefined && !turn.toolResultAfter) {
      return { kind: 'tool', text: '', toolName: name, toolArgs, toolInput };
    }
    const text = turn.userText.includes('ECHOTEST') ? turn.userText : replyText;
    return { kind: 'text', text, toolName: '', toolArgs: '', toolInput };
  };

  const handle = (req: IncomingMessage, res: ServerResponse, raw: Buffer): void => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q >= 0 ? url.slice(0, q) : url;
    const route = routeOf(path);
    const family = familyOf(route);
    const rawBody = raw.length === 0 ? '' : raw.toString('utf8');
    let body: unknown = rawBody;
    let jsonOk = false;
    if (rawBody !== '') {
      try {
        body = JSON.parse(rawBody);
        jsonOk = true;
      } catch {
        body = rawBody;
      }
    }
    let recorded: RecordedRequest | undefined;
    if (record || responder) recorded = { method, path, url, query: parseQuery(url), headers: req.headers, body, rawBody, family, receivedAt: Date.now() };
    if (record) {
      requests.push(recorded!);
      if (onRequest) onRequest(recorded!);
    }
    const chosen = responder && recorded ? responder(recorded) : undefined;

    const anthropicClient = req.headers['anthropic-version'] !== undefined;
    const shape: Shape = family === 'messages' || family === 'count_tokens' || (family !== 'chat' && family !== 'responses' && anthropicClient) ? 'anthropic' : 'openai';
    const fault = takeFault(family, method, path);
    if (fault !== null) {
      if (fault.kind === 'hang') return;
      if (fault.kind === 'raw') return sendRaw(res, fault);
      if (fault.kind === 'status') {
        const extra: Record<string, string> = {};
        if (fault.retryAfter !== undefined) extra['retry-after'] = fault.retryAfter;
        if (fault.retryAfterMs !== undefined) extra['retry-after-ms'] = fault.retryAfterMs;
        sendJson(res, fault.status, fault.body !== undefined ? fault.body : errorBody(fault.status, shape), null, Object.keys(extra).length > 0 ? extra : undefined);
        return;
      }
    }

    if (family === 'other') {
      if (isHealthProbe(method, path)) {
        if (method === 'HEAD') {
          res.writeHead(200);
          res.end();
        } else sendJson(res, 200, { status: 'ok' }, fault);
        return;
      }
      sendJson(res, 404, { error: { message: 'not found', type: 'not_found' } }, fault);
      return;
    }
    if (family === 'models') {
      if (method !== 'GET' && method !== 'HEAD') return sendJson(res, 404, { error: { message: 'not found', type: 'not_found' } }, fault);
      sendJson(res, 200, modelsJson(route ?? '/models', anthropicClient ? 'anthropic' : 'openai'), fault);
      return;
    }
    if (method !== 'POST') return sendJson(res, 404, { error: { message: 'not found', type: 'not_found' } }, fault);
    if (!jsonOk || !isObj(body)) {
      sendJson(res, 400, errorBody(400, shape, 'fake upstream: the request body must be a JSON object'), fault);
      return;
    }

    const deployment = path.includes('/deployments/') ? path.split('/deployments/')[1]?.split('/')[0] : undefined;
    const model = str(body.model, deployment || 'fake-model');
    const stream = body.stream === true;

    switch (family) {
      case 'chat': {
        const reply = makeReply(chatTurn(body), chosen);
        const promptTokens = estimateTokens(body.messages ?? []);
        const completionTokens = estimateTokens(reply.kind === 'tool' ? reply.toolArgs : reply.text);
        if (!stream) return sendJson(res, 200, chatJson(model, reply, promptTokens, completionTokens, extra), fault);
        const includeUsage = isObj(body.stream_options) && body.stream_options.include_usage === true;
        return sendFrames(res, chatFrames(model, reply, promptTokens, completionTokens, includeUsage, chunkSize, extra), fault);
      }
      case 'messages': {
        const reply = makeReply(messagesTurn(body), chosen);
        const inputTokens = estimateTokens([body.system ?? null, body.messages ?? [], body.tools ?? null]);
        const outputTokens = estimateTokens(reply.kind === 'tool' ? reply.toolArgs : reply.text);
        if (!stream) return sendJson(res, 200, messagesJson(model, reply, inputTokens, outputTokens, extra), fault);
        return sendFrames(res, messagesFrames(model, reply, inputTokens, outputTokens, chunkSize, extra), fault);
      }
      case 'count_tokens':
        return sendJson(res, 200, { input_tokens: estimateTokens([body.system ?? null, body.messages ?? [], body.tools ?? null]) }, fault);
      case 'responses': {
        const reply = makeReply(responsesTurn(body), chosen);
        const inputTokens = estimateTokens([body.instructions ?? null, body.input ?? '']);
        const outputTokens = estimateTokens(reply.kind === 'tool' ? reply.toolArgs : reply.text);
        const ctx: ResponsesCtx = { id: 'resp_' + hexId(32), createdAt: Math.floor(Date.now() / 1000), model, body };
        if (!stream) return sendJson(res, 200, responsesJson(ctx, reply, inputTokens, outputTokens, extra), fault);
        return sendFrames(res, responsesFrames(ctx, reply, inputTokens, outputTokens, chunkSize, extra), fault);
      }
    }
  };

  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const buf = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
      const enc = req.headers['content-encoding'];
      const go = (err: Error | null, decoded: Buffer): void => {
        if (closed || res.destroyed) return;
        if (err) {
          sendJson(res, 400, { error: { message: `fake upstream: cannot decode the request body (${err.message})`, type: 'invalid_request_error', code: null, param: null } }, null);
          return;
        }
        try {
          handle(req, res, decoded);
        } catch (e) {
          if (!res.headersSent) sendJson(res, 500, errorBody(500, 'openai', `fake upstream bug: ${(e as Error).message}`), null);
          else res.destroy();
        }
      };
      if (enc === undefined) go(null, buf);
      else decodeBody(buf, Array.isArray(enc) ? enc.join(',') : enc, go);
    });
  });

  // Providers keep idle connections open for about a minute. Node's default of 5 s let a loaded test
  // machine (event loop stalled past 5 s) reuse a socket the fake had just closed: ECONNRESET in a test.
  server.keepAliveTimeout = 65_000;

  return new Promise<FakeUpstream>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      const addr = server.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : (opts.port ?? 0);
      const urlHost = host.includes(':') ? `[${host}]` : host;
      resolve({
        url: `http://${urlHost}:${port}`,
        port,
        requests,
        setReplyText(text: string) {
          replyText = text;
        },
        setResponder(respond: FakeResponder | null) {
          responder = respond ?? opts.respond;
        },
        setUsage(usage: FakeUsage | null) {
          extra = usage === null ? defaultExtra : toExtra(usage);
        },
        setFault(fault: FakeFault | null, o?: { times?: number; family?: FakeFamily }) {
          if (fault === null || (o?.times !== undefined && o.times <= 0)) {
            active = null;
            return;
          }
          active = { fault, remaining: o?.times, family: o?.family };
        },
        reset() {
          requests.length = 0;
          active = null;
          replyText = defaultReply;
          responder = opts.respond;
          extra = defaultExtra;
        },
        close() {
          if (closed) return Promise.resolve();
          closed = true;
          for (const t of timers) clearTimeout(t);
          timers.clear();
          return new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          });
        },
      });
    });
  });
}

/** Destroys the response socket once everything written so far (the headers) has reached the kernel. */
function destroyAfterFlush(res: ServerResponse): void {
  const sock: Socket | null = res.socket;
  if (!sock) return;
  sock.write('', () => sock.destroy());
}

// ---------------------------------------------------------------------------------------------------------------
// Script entry point: PORT (default 18080), HOST, FAKE_LOG=off (no recording) or FAKE_LOG=/path.jsonl (append requests).

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  const log = process.env.FAKE_LOG;
  const file = log && log !== 'off' && log !== 'on' ? createWriteStream(log, { flags: 'a' }) : undefined;
  const fake = await startFakeUpstream({
    host: process.env.HOST ?? '127.0.0.1',
    port: Number(process.env.PORT ?? 18080),
    record: log !== 'off',
    onRequest(r) {
      // Nobody reads `requests` in script mode: keep it bounded.
      if (fake.requests.length > 1000) fake.requests.splice(0, 500);
      file?.write(JSON.stringify({ ts: new Date(r.receivedAt).toISOString(), method: r.method, url: r.url, path: r.path, headers: r.headers, body: r.body }) + '\n');
    },
  });
  process.stdout.write(`fake upstream listening on ${fake.url}\n`);
  const stop = () => {
    void fake.close().then(() => {
      file?.end();
      process.exit(0);
    });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
