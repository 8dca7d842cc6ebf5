import type { ToolNames } from './responses-names.js';
import { REDACTED_PREFIX } from './responses-request.js';
import { sseEvent } from './stream-frames.js';
import { isObj, nowSeconds, UntranslatableReply, type Obj } from './types.js';

/** How a reply ended, in Responses' terms. */
export interface Ending {
  /** `incomplete` carries its reason (`max_output_tokens`, `content_filter`). */
  incomplete?: string | undefined;
  usage: Obj | undefined;
}

type Open =
  | { kind: 'message'; item: Obj; index: number; part: Obj | undefined; partIndex: number }
  | { kind: 'call'; item: Obj; index: number }
  | { kind: 'reasoning'; item: Obj; index: number; text: string; summaryOpen: boolean };

/**
 * Writes a reply as an OpenAI Responses event stream and keeps the response object it describes. Both
 * translated directions (from Anthropic Messages, from OpenAI chat) drive one writer, and so do whole replies:
 * a whole reply is the writer's final response object, which is what the stream's `response.completed`
 * carries, so a client gets the same reply streamed or not.
 *
 * Items are written one at a time (added, deltas, done), as OpenAI does: a run of text is one message item
 * (each upstream text block a content part), each tool call a function_call item whose `call_id` is the
 * upstream's call id, thinking a reasoning item whose `encrypted_content` is the thinking's signature (so a
 * stateless client such as Codex can send it back). Ids are made from the upstream's reply id, so translating
 * the same reply twice gives the same ids.
 */
export class ResponsesWriter {
  private seq = 0;
  private readonly output: Obj[] = [];
  private open: Open | undefined;
  private response: Obj | undefined;
  private base = 'reply';
  /** Text written so far, per output item index, for the done events. */
  private partText = '';
  private callArgs = '';

  /** `names` turns the target's flat tool names back into the client's (a namespaced function's name and namespace). */
  constructor(
    private readonly now: () => number = nowSeconds,
    private readonly names?: ToolNames,
  ) {}

  get started(): boolean {
    return this.response !== undefined;
  }

  private ev(type: string, body: Obj): string {
    return sseEvent(type, { type, sequence_number: this.seq++, ...body });
  }

  /** The reply began: response.created and response.in_progress. */
  start(id: unknown, model: unknown): string {
    if (this.response) return '';
    this.base = typeof id === 'string' && /^[A-Za-z0-9_-]{1,200}$/.test(id) ? id : 'reply';
    this.response = {
      id: `resp_${this.base}`,
      object: 'response',
      created_at: this.now(),
      status: 'in_progress',
      error: null,
      incomplete_details: null,
      model: model ?? null,
      output: [],
      parallel_tool_calls: true,
      tool_choice: 'auto',
      tools: [],
      usage: null,
    };
    return this.ev('response.created', { response: { ...this.response } }) + this.ev('response.in_progress', { response: { ...this.response } });
  }

  text(delta: string): string {
    if (delta === '') return '';
    let out = '';
    if (this.open?.kind !== 'message') {
      out += this.close();
      const item = { id: `msg_${this.output.length}_${this.base}`, type: 'message', status: 'in_progress', role: 'assistant', content: [] as Obj[] };
      this.open = { kind: 'message', item, index: this.output.length, part: undefined, partIndex: -1 };
      out += this.ev('response.output_item.added', { output_index: this.output.length, item: { ...item, content: [] } });
    }
    const open = this.open as Extract<Open, { kind: 'message' }>;
    if (!open.part) out += this.newPart(open);
    this.partText += delta;
    return out + this.ev('response.output_text.delta', { item_id: open.item.id, output_index: open.index, content_index: open.partIndex, delta, logprobs: [] });
  }

  /** The upstream began a new text block: the next text is a new content part of the same message. */
  endTextBlock(): string {
    if (this.open?.kind !== 'message' || !this.open.part) return '';
    return this.closePart(this.open);
  }

