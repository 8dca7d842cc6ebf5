import { chatErrorFromAnthropic, chatUsageFromAnthropic, finishFromStop } from './replies.js';
import { ObjectFrameTranslator, type StreamTranslateOptions } from './stream-frames.js';
import { isObj, nowSeconds, UntranslatableReply, type Obj } from './types.js';

export interface ToChatStreamOptions extends StreamTranslateOptions {
  /** The client asked for the usage chunk (`stream_options.include_usage`). */
  includeUsage: boolean;
}

/**
 * An Anthropic Messages event stream as OpenAI chat.completion.chunk frames. Each tool_use block becomes one
 * entry of `tool_calls`, indexed in the order the blocks start (its id kept), and its input_json_delta pieces
 * become that entry's `arguments` pieces one for one, so a client joining the pieces gets the input Anthropic
 * sent. message_delta's stop reason is the finish_reason; usage (message_start's and message_delta's counts,
 * merged) is the final chunk when the client asked for it; message_stop ends the stream with [DONE].
 */
export class AnthropicToChatStream extends ObjectFrameTranslator {
  private id: unknown = null;
  private model: unknown = null;
  private created: number;
  /** Content block index → tool call index. */
  private readonly tools = new Map<number, number>();
  private usage: Obj = {};

  constructor(private readonly chatOpts: ToChatStreamOptions) {
    super(chatOpts);
    this.created = (chatOpts.now ?? nowSeconds)();
  }

  /** Every chunk up to its delta: the same for the whole stream, so serialised once (most frames are one text piece). */
  private prefix: string | undefined;

  private chunk(delta: Obj, finish: string | null = null): string {
    if (this.frames) return this.data(this.asParsed({ id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] }));
    // Byte for byte what JSON.stringify of the whole chunk gives (the golden test holds it to that).
    this.prefix ??= `data: {"id":${JSON.stringify(this.id)},"object":"chat.completion.chunk","created":${this.created},"model":${JSON.stringify(this.model)},"choices":[{"index":0,"delta":`;
    return `${this.prefix}${JSON.stringify(delta)},"logprobs":null,"finish_reason":${finish === null ? 'null' : JSON.stringify(finish)}}]}\n\n`;
  }

  /** `chunk({ content: text })`, the frame most of a stream is: a string serialised alone costs less than an object. */
  private textChunk(text: string): string {
    // The id and model are JSON values (the upstream's, or null), and the text a string: the chunk needs no round trip.
    if (this.frames) return this.data({ id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [{ index: 0, delta: { content: text }, logprobs: null, finish_reason: null }] });
    this.prefix ??= `data: {"id":${JSON.stringify(this.id)},"object":"chat.completion.chunk","created":${this.created},"model":${JSON.stringify(this.model)},"choices":[{"index":0,"delta":`;
    return `${this.prefix}{"content":${JSON.stringify(text)}},"logprobs":null,"finish_reason":null}]}\n\n`;
  }

  protected frame(event: string | undefined, o: Obj): string {
    const type = event ?? (typeof o.type === 'string' ? o.type : undefined);
    switch (type) {
      case 'message_start': {
        const m = isObj(o.message) ? o.message : {};
        this.id = m.id ?? null;
        this.model = m.model ?? null;
        this.prefix = undefined;
        if (isObj(m.usage)) this.usage = { ...m.usage };
        return this.chunk({ role: 'assistant', content: '' });
      }
      case 'content_block_start': {
        const b = isObj(o.content_block) ? o.content_block : {};
        const index = typeof o.index === 'number' ? o.index : -1;
        if (b.type === 'text') return typeof b.text === 'string' && b.text !== '' ? this.chunk({ content: b.text }) : '';
        if (b.type === 'thinking') return typeof b.thinking === 'string' && b.thinking !== '' ? this.chunk({ reasoning_content: b.thinking }) : '';
        if (b.type === 'redacted_thinking') return '';
        if (b.type === 'tool_use') {
          const call = this.tools.size;
          this.tools.set(index, call);
          return this.chunk({ tool_calls: [{ index: call, id: b.id, type: 'function', function: { name: b.name, arguments: '' } }] });
        }
        throw new UntranslatableReply('the reply holds a content block of a type that has no OpenAI chat form');
      }
      case 'content_block_delta': {
        const d = isObj(o.delta) ? o.delta : {};
        if (d.type === 'text_delta') return typeof d.text === 'string' ? this.textChunk(d.text) : this.chunk({ content: d.text });
        if (d.type === 'input_json_delta') {
          const call = this.tools.get(typeof o.index === 'number' ? o.index : -1);
          if (call === undefined) throw new UntranslatableReply('the upstream sent tool input for a block that is not a tool call');
          return d.partial_json === '' ? '' : this.chunk({ tool_calls: [{ index: call, function: { arguments: d.partial_json } }] });
        }
        if (d.type === 'thinking_delta') return this.chunk({ reasoning_content: d.thinking });
        // A thinking block's signature and a text block's citations have no chat member.
        if (d.type === 'signature_delta' || d.type === 'citations_delta') return '';
        throw new UntranslatableReply('the reply holds a content delta of a type that has no OpenAI chat form');
      }
      case 'message_delta': {
        const d = isObj(o.delta) ? o.delta : {};
        // Counts in message_delta are cumulative and win over message_start's.
        if (isObj(o.usage)) for (const [k, v] of Object.entries(o.usage)) if (v !== null && v !== undefined) this.usage[k] = v;
        return this.chunk({}, finishFromStop(d.stop_reason) ?? 'stop');
      }
      case 'message_stop':
        this.finished = true;
        return (this.chatOpts.includeUsage ? this.data(this.asParsed({ id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [], usage: chatUsageFromAnthropic(this.usage) })) : '') + this.doneFrame();
      case 'error':
        // OpenAI's SDK raises an APIError for a chunk carrying `error`; no [DONE] follows.
        this.finished = true;
        return this.data(this.asParsed(chatErrorFromAnthropic(o)));
      default:
        // ping, content_block_stop, and event types added later carry nothing a chat client reads.
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
