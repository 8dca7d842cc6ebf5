import { chatErrorFromAnthropic } from './replies.js';
import { incompleteFromFinish, incompleteFromStop, ResponsesWriter, responsesUsageFromAnthropic, responsesUsageFromChat } from './responses-writer.js';
import type { ToolNames } from './responses-names.js';
import { FrameTranslator, type StreamTranslateOptions } from './stream-frames.js';
import { isObj, UntranslatableReply, type Obj, type TranslateOptions } from './types.js';

/** What the reply translators need of the request: its tool names' mapping (namespaced functions). */
export interface ResponsesReplyOptions {
  names?: ToolNames | undefined;
}

/**
 * Replies for an OpenAI Responses client served by an Anthropic Messages or OpenAI chat target, whole and
 * streamed. Both go through ResponsesWriter, fed the same calls in the same order, so a streamed reply's
 * `response.completed` is the whole reply's translation.
 */

/** Anthropic error types as the codes a Responses client knows (Codex retries server_error and rate limits). */
function responsesCode(anthropicType: unknown): string {
  if (anthropicType === 'rate_limit_error') return 'rate_limit_exceeded';
  if (anthropicType === 'invalid_request_error') return 'invalid_prompt';
  return 'server_error';
}

/** One Anthropic content block's calls on the writer (start, and for a whole block its content). */
function anthropicBlockStart(w: ResponsesWriter, b: Obj): string {
  switch (b.type) {
    case 'text':
      return w.endTextBlock() + (typeof b.text === 'string' ? w.text(b.text) : '');
    case 'thinking':
      return w.close() + w.reasoning(typeof b.thinking === 'string' ? b.thinking : '') + (typeof b.signature === 'string' && b.signature !== '' ? w.signature(b.signature) : '');
    case 'redacted_thinking':
      return w.close() + w.signature(typeof b.data === 'string' ? b.data : '', true);
    case 'tool_use':
      return w.callStart(b.id, b.name);
    default:
      throw new UntranslatableReply('the reply holds a content block of a type that has no OpenAI Responses form');
  }
}

/** A whole Anthropic message as an OpenAI Responses response. */
export function messagesToResponsesReply(msg: Obj, opts: TranslateOptions & ResponsesReplyOptions = {}): Obj {
  const w = new ResponsesWriter(opts.now, opts.names);
  w.start(msg.id, msg.model);
  for (const b of Array.isArray(msg.content) ? msg.content : []) {
    if (!isObj(b)) continue;
    anthropicBlockStart(w, b);
    if (b.type === 'tool_use') w.callArguments(JSON.stringify(isObj(b.input) ? b.input : {}));
    if (b.type === 'tool_use' || b.type === 'thinking' || b.type === 'redacted_thinking') w.close();
  }
  w.close();
  return w.final({ incomplete: incompleteFromStop(msg.stop_reason), usage: isObj(msg.usage) ? responsesUsageFromAnthropic(msg.usage) : undefined });
}

/** An Anthropic Messages event stream as an OpenAI Responses event stream. */
export class AnthropicToResponsesStream extends FrameTranslator {
  private readonly w: ResponsesWriter;
  private usage: Obj = {};
  private stop: unknown = null;
  /** Content block index → type, to close calls and thinking when their block stops. */
  private readonly blocks = new Map<number, unknown>();

  constructor(opts: StreamTranslateOptions & ResponsesReplyOptions) {
    super(opts);
    this.w = new ResponsesWriter(opts.now, opts.names);
  }

  protected frame(event: string | undefined, o: Obj): string {
    const type = event ?? (typeof o.type === 'string' ? o.type : undefined);
    const w = this.w;
    switch (type) {
      case 'message_start': {
        const m = isObj(o.message) ? o.message : {};
        if (isObj(m.usage)) this.usage = { ...m.usage };
        return w.start(m.id, m.model);
      }
      case 'content_block_start': {
        const b = isObj(o.content_block) ? o.content_block : {};
        if (typeof o.index === 'number') this.blocks.set(o.index, b.type);
        // The block's input arrives as input_json_delta; the {} it opens with is not part of it.
        return w.start(null, null) + anthropicBlockStart(w, b.type === 'thinking' ? { ...b, signature: undefined } : b);
      }
      case 'content_block_delta': {
        const d = isObj(o.delta) ? o.delta : {};
        if (d.type === 'text_delta') return typeof d.text === 'string' ? w.text(d.text) : '';
        if (d.type === 'input_json_delta') return typeof d.partial_json === 'string' ? w.callArguments(d.partial_json) : '';
        if (d.type === 'thinking_delta') return typeof d.thinking === 'string' ? w.reasoning(d.thinking) : '';
        if (d.type === 'signature_delta') return typeof d.signature === 'string' ? w.signature(d.signature) : '';
        if (d.type === 'citations_delta') return '';
        throw new UntranslatableReply('the reply holds a content delta of a type that has no OpenAI Responses form');
      }
      case 'content_block_stop': {
        const kind = typeof o.index === 'number' ? this.blocks.get(o.index) : undefined;
        return kind === 'tool_use' || kind === 'thinking' || kind === 'redacted_thinking' ? w.close() : '';
      }
      case 'message_delta': {
        const d = isObj(o.delta) ? o.delta : {};
        if (d.stop_reason !== undefined) this.stop = d.stop_reason;
        // Counts in message_delta are cumulative and win over message_start's.
        if (isObj(o.usage)) for (const [k, v] of Object.entries(o.usage)) if (v !== null && v !== undefined) this.usage[k] = v;
        return '';
      }
      case 'message_stop':
        this.finished = true;
        return w.finish({ incomplete: incompleteFromStop(this.stop), usage: responsesUsageFromAnthropic(this.usage) });
      case 'error': {
        this.finished = true;
        const e = isObj(o.error) ? o.error : {};
        return w.fail(responsesCode(e.type), typeof e.message === 'string' ? e.message : 'upstream error');
      }
      default:
        return '';
    }
  }

