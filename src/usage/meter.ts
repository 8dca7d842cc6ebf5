import type { Family } from '../providers/targets.js';
import { estimateTokens } from './tokens.js';
import type { Usage } from './types.js';

/**
 * Token usage of one reply, read from what the provider sent, normalised to the semantics documented in
 * pricing.ts: input counts every prompt token (cache reads and writes included), output every generated token
 * (reasoning included), and the cached / cache-write / reasoning fields say how many of those were of that kind.
 *
 * Pure functions and a small class; no I/O. The relay feeds them bodies and SSE frames.
 */

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const count = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null);

function makeUsage(
  input: number | null,
  output: number | null,
  cached: number | null,
  write: number | null,
  reasoning: number | null,
  estimated: boolean,
  write1h?: number | null,
): Usage {
  // Keys in sorted order, as decision events are built (see DecisionContext.build). The 1-hour count is only
  // present when there is something to say: events stay the same shape for everyone not on 1-hour caching.
  const u: Usage = { cache_write_tokens: write, cached_input_tokens: cached, estimated, input_tokens: input, output_tokens: output, reasoning_tokens: reasoning };
  return write1h ? { cache_write_1h_tokens: write1h, ...u } : u;
}

/**
 * OpenAI counts reasoning inside completion/output tokens; some OpenAI-compatible providers (xAI) report it
 * beside them. `total_tokens` tells which: when it equals prompt + completion + reasoning rather than
 * prompt + completion, reasoning was not included and is added here.
 */
function outputIncludingReasoning(prompt: number | null, completion: number | null, reasoning: number | null, total: number | null): number | null {
  if (completion === null || !reasoning || total === null || prompt === null) return completion;
  return total === prompt + completion + reasoning ? completion + reasoning : completion;
}

/** OpenAI Chat Completions `usage` (also what Mistral, DeepSeek, xAI and Gemini's OpenAI endpoint send). */
function chatUsage(u: Obj): Usage | null {
  const prompt = count(u.prompt_tokens);
  const completion = count(u.completion_tokens);
  if (prompt === null && completion === null) return null;
  const pd = isObj(u.prompt_tokens_details) ? u.prompt_tokens_details : {};
  const cd = isObj(u.completion_tokens_details) ? u.completion_tokens_details : {};
  // DeepSeek reports cache hits as prompt_cache_hit_tokens (prompt_tokens = hit + miss).
  const cached = count(pd.cached_tokens) ?? count(u.prompt_cache_hit_tokens);
  const reasoning = count(cd.reasoning_tokens);
  return makeUsage(prompt, outputIncludingReasoning(prompt, completion, reasoning, count(u.total_tokens)), cached, null, reasoning, false);
}

/** OpenAI Responses `usage`. */
function responsesUsage(u: Obj): Usage | null {
  const input = count(u.input_tokens);
  const output = count(u.output_tokens);
  if (input === null && output === null) return null;
  const id = isObj(u.input_tokens_details) ? u.input_tokens_details : {};
  const od = isObj(u.output_tokens_details) ? u.output_tokens_details : {};
  const reasoning = count(od.reasoning_tokens);
  return makeUsage(input, outputIncludingReasoning(input, output, reasoning, count(u.total_tokens)), count(id.cached_tokens), null, reasoning, false);
}

interface AnthropicCounts {
  /** `input_tokens`: only the tokens after the last cache breakpoint, NOT the cache reads or writes. */
  base: number | null;
  read: number | null;
  write: number | null;
  write1h: number | null;
  output: number | null;
}

function anthropicCounts(u: Obj): AnthropicCounts {
  const creation = isObj(u.cache_creation) ? u.cache_creation : {};
  return {
    base: count(u.input_tokens),
    read: count(u.cache_read_input_tokens),
    write: count(u.cache_creation_input_tokens),
    write1h: count(creation.ephemeral_1h_input_tokens),
    output: count(u.output_tokens),
  };
}

function anthropicInput(c: AnthropicCounts): number | null {
  if (c.base === null && c.read === null && c.write === null) return null;
  return (c.base ?? 0) + (c.read ?? 0) + (c.write ?? 0);
}

function anthropicUsage(c: AnthropicCounts, output: number | null, estimated: boolean): Usage {
  return makeUsage(anthropicInput(c), output, c.read, c.write, null, estimated, c.write1h);
}

/** Usage of a non-streamed reply body; null when it has none (or for count_tokens, which is not usage). */
export function usageFromBody(family: Family, body: unknown): Usage | null {
  if (!isObj(body) || !isObj(body.usage)) return null;
  switch (family) {
    case 'chat':
      return chatUsage(body.usage);
    case 'responses':
      return responsesUsage(body.usage);
    case 'messages': {
      const c = anthropicCounts(body.usage);
      return c.output === null && anthropicInput(c) === null ? null : anthropicUsage(c, c.output, false);
    }
    default:
      return null;
  }
}

// ---- Streams ----------------------------------------------------------------------------------------------------