  private newPart(open: Extract<Open, { kind: 'message' }>): string {
    open.partIndex++;
    open.part = { type: 'output_text', text: '', annotations: [] };
    this.partText = '';
    return this.ev('response.content_part.added', { item_id: open.item.id, output_index: open.index, content_index: open.partIndex, part: { ...open.part } });
  }

  private closePart(open: Extract<Open, { kind: 'message' }>): string {
    const part = { ...open.part!, text: this.partText };
    open.part = undefined;
    (open.item.content as Obj[]).push(part);
    const at = { item_id: open.item.id, output_index: open.index, content_index: open.partIndex };
    return this.ev('response.output_text.done', { ...at, text: this.partText, logprobs: [] }) + this.ev('response.content_part.done', { ...at, part });
  }

  reasoning(delta: string): string {
    let out = '';
    if (this.open?.kind !== 'reasoning') out += this.startReasoning();
    const open = this.open as Extract<Open, { kind: 'reasoning' }>;
    if (delta === '') return out;
    const at = { item_id: open.item.id, output_index: open.index, summary_index: 0 };
    if (!open.summaryOpen) {
      open.summaryOpen = true;
      out += this.ev('response.reasoning_summary_part.added', { ...at, part: { type: 'summary_text', text: '' } });
    }
    open.text += delta;
    return out + this.ev('response.reasoning_summary_text.delta', { ...at, delta });
  }

  /** A thinking block's signature, or (redacted) its encrypted data: the reasoning item's encrypted_content. */
  signature(value: string, redacted = false): string {
    let out = '';
    if (this.open?.kind !== 'reasoning') out += this.startReasoning();
    const open = this.open as Extract<Open, { kind: 'reasoning' }>;
    open.item.encrypted_content = (redacted ? REDACTED_PREFIX : '') + value;
    return out;
  }

  private startReasoning(): string {
    const out = this.close();
    const item = { id: `rs_${this.output.length}_${this.base}`, type: 'reasoning', summary: [] as Obj[] };
    this.open = { kind: 'reasoning', item, index: this.output.length, text: '', summaryOpen: false };
    return out + this.ev('response.output_item.added', { output_index: this.output.length, item: { ...item, summary: [] } });
  }

  /** A function call began (its id and name known). */
  callStart(callId: unknown, name: unknown): string {
    if (typeof callId !== 'string' || callId === '') throw new UntranslatableReply('the model made a tool call without an id');
    if (typeof name !== 'string') throw new UntranslatableReply('the model made a tool call without a name');
    const out = this.close();
    const tool = this.names ? this.names.original(name) : { name };
    const item: Obj = { id: `fc_${this.output.length}_${this.base}`, type: 'function_call', status: 'in_progress', arguments: '', call_id: callId, name: tool.name };
    // Codex runs a namespaced function only when the call names its namespace too.
    if (tool.namespace !== undefined) item.namespace = tool.namespace;
    this.open = { kind: 'call', item, index: this.output.length };
    this.callArgs = '';
    return out + this.ev('response.output_item.added', { output_index: this.output.length, item: { ...item } });
  }

  callArguments(delta: string): string {
    if (this.open?.kind !== 'call') throw new UntranslatableReply('the upstream sent tool arguments outside a tool call');
    if (delta === '') return '';
    this.callArgs += delta;
    return this.ev('response.function_call_arguments.delta', { item_id: this.open.item.id, output_index: this.open.index, delta });
  }