  protected done(): string {
    return '';
  }

  protected close(): string {
    if (!this.finished) throw new Error('the upstream stream ended before message_stop');
    return '';
  }
}

/** A whole OpenAI chat.completion as an OpenAI Responses response. */
export function chatToResponsesReply(reply: Obj, opts: TranslateOptions & ResponsesReplyOptions = {}): Obj {
  const w = new ResponsesWriter(opts.now, opts.names);
  w.start(reply.id, reply.model);
  const choice = Array.isArray(reply.choices) && isObj(reply.choices[0]) ? reply.choices[0] : {};
  const m = isObj(choice.message) ? choice.message : {};
  const reasoning = typeof m.reasoning_content === 'string' ? m.reasoning_content : typeof m.reasoning === 'string' ? m.reasoning : '';
  if (reasoning !== '') w.reasoning(reasoning);
  if (typeof m.content === 'string') w.text(m.content);
  if (typeof m.refusal === 'string') w.text(m.refusal);
  for (const tc of Array.isArray(m.tool_calls) ? m.tool_calls : []) {
    if (!isObj(tc) || !isObj(tc.function)) continue;
    w.callStart(tc.id, tc.function.name);
    w.callArguments(typeof tc.function.arguments === 'string' ? tc.function.arguments : '');
    w.close();
  }
  w.close();
  return w.final({ incomplete: incompleteFromFinish(choice.finish_reason), usage: isObj(reply.usage) ? responsesUsageFromChat(reply.usage) : undefined });
}

/**
 * OpenAI chat.completion.chunk frames as an OpenAI Responses event stream. Tool calls are reassembled by their
 * `index` (the first piece names the call); a call whose arguments continue after another part of the reply
 * began cannot be said as Responses items, which are written one after another, and fails the stream.
 */
export class ChatToResponsesStream extends FrameTranslator {
  private readonly w: ResponsesWriter;
  private finish: unknown = null;
  private usage: Obj | undefined;
  /** Tool call index → whether its item is still the open one. */
  private readonly calls = new Map<number, boolean>();
  private openCall: number | undefined;

  constructor(opts: StreamTranslateOptions & ResponsesReplyOptions) {
    super(opts);
    this.w = new ResponsesWriter(opts.now, opts.names);
  }

  protected frame(_event: string | undefined, o: Obj): string {
    const w = this.w;
    if (isObj(o.error)) {
      this.finished = true;
      const e = o.error;
      return w.fail(typeof e.code === 'string' && /^[a-z_]{1,60}$/.test(e.code) ? e.code : 'server_error', typeof e.message === 'string' ? e.message : 'upstream error');
    }
    let out = w.start(o.id, o.model);
    if (isObj(o.usage)) this.usage = responsesUsageFromChat(o.usage);
    const choice = Array.isArray(o.choices) && isObj(o.choices[0]) ? o.choices[0] : undefined;
    if (!choice) return out;
    const d = isObj(choice.delta) ? choice.delta : {};
    const reasoning = typeof d.reasoning_content === 'string' ? d.reasoning_content : typeof d.reasoning === 'string' ? d.reasoning : '';
    if (reasoning !== '') out += this.leaveCall() + w.reasoning(reasoning);
    for (const text of [d.content, d.refusal]) if (typeof text === 'string' && text !== '') out += this.leaveCall() + w.text(text);
    if (Array.isArray(d.tool_calls)) d.tool_calls.forEach((tc, i) => (out += this.toolDelta(tc, i)));
    if (typeof choice.finish_reason === 'string') this.finish = choice.finish_reason;
    return out;
  }

  private leaveCall(): string {
    if (this.openCall === undefined) return '';
    this.calls.set(this.openCall, false);
    this.openCall = undefined;
    return this.w.close();
  }

  private toolDelta(tc: unknown, position: number): string {
    if (!isObj(tc)) return '';
    const index = typeof tc.index === 'number' ? tc.index : position;
    const fn = isObj(tc.function) ? tc.function : {};
    let out = '';
    if (this.openCall !== index) {
      if (this.calls.has(index)) throw new UntranslatableReply("a tool call's arguments continued after another part of the reply began, which no Responses stream can say");
      out += this.leaveCall() + this.w.close() + this.w.callStart(tc.id, fn.name);
      this.calls.set(index, true);
      this.openCall = index;
    } else if (typeof fn.name === 'string' && fn.name !== '') {
      throw new UntranslatableReply("a tool call's name grew after it began");
    }
    return out + (typeof fn.arguments === 'string' ? this.w.callArguments(fn.arguments) : '');
  }

  protected done(): string {
    if (this.finish === null) throw new Error('the upstream stream ended without a finish reason');
    this.finished = true;
    return this.leaveCall() + this.w.finish({ incomplete: incompleteFromFinish(this.finish), usage: this.usage });
  }

  protected close(): string {
    // Some OpenAI-compatible servers end the body after the finish reason without [DONE].
    if (this.finished) return '';
    return this.done();
  }
}

/** An error body from either target, in the Responses client's shape (OpenAI's). */
export function responsesErrorFrom(body: Obj, upstream: 'chat' | 'messages'): Obj {
  return upstream === 'messages' ? chatErrorFromAnthropic(body) : body;
}
