/**
 * The commit point of a streamed reply. Until the first content frame arrives, nothing of the upstream's stream
 * has gone to the client, so a target that stalls or resets before it can still be left for another try or
 * target. The frames before it (Anthropic's message_start and ping, OpenAI's role-only chunk, Responses'
 * response.created) are read and held; once a content frame comes they are put back in front of the body, and
 * the output path reads the stream from its first byte as if nothing had looked at it.
 */
import type { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { quickTextDelta } from '../protocol/quick-json.js';
import type { Family } from './targets.js';

/** Held before the first content frame at most; a prelude longer than this is taken as content. */
export const PRELUDE_LIMIT = 64 * 1024;

export type FirstToken = { ok: true } | { ok: false; outcome: 'first_token_timeout' | 'reset' | 'stream_error' | 'aborted' };

/**
 * Wait for the first content frame of `body` (an SSE stream, decoded bytes), for at most `timeoutMs` (none:
 * no deadline of its own). On `ok` the body is whole again, paused, for its reader; otherwise it is destroyed.
 */
export function awaitFirstToken(body: Readable, family: Family, timeoutMs: number | undefined, signal: EventEmitter & { aborted: boolean }): Promise<FirstToken> {
  return new Promise<FirstToken>((resolve) => {
    const held: Buffer[] = [];
    let heldBytes = 0;
    const frames = new OpeningFrames();
    const decoder = new StringDecoder('utf8');
    let timer: NodeJS.Timeout | undefined;
    let settled = false;

    const cleanup = () => {
      settled = true;
      clearTimeout(timer);
      body.off('readable', onReadable);
      body.off('end', onEnd);
      body.off('error', onFail);
      body.off('close', onFail);
      signal.off('abort', onAbort);
    };
    const fail = (outcome: 'first_token_timeout' | 'reset' | 'stream_error' | 'aborted') => {
      if (settled) return;
      cleanup();
      body.on('error', () => undefined);
      body.destroy();
      resolve({ ok: false, outcome });
    };
    const commit = () => {
      cleanup();
      if (held.length > 0) body.unshift(held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes));
      resolve({ ok: true });
    };
    function onReadable() {
      if (settled) return;
      for (let chunk = body.read() as Buffer | null; chunk !== null; chunk = body.read() as Buffer | null) {
        held.push(chunk);
        heldBytes += chunk.length;
        if (heldBytes > PRELUDE_LIMIT) return commit();
        frames.push(decoder.write(chunk));
        const first = firstReal(family, frames);
        if (first === 'content') return commit();
        if (first === 'transient_error') return fail('stream_error');
      }
    }
    // A stream that ends or breaks before any content gave the client nothing it could use.
    function onEnd() {
      fail('reset');
    }
    function onFail() {
      fail('reset');
    }
    function onAbort() {
      fail('aborted');
    }
    if (signal.aborted) return fail('aborted');
    body.on('readable', onReadable);
    body.once('end', onEnd);
    body.once('error', onFail);
    body.once('close', onFail);
    signal.once('abort', onAbort);
    if (timeoutMs !== undefined) timer = setTimeout(() => fail('first_token_timeout'), Math.max(0, timeoutMs));
  });
}

/** The first frame so far that is not a prelude: content, a transient error (overloaded and the like), or none yet. */
function firstReal(family: Family, frames: OpeningFrames): 'content' | 'transient_error' | undefined {
  for (let frame = frames.next(); frame !== undefined; frame = frames.next()) {
    const kind = classifyOpening(family, frame);
    if (kind !== 'prelude') return kind;
  }
  return undefined;
}

/** One frame of a stream's opening, its JSON parsed once (it was parsed twice: once for each question). */
function classifyOpening(family: Family, frame: string): 'prelude' | 'content' | 'transient_error' {
  const { data, event } = dataOf(frame);
  if (data === '') return event === '' || PRELUDE_TYPES.has(event) ? 'prelude' : 'content';
  let json: unknown;
  try {
    json = quickTextDelta(data) ?? JSON.parse(data);
  } catch {
    return 'content'; // [DONE], or something only the output path can judge
  }
  if (!isObj(json)) return 'content';
  if (preludeJson(family, json)) return 'prelude';
  return transientJson(json) ? 'transient_error' : 'content';
}

/**
 * The frames of a stream's opening, split off one at a time and only as far as they are asked for: the wait
 * stops at the first content frame, and a provider usually sends the whole reply in the chunk that holds it
 * (splitting all of that here cost as much again as the output path's own split). Frames as SseSplitter makes
 * them (line endings normalised, empty frames skipped); each character is searched once. The text is bounded by
 * PRELUDE_LIMIT: the caller commits before holding more.
 */
export class OpeningFrames {
  private text = '';
  /** Where the next frame starts. */
  private at = 0;
  /** Where the search for the next blank line resumes (what is before it has none). */
  private searched = 0;
  /** The last chunk ended with a CR: a LF starting the next one belongs to it. */
  private cr = false;