  /** The open item is complete. */
  close(): string {
    const open = this.open;
    if (!open) return '';
    this.open = undefined;
    let out = '';
    if (open.kind === 'message') {
      if (open.part) out += this.closePart(open);
      open.item.status = 'completed';
    } else if (open.kind === 'call') {
      const args = this.callArgs;
      // A Responses client parses the arguments as JSON; what is not an object is no call it can run.
      let parsed: unknown;
      try {
        parsed = JSON.parse(args.trim() === '' ? '{}' : args);
      } catch {
        parsed = undefined;
      }
      if (!isObj(parsed)) throw new UntranslatableReply('the model called a tool with arguments that are not a JSON object');
      open.item.arguments = args;
      open.item.status = 'completed';
      out += this.ev('response.function_call_arguments.done', { item_id: open.item.id, output_index: open.index, name: open.item.name, arguments: args });
    } else {
      const at = { item_id: open.item.id, output_index: open.index, summary_index: 0 };
      if (open.summaryOpen) {
        const part = { type: 'summary_text', text: open.text };
        out += this.ev('response.reasoning_summary_text.done', { ...at, text: open.text }) + this.ev('response.reasoning_summary_part.done', { ...at, part });
        (open.item.summary as Obj[]).push(part);
      }
    }
    this.output.push(open.item);
    return out + this.ev('response.output_item.done', { output_index: open.index, item: open.item });
  }

  /** The reply ended: response.completed, or response.incomplete with its reason. */
  finish(ending: Ending): string {
    let out = this.start(null, null) + this.close();
    const response = this.final(ending);
    out += this.ev(ending.incomplete ? 'response.incomplete' : 'response.completed', { response });
    return out;
  }

  /** The response object as the reply ended (for whole replies, the reply itself). */
  final(ending: Ending): Obj {
    this.start(null, null);
    const r = this.response!;
    r.status = ending.incomplete ? 'incomplete' : 'completed';
    r.incomplete_details = ending.incomplete ? { reason: ending.incomplete } : null;
    r.output = this.output;
    r.usage = ending.usage ?? null;
    return r;
  }

  /** The upstream failed mid-reply: an `error` event (SDKs raise it), then `response.failed` ends the stream. */
  fail(code: string, message: string): string {
    const error = this.ev('error', { code, message, param: null });
    const snapshot = this.response ?? { id: 'resp_failed', object: 'response', created_at: this.now(), model: null, output: [] };
    return error + this.ev('response.failed', { response: { ...snapshot, status: 'failed', output: this.output, error: { code, message }, incomplete_details: null } });
  }
}

/** Anthropic usage as Responses usage: cache reads and writes are part of the input, reads are cached_tokens. */
export function responsesUsageFromAnthropic(u: Obj): Obj {
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const read = num(u.cache_read_input_tokens);
  const input = num(u.input_tokens) + read + num(u.cache_creation_input_tokens);
  const output = num(u.output_tokens);
  return { input_tokens: input, input_tokens_details: { cached_tokens: read }, output_tokens: output, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: input + output };
}

/** OpenAI chat usage as Responses usage (the same counts under other names). */
export function responsesUsageFromChat(u: Obj): Obj {
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const input = num(u.prompt_tokens);
  const output = num(u.completion_tokens);
  const cached = isObj(u.prompt_tokens_details) ? num(u.prompt_tokens_details.cached_tokens) : 0;
  const reasoning = isObj(u.completion_tokens_details) ? num(u.completion_tokens_details.reasoning_tokens) : 0;
  return { input_tokens: input, input_tokens_details: { cached_tokens: cached }, output_tokens: output, output_tokens_details: { reasoning_tokens: reasoning }, total_tokens: input + output };
}

/** Why an Anthropic reply stopped, as a Responses incomplete reason (undefined: completed). */
export function incompleteFromStop(stop: unknown): string | undefined {
  if (stop === 'max_tokens' || stop === 'model_context_window_exceeded') return 'max_output_tokens';
  if (stop === 'refusal') return 'content_filter';
  return undefined;
}

/** Why an OpenAI chat reply finished, as a Responses incomplete reason. */
export function incompleteFromFinish(finish: unknown): string | undefined {
  if (finish === 'length') return 'max_output_tokens';
  if (finish === 'content_filter') return 'content_filter';
  return undefined;
}
