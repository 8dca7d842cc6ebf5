import type { Family } from '../providers/targets.js';
import { isObj } from './view.js';

/**
 * A final refusal (a policy block or escalation, a spent budget) as the client is told it, whether it arrives as
 * an HTTP error or as the end of a stream that had already started. The same code, message and details either
 * way, so whatever reads one reads the other.
 */
export interface RefusalNotice {
  /** `input_blocked`, `output_blocked`, `escalation_required`, `budget_exceeded`. */
  code: string;
  /** What stopped the request, where, and what to do about it; never a matched value. */
  message: string;
  /** Facts for programs, beside `code`: policy, rule, location, event_id or request_id (those that are known). */
  details: Readonly<Record<string, string>>;
}

/** The error type every refusal carries: the one type both API families define for "this request will not work". */
export const REFUSAL_TYPE = 'invalid_request_error';

/**
 * What a refusal inside a stream adds to its message: the status line the stream could no longer send. litellm
 * (Aider) classifies a mid-stream error by its message text alone, and retries anything it cannot place for up
 * to a minute: on the OpenAI route `invalid_request_error` in the text makes it a BadRequestError, on the
 * Anthropic route (where it assumes status 500 for every stream error) `Client error '400 Bad Request'` does.
 * Both are errors it never retries (litellm 1.81 `exception_mapping_utils.py`, aider `exceptions.py`).
 */
export function streamedMessage(notice: RefusalNotice): string {
  return `${notice.message} [ended mid-stream by the gateway: Client error '400 Bad Request', ${REFUSAL_TYPE}, ${notice.code}]`;
}

/**
 * The structure of a stream as far as the client has received it, so that a refusal can end it the way each
 * client accepts as final. Fed with every frame that went out.
 */
export class StreamEnding {
  private messageStarted = false;
  private nextBlock = 0;
  private response: Record<string, unknown> | undefined;
  private sequence = -1;

  constructor(private readonly family: Family) {}

  /** A parsed JSON frame that was released to the client. */
  observe(data: Record<string, unknown>, event: string | undefined): void {
    const type = typeof data.type === 'string' ? data.type : event;
    if (this.family === 'messages') {
      if (type === 'message_start') this.messageStarted = true;
      const index = data.index;
      if (type === 'content_block_start' && typeof index === 'number' && Number.isInteger(index) && index >= 0) this.nextBlock = Math.max(this.nextBlock, index + 1);
    } else if (this.family === 'responses') {
      if (typeof data.sequence_number === 'number' && Number.isFinite(data.sequence_number)) this.sequence = Math.max(this.sequence, data.sequence_number);
      if (isObj(data.response)) this.response = data.response;
    }
  }

  /** The frames that end the stream with this refusal. */
  refusal(notice: RefusalNotice): string {
    if (this.family === 'messages') return this.messagesEnding(notice);
    if (this.family === 'responses') return this.responsesEnding(notice);
    // Chat Completions: a chunk holding `error` (the openai SDKs raise it), and no [DONE].
    const error = { message: streamedMessage(notice), type: REFUSAL_TYPE, code: notice.code, param: null, ...notice.details };
    return `data: ${JSON.stringify({ error })}\n\n`;
  }

  /**
   * Claude Code answers an error that arrives before any content block completed by sending the whole request
   * again without streaming (measured: 2 upstream calls per block, 12 with its retries); after a completed block
   * it reports the error and stops. The block to complete must be a new, empty text block: closing the block that
   * was open could complete a tool call, which Claude Code then answers with a tool result and a new request
   * (measured: a loop). Open blocks stay open; the error ends the message.
   */
  private messagesEnding(notice: RefusalNotice): string {
    let out = '';
    if (!this.messageStarted) {
      out += sseFrame('message_start', {
        type: 'message_start',
        message: { id: 'msg_refused', type: 'message', role: 'assistant', model: '', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 0, output_tokens: 0 } },
      });
    }
    const index = this.nextBlock;
    out += sseFrame('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
    out += sseFrame('content_block_stop', { type: 'content_block_stop', index });
    return out + sseFrame('error', { type: 'error', error: { type: REFUSAL_TYPE, message: streamedMessage(notice), code: notice.code, ...notice.details } });
  }

  /**
   * Responses: an `error` event with the refusal's own code (what SDK users iterating events see), then
   * `response.failed`, the event that ends a Responses stream. Codex retries a failed response five times unless
   * its error code is one it knows to be final; `invalid_prompt` is that code in OpenAI's own list
   * (`ResponseError.code`), so it goes there and the refusal's code stays in the `error` event and beside it.
   */
  private responsesEnding(notice: RefusalNotice): string {
    const error = sseFrame('error', { type: 'error', code: notice.code, message: notice.message, param: null, sequence_number: this.sequence + 1, ...notice.details });
    const snapshot = this.response ?? { id: 'resp_refused', object: 'response', created_at: Math.floor(Date.now() / 1000), model: '', output: [] };
    const response = { ...snapshot, status: 'failed', error: { code: 'invalid_prompt', message: notice.message, refusal_code: notice.code }, incomplete_details: null };
    return error + sseFrame('response.failed', { type: 'response.failed', sequence_number: this.sequence + 2, response });
  }
}

function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