/** SSE frame separator: a blank line, with any of the three line endings the spec allows. */
const FRAME_END = /\r\n\r\n|\n\n|\r\r/g;
const LINE_END = /\r\n|\r|\n/;

/** Generated text beyond this is counted by length only: a runaway stream must not hold unbounded memory. */
const KEEP_TEXT_CHARS = 1 << 20;

/**
 * Follows one streamed reply and says what it used. Feed it either parsed frames (`onFrame`, when another parser
 * such as StreamGuard already splits them) or raw text (`push`, which splits frames itself); not both.
 *
 * When the provider reported usage (chat: the `usage` chunk sent with `stream_options.include_usage`; Responses:
 * `response.completed` / `response.incomplete`; Anthropic: `message_start` + `message_delta`), `result()` returns it
 * with `estimated: false`. When the stream ended first (client cancelled, upstream cut), the counts are estimated
 * from the request text and the text generated so far, `estimated: true`: a cancelled stream was still billed.
 */
export class StreamMeter {
  private buffer = '';
  private scanFrom = 0;
  private readonly pieces: string[] = [];
  private keptChars = 0;
  private droppedChars = 0;
  private reported: Usage | null = null;
  private anthropicStart: AnthropicCounts | null = null;
  private anthropicDelta: Partial<AnthropicCounts> | null = null;

  constructor(private readonly family: Family) {}

  /** Raw SSE text as it arrives, split anywhere. */
  push(text: string): void {
    if (text.length === 0) return;
    this.buffer += text;
    FRAME_END.lastIndex = this.scanFrom;
    let start = 0;
    for (let m = FRAME_END.exec(this.buffer); m !== null; m = FRAME_END.exec(this.buffer)) {
      this.rawFrame(this.buffer.slice(start, m.index));
      start = m.index + m[0].length;
    }
    if (start > 0) this.buffer = this.buffer.slice(start);
    // A separator split across two pushes ("\r\n\r" + "\n") must still be found: rescan the last 3 characters.
    this.scanFrom = Math.max(0, this.buffer.length - 3);
  }

  /** The stream ended: a last frame without its blank line still counts. */
  end(): void {
    if (this.buffer.trim() !== '') this.rawFrame(this.buffer);
    this.buffer = '';
    this.scanFrom = 0;
  }

  /** One parsed frame: its `event:` name (if any) and its `data:` JSON. */
  onFrame(event: string | undefined, data: unknown): void {
    if (!isObj(data)) return;
    if (this.family === 'chat') this.chatFrame(data);
    else if (this.family === 'messages') this.anthropicFrame(event ?? (typeof data.type === 'string' ? data.type : undefined), data);
    else if (this.family === 'responses') this.responsesFrame(event ?? (typeof data.type === 'string' ? data.type : undefined), data);
  }

  /** True once the provider has reported the final usage of this reply. */
  get complete(): boolean {
    if (this.family === 'messages') return this.anthropicStart !== null && this.anthropicDelta !== null;
    return this.reported !== null;
  }

  /** The text generated so far: content, tool-call arguments, reasoning/thinking text. */
  generatedText(): string {
    return this.pieces.join('');
  }

  /**
   * Usage of the reply: as reported, or estimated for what the provider did not report. `requestText` is the
   * request's text (for an input estimate); without it an unreported input stays null. Null for count_tokens.
   */
  result(requestText?: string): Usage | null {
    if (this.family === 'count_tokens') return null;
    this.end();
    if (this.family === 'messages') return this.anthropicResult(requestText);
    if (this.reported) return this.reported;
    return makeUsage(requestText === undefined ? null : estimateTokens(requestText), this.estimateOutput(), null, null, null, true);
  }

  private anthropicResult(requestText: string | undefined): Usage {
    const start = this.anthropicStart;
    const delta = this.anthropicDelta;
    if (start && delta) {
      // message_delta counts are cumulative; newer API versions repeat the input and cache counts there too.
      const merged: AnthropicCounts = {
        base: delta.base ?? start.base,
        read: delta.read ?? start.read,
        write: delta.write ?? start.write,
        write1h: delta.write1h ?? start.write1h,
        output: delta.output ?? start.output,
      };
      return anthropicUsage(merged, merged.output, false);
    }
    if (start) {
      // message_start already told the exact input; only the output needs estimating.
      return anthropicUsage(start, Math.max(start.output ?? 0, this.estimateOutput()), true);
    }
    return makeUsage(requestText === undefined ? null : estimateTokens(requestText), this.estimateOutput(), null, null, null, true);
  }

  private estimateOutput(): number {
    const kept = estimateTokens(this.generatedText());
    if (this.droppedChars === 0 || this.keptChars === 0) return kept;
    return Math.ceil(kept * ((this.keptChars + this.droppedChars) / this.keptChars));
  }

  private addText(v: unknown): void {
    if (typeof v !== 'string' || v.length === 0) return;
    if (this.keptChars >= KEEP_TEXT_CHARS) {
      this.droppedChars += v.length;
      return;
    }
    this.pieces.push(v);
    this.keptChars += v.length;
  }