  push(chunk: string): void {
    let text = chunk;
    if (this.cr && text.startsWith('\n')) text = text.slice(1);
    this.cr = text.endsWith('\r');
    if (text.includes('\r')) text = text.replace(/\r\n?/g, '\n');
    this.text += text;
  }

  /** The next complete frame (without its blank line), or undefined until more text comes. */
  next(): string | undefined {
    for (;;) {
      const end = this.text.indexOf('\n\n', Math.max(this.at, this.searched));
      if (end < 0) {
        this.searched = Math.max(this.at, this.text.length - 1);
        return undefined;
      }
      const frame = this.text.slice(this.at, end);
      this.at = this.searched = end + 2;
      if (frame.length > 0 && frame !== '\n') return frame;
    }
  }
}

/** Error types a provider sends for "not now" (Anthropic's overloaded_error mid-stream, OpenAI's server_error). */
const TRANSIENT = new Set(['overloaded_error', 'api_error', 'rate_limit_error', 'server_error', 'timeout_error', 'rate_limit_exceeded']);

/**
 * An error frame before the first token that another try could get past. Anthropic: `event: error` with
 * `error.type`; chat: a chunk with `error`; Responses: `error` (its `code`) or `response.failed`.
 */
export function isTransientError(frame: string): boolean {
  const data = dataOf(frame).data;
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return false;
  }
  return isObj(json) && transientJson(json);
}

function transientJson(json: Record<string, unknown>): boolean {
  const err = isObj(json.error) ? json.error : json.type === 'error' ? json : isObj(json.response) && json.type === 'response.failed' ? json.response.error : undefined;
  if (!isObj(err)) return false;
  return [err.type, err.code].some((v) => typeof v === 'string' && TRANSIENT.has(v));
}

function dataOf(frame: string): { data: string; event: string } {
  // Most frames are one line: read without splitting them into a list of lines.
  if (!frame.includes('\n')) {
    if (frame.startsWith('data:')) return { data: frame.slice(frame.startsWith('data: ') ? 6 : 5), event: '' };
    return { data: '', event: frame.startsWith('event:') ? frame.slice(6).trim() : '' };
  }
  let data = '';
  let event = '';
  for (const line of frame.split('\n')) {
    if (line.startsWith('data:')) data += (data ? '\n' : '') + line.slice(line.startsWith('data: ') ? 6 : 5);
    else if (line.startsWith('event:')) event = line.slice(6).trim();
  }
  return { data, event };
}

const PRELUDE_TYPES = new Set(['message_start', 'ping', 'response.created', 'response.in_progress', 'response.queued']);

/** A frame that carries no part of the reply yet: a comment, a keep-alive, a start-of-message frame. */
export function isPrelude(family: Family, frame: string): boolean {
  const { data, event } = dataOf(frame);
  if (data === '') return event === '' || PRELUDE_TYPES.has(event);
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return false; // [DONE], or something only the output path can judge
  }
  return isObj(json) && preludeJson(family, json);
}

function preludeJson(family: Family, json: Record<string, unknown>): boolean {
  if (family === 'chat') return isChatPrelude(json);
  if (typeof json.type !== 'string') return false;
  if (PRELUDE_TYPES.has(json.type)) return true;
  // The opening of an empty text block, message or part: no token yet (a tool call's opening names the tool, so it counts).
  if (json.type === 'content_block_start') return isEmptyText(json.content_block);
  if (json.type === 'response.output_item.added') return isObj(json.item) && json.item.type === 'message' && Array.isArray(json.item.content) && json.item.content.length === 0;
  if (json.type === 'response.content_part.added') return isEmptyText(json.part);
  return false;
}

function isEmptyText(block: unknown): boolean {
  if (!isObj(block)) return false;
  if (block.type === 'text' || block.type === 'output_text') return block.text === '';
  return block.type === 'thinking' && block.thinking === '';
}

/** A chat chunk with no text, tool call, finish reason, usage or error: the role chunk, Azure's filter results. */
function isChatPrelude(chunk: Record<string, unknown>): boolean {
  if (chunk.error !== undefined || (chunk.usage !== undefined && chunk.usage !== null)) return false;
  if (!Array.isArray(chunk.choices)) return false;
  for (const choice of chunk.choices) {
    if (!isObj(choice)) return false;
    if (choice.finish_reason !== undefined && choice.finish_reason !== null) return false;
    const delta = choice.delta;
    if (delta === undefined) continue;
    if (!isObj(delta)) return false;
    for (const key of Object.keys(delta)) {
      if (key === 'role') continue;
      const value = delta[key];
      if ((key === 'content' || key === 'refusal') && (value === null || value === '')) continue;
      return false;
    }
  }
  return true;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