  private rawFrame(raw: string): void {
    let event: string | undefined;
    let data: string | undefined;
    for (const line of raw.split(LINE_END)) {
      if (line.startsWith('data:')) {
        const v = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
        data = data === undefined ? v : `${data}\n${v}`;
      } else if (line.startsWith('event:')) event = line.slice(6).trim();
    }
    if (data === undefined || data === '[DONE]') return;
    let obj: unknown;
    try {
      obj = JSON.parse(data);
    } catch {
      return;
    }
    this.onFrame(event, obj);
  }

  // ---- OpenAI Chat Completions ----
  private chatFrame(o: Obj): void {
    if (Array.isArray(o.choices)) {
      for (const ch of o.choices) {
        if (!isObj(ch) || !isObj(ch.delta)) continue;
        const d = ch.delta;
        this.addText(d.content);
        this.addText(d.reasoning_content); // DeepSeek, many OpenAI-compatible servers
        this.addText(d.reasoning); // OpenRouter
        this.addText(d.refusal);
        if (Array.isArray(d.tool_calls)) {
          for (const tc of d.tool_calls) {
            if (isObj(tc) && isObj(tc.function)) {
              this.addText(tc.function.name);
              this.addText(tc.function.arguments);
            }
          }
        }
        if (isObj(d.function_call)) {
          this.addText(d.function_call.name);
          this.addText(d.function_call.arguments);
        }
      }
    }
    if (isObj(o.usage)) {
      const u = chatUsage(o.usage);
      if (u) this.reported = u;
    }
  }

  // ---- Anthropic Messages ----
  private anthropicFrame(name: string | undefined, o: Obj): void {
    switch (name) {
      case 'message_start':
        if (isObj(o.message) && isObj(o.message.usage)) this.anthropicStart = anthropicCounts(o.message.usage);
        return;
      case 'content_block_start': {
        const b = o.content_block;
        if (!isObj(b)) return;
        if (b.type === 'tool_use' || b.type === 'server_tool_use') this.addText(b.name);
        else if (b.type === 'text') this.addText(b.text);
        else if (b.type === 'thinking') this.addText(b.thinking);
        return;
      }
      case 'content_block_delta': {
        const d = o.delta;
        if (!isObj(d)) return;
        if (d.type === 'text_delta') this.addText(d.text);
        else if (d.type === 'input_json_delta') this.addText(d.partial_json);
        else if (d.type === 'thinking_delta') this.addText(d.thinking);
        return;
      }
      case 'message_delta': {
        if (!isObj(o.usage)) return;
        const c = anthropicCounts(o.usage);
        const delta: Partial<AnthropicCounts> = {};
        for (const k of ['base', 'read', 'write', 'write1h', 'output'] as const) if (c[k] !== null) delta[k] = c[k];
        this.anthropicDelta = { ...this.anthropicDelta, ...delta };
        return;
      }
    }
  }

  // ---- OpenAI Responses ----
  private responsesFrame(name: string | undefined, o: Obj): void {
    switch (name) {
      case 'response.output_text.delta':
      case 'response.function_call_arguments.delta':
      case 'response.custom_tool_call_input.delta':
      case 'response.reasoning_text.delta':
      case 'response.reasoning_summary_text.delta':
      case 'response.refusal.delta':
        this.addText(o.delta);
        return;
      case 'response.output_item.added':
        if (isObj(o.item) && o.item.type === 'function_call') this.addText(o.item.name);
        return;
      case 'response.completed':
      case 'response.incomplete':
      case 'response.failed': {
        if (!isObj(o.response) || !isObj(o.response.usage)) return;
        const u = responsesUsage(o.response.usage);
        if (u) this.reported = u;
        return;
      }
    }
  }
}

// ---- Asking OpenAI chat streams for usage -----------------------------------------------------------------------

/**
 * True for an OpenAI chat request that streams without `stream_options.include_usage: true` (aider, LangChain,
 * most hand-written clients). Such a stream carries no usage at all, so the gateway asks upstream for it
 * (`addIncludeUsage`) and StreamGuard drops the extra chunk before the client sees it (`isUsageOnlyChunk`).
 */
export function wantsIncludeUsage(body: unknown): boolean {
  if (!isObj(body) || body.stream !== true) return false;
  return !(isObj(body.stream_options) && body.stream_options.include_usage === true);
}

/** A copy of the chat request body that asks for the usage chunk, keeping any other stream_options. */
export function addIncludeUsage<T extends Obj>(body: T): T & { stream_options: Obj & { include_usage: true } } {
  const existing = isObj(body.stream_options) ? body.stream_options : {};
  return { ...body, stream_options: { ...existing, include_usage: true } };
}

/**
 * The chunk that `include_usage` adds: no choices, only usage. Azure's first chunk also has empty choices but
 * carries prompt_filter_results and no usage; it is not this chunk.
 */
export function isUsageOnlyChunk(obj: unknown): boolean {
  return isObj(obj) && Array.isArray(obj.choices) && obj.choices.length === 0 && isObj(obj.usage);
}
