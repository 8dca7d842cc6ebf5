import type { PolicyChain } from '../policy/engine.js';
import type { DetectionRule, Finding, ReplyView, Verdict } from '../policy/types.js';
import { replyView } from '../protocol/families.js';
import { worstVerdict } from '../policy/types.js';
import type { Family } from '../providers/targets.js';
import { terminalErrorFrame } from '../protocol/sse.js';
import { findingOf, TextWindow, type RuleMatch } from './window.js';

type Obj = Record<string, any>;

/** The blank line that ends an SSE frame. */
const FRAME_END = /\r?\n\r?\n/g;

export interface StreamBlock {
  policy: string;
  verdict: 'block' | 'escalate';
}

/**
 * StreamGuard: output policies on SSE for all three families. Frames are parsed as they arrive; the text of
 * each message, content block and tool call goes through a TextWindow, and the frame is re-emitted with only
 * the text that is safe to release. Frames that carry no text pass through byte for byte. When a blocking
 * rule matches, the stream ends with the protocol's own error frame and nothing of the match is released.
 */
export class StreamGuard {
  /** The unfinished frame, in the pieces it arrived in. */
  private pieces: string[] = [];
  private buffered = 0;
  private readonly windows = new Map<string, TextWindow>();
  private readonly rules: Array<{ policy: string; rule: DetectionRule }>;
  /** Last chunk seen, as a template for frames the guard has to add (OpenAI chat). */
  private template: Obj | undefined;
  private done = false;
  /** Tool names by stream key, and why the reply ended: enough to rebuild the reply for scoring. */
  private readonly toolNames = new Map<string, string>();
  private finishReason: string | undefined;
  private finalReply: ReplyView | undefined;
  readonly findings: Finding[] = [];
  /** Each finding with the policy and action that produced it, and a hash of the value when one was asked for. */
  readonly found: Array<{ policy: string; finding: Finding; action: DetectionRule['action']; valueHash?: string }> = [];
  verdict: Verdict = 'allow';
  blocked: StreamBlock | undefined;

  constructor(
    private readonly family: Family,
    chain: PolicyChain,
    private readonly redactObject: (body: Obj) => void,
    private readonly hashValue?: (value: string) => string,
    /**
     * Sees every parsed JSON frame (metering reads usage from them without parsing again). Returning true drops
     * the frame: the usage chunk the gateway asked for on the client's behalf never reaches the client.
     */
    private readonly onFrame?: (event: string | undefined, data: Obj) => boolean | void,
  ) {
    this.rules = chain.rulesFor('output').map(({ policy, rule }) => ({ policy: policy.kind, rule }));
  }

  /**
   * Feed raw bytes from upstream; returns the bytes to send to the client now. Only the new bytes (and the three
   * before them, where a frame end may have begun) are searched for the end of a frame: the unfinished frame is
   * kept in pieces and joined once it is complete, so a large frame arriving in tiny pieces costs its length,
   * not its length times the number of pieces.
   */
  push(chunk: string): string {
    if (this.done) return '';
    let out = '';
    let rest = chunk;
    while (rest.length > 0) {
      const carry = this.bufferTail(3);
      const probe = carry + rest;
      FRAME_END.lastIndex = 0;
      const m = FRAME_END.exec(probe);
      if (!m) {
        this.pieces.push(rest);
        this.buffered += rest.length;
        break;
      }
      // The frame end may begin in the carried characters, which are the last ones of the buffered pieces.
      const frame = this.takeBuffer(this.buffered - carry.length) + probe.slice(0, m.index);
      rest = probe.slice(m.index + m[0].length);
      out += this.frame(frame);
      if (this.done) break;
    }
    return out;
  }

  /** The last `n` (or fewer) buffered characters. */
  private bufferTail(n: number): string {
    let s = '';
    for (let i = this.pieces.length - 1; i >= 0 && s.length < n; i--) s = this.pieces[i]!.slice(s.length - n) + s;
    return s;
  }

  /** The first `n` buffered characters; the buffer is emptied. */
  private takeBuffer(n: number): string {
    const all = this.pieces.join('');
    this.pieces = [];
    this.buffered = 0;
    return all.slice(0, n);
  }

  /** The reply as released to the client (redacted), for policies that judge whole replies. */
  reply(): ReplyView {
    if (this.finalReply) return this.finalReply;
    let text = '';
    const toolCalls: ReplyView['toolCalls'] = [];
    for (const [key, w] of this.windows) {
      if (key.startsWith('c:') || key.startsWith('o:')) text += w.output;
      else {
        let input: unknown = w.output;
        try {
          input = JSON.parse(w.output);
        } catch {
          // arguments that are not JSON stay text
        }
        toolCalls.push({ name: this.toolNames.get(key) ?? '', input });
      }
    }
    return { text, toolCalls, ...(this.finishReason ? { finishReason: this.finishReason } : {}) };
  }

  /** Upstream ended: release what is held, redacted. */
  end(): string {
    if (this.done) return '';
    const rest = this.takeBuffer(this.buffered);
    let out = rest.trim() ? this.frame(rest) : '';
    if (!this.done) out += this.flushAll();
    return out;
  }

  private frame(raw: string): string {
    let event: string | undefined;
    const data: string[] = [];
    for (const line of raw.split(/\r?\n/)) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    const text = data.join('\n');
    // Comments and keep-alives carry no text and must not release what is held.
    if (data.length === 0) return `${raw}\n\n`;
    if (text === '[DONE]') return this.flushAll() + `${raw}\n\n`;
    let obj: Obj;
    try {
      obj = JSON.parse(text) as Obj;
    } catch {
      return `${raw}\n\n`;
    }
    if (this.onFrame?.(event, obj) === true) return '';
    const out = this.family === 'chat' ? this.chat(obj) : this.family === 'messages' ? this.anthropic(event, obj) : this.responses(event, obj);
    if (this.blocked) return this.stop();
    return out === undefined ? `${raw}\n\n` : out;
  }

  private window(key: string, source: Finding['source']): TextWindow {
    let w = this.windows.get(key);
    if (!w) {
      w = new TextWindow(this.rules, (rm: RuleMatch, value: string) => this.record(rm, source, value));
      this.windows.set(key, w);
    }
    return w;
  }

  private record(rm: RuleMatch, source: Finding['source'], value: string): void {
    const finding = findingOf(rm, source, -1);
    this.findings.push(finding);
    const valueHash = this.hashValue && rm.rule.action === 'redact' ? this.hashValue(value) : undefined;
    this.found.push({ policy: rm.policy, finding, action: rm.rule.action, ...(valueHash ? { valueHash } : {}) });
    this.verdict = worstVerdict(this.verdict, rm.rule.action);
    if ((rm.rule.action === 'block' || rm.rule.action === 'escalate') && !this.blocked) {
      this.blocked = { policy: rm.policy, verdict: rm.rule.action };
    }
  }

  private feed(key: string, source: Finding['source'], text: string): string {
    const w = this.window(key, source);
    const out = w.push(text);
    if (w.blocked && !this.blocked) this.blocked = { policy: w.blocked.policy, verdict: w.blocked.rule.action as 'block' | 'escalate' };
    return out;
  }

  private flushKey(key: string): string {
    const w = this.windows.get(key);
    if (!w) return '';
    const out = w.flush();
    if (w.blocked && !this.blocked) this.blocked = { policy: w.blocked.policy, verdict: w.blocked.rule.action as 'block' | 'escalate' };
    return out;
  }

  private stop(): string {
    this.done = true;
    const b = this.blocked!;
    const code = b.verdict === 'block' ? 'output_blocked' : 'escalation_required';
    return terminalErrorFrame(this.family, 'policy_violation', `${b.policy} blocked the response (${code})`);
  }

  /** Release every held text, as extra frames in the family's format. */
  private flushAll(): string {
    let out = '';
    for (const key of [...this.windows.keys()]) {
      const rest = this.flushKey(key);
      if (this.blocked) return this.stop();
      if (rest) out += this.syntheticDelta(key, rest);
    }
    return out;
  }

  private syntheticDelta(key: string, text: string): string {
    const [kind, a, b] = key.split(':');
    if (this.family === 'chat') {
      const base = this.template ?? { object: 'chat.completion.chunk' };
      const delta = kind === 'c' ? { content: text } : { tool_calls: [{ index: Number(b), function: { arguments: text } }] };
      return `data: ${JSON.stringify({ ...base, choices: [{ index: Number(a), delta, finish_reason: null }], usage: undefined })}\n\n`;
    }
    if (this.family === 'messages') {
      const delta = kind === 'c' ? { type: 'text_delta', text } : { type: 'input_json_delta', partial_json: text };
      return `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: Number(a), delta })}\n\n`;
    }
    if (kind === 'o') {
      return `event: response.output_text.delta\ndata: ${JSON.stringify({ type: 'response.output_text.delta', output_index: Number(a), content_index: Number(b), delta: text })}\n\n`;
    }
    return `event: response.function_call_arguments.delta\ndata: ${JSON.stringify({ type: 'response.function_call_arguments.delta', output_index: Number(a), delta: text })}\n\n`;
  }

  // ---- OpenAI Chat Completions: `data: {chunk}` ----
  private chat(obj: Obj): string | undefined {
    if (!Array.isArray(obj.choices)) return undefined;
    this.template = { id: obj.id, object: obj.object, created: obj.created, model: obj.model };
    let changed = false;
    for (const ch of obj.choices as Obj[]) {
      const i = ch.index ?? 0;
      const delta = ch.delta as Obj | undefined;
      if (delta && typeof delta.content === 'string') {
        delta.content = this.feed(`c:${i}`, 'output_text', delta.content);
        changed = true;
      }
      if (delta && Array.isArray(delta.tool_calls)) {
        for (const tc of delta.tool_calls as Obj[]) {
          if (typeof tc.function?.name === 'string') this.toolNames.set(`t:${i}:${tc.index ?? 0}`, tc.function.name);
          if (tc.function && typeof tc.function.arguments === 'string') {
            tc.function.arguments = this.feed(`t:${i}:${tc.index ?? 0}`, 'output_tool_call', tc.function.arguments);
            changed = true;
          }
        }
      }
      if (ch.finish_reason) {
        if (i === 0) this.finishReason = String(ch.finish_reason);
        // The choice is complete: what is still held goes out in this same chunk.
        const rest = this.flushKey(`c:${i}`);
        if (rest) {
          ch.delta = { ...(ch.delta ?? {}), content: ((ch.delta?.content as string) ?? '') + rest };
          changed = true;
        }
        for (const key of [...this.windows.keys()].filter((k) => k.startsWith(`t:${i}:`))) {
          const restArgs = this.flushKey(key);
          if (!restArgs) continue;
          const index = Number(key.split(':')[2]);
          ch.delta = { ...(ch.delta ?? {}), tool_calls: [...((ch.delta?.tool_calls as Obj[]) ?? []), { index, function: { arguments: restArgs } }] };
          changed = true;
        }
      }
    }
    return changed ? `data: ${JSON.stringify(obj)}\n\n` : undefined;
  }

  // ---- Anthropic Messages: `event: NAME` + `data: {…}` ----
  private anthropic(event: string | undefined, obj: Obj): string | undefined {
    const name = event ?? obj.type;
    const head = event ? `event: ${event}\n` : '';
    if (name === 'content_block_delta' && obj.delta) {
      const i = obj.index ?? 0;
      if (obj.delta.type === 'text_delta' && typeof obj.delta.text === 'string') {
        obj.delta.text = this.feed(`c:${i}`, 'output_text', obj.delta.text);
      } else if (obj.delta.type === 'input_json_delta' && typeof obj.delta.partial_json === 'string') {
        obj.delta.partial_json = this.feed(`t:${i}`, 'output_tool_call', obj.delta.partial_json);
      } else return undefined;
      return `${head}data: ${JSON.stringify(obj)}\n\n`;
    }
    if (name === 'content_block_stop') {
      const i = obj.index ?? 0;
      let out = '';
      for (const key of [`c:${i}`, `t:${i}`]) {
        const rest = this.flushKey(key);
        if (this.blocked) return this.stop();
        if (rest) out += this.syntheticDelta(key, rest);
      }
      return out ? `${out}${head}data: ${JSON.stringify(obj)}\n\n` : undefined;
    }
    if (name === 'content_block_start' && obj.content_block?.type === 'tool_use') this.toolNames.set(`t:${obj.index ?? 0}`, String(obj.content_block.name ?? ''));
    if (name === 'message_delta' && typeof obj.delta?.stop_reason === 'string') {
      const stop = obj.delta.stop_reason as string;
      this.finishReason = stop === 'max_tokens' ? 'length' : stop === 'tool_use' ? 'tool_calls' : stop === 'end_turn' ? 'stop' : stop;
    }
    if (name === 'content_block_start' && obj.content_block?.type === 'text' && obj.content_block.text) {
      // Rare: a start block that already carries text. Treat it as the first delta.
      const i = obj.index ?? 0;
      obj.content_block.text = this.feed(`c:${i}`, 'output_text', obj.content_block.text);
      return `${head}data: ${JSON.stringify(obj)}\n\n`;
    }
    return undefined;
  }

  // ---- OpenAI Responses: `event: response.*` + `data: {…}` ----
  private responses(event: string | undefined, obj: Obj): string | undefined {
    const name = event ?? obj.type;
    const head = event ? `event: ${event}\n` : '';
    const emit = () => `${head}data: ${JSON.stringify(obj)}\n\n`;
    const textKey = `o:${obj.output_index ?? 0}:${obj.content_index ?? 0}`;
    const argsKey = `f:${obj.output_index ?? 0}`;
    switch (name) {
      case 'response.output_text.delta':
        obj.delta = this.feed(textKey, 'output_text', String(obj.delta ?? ''));
        return emit();
      case 'response.function_call_arguments.delta':
        obj.delta = this.feed(argsKey, 'output_tool_call', String(obj.delta ?? ''));
        return emit();
      case 'response.output_text.done':
      case 'response.function_call_arguments.done': {
        const key = name === 'response.output_text.done' ? textKey : argsKey;
        const rest = this.flushKey(key);
        if (this.blocked) return this.stop();
        const full = this.windows.get(key)?.output;
        if (full !== undefined) {
          if (name === 'response.output_text.done') obj.text = full;
          else obj.arguments = full;
        }
        return (rest ? this.syntheticDelta(key, rest) : '') + emit();
      }
      case 'response.content_part.done':
        if (obj.part && typeof obj.part.text === 'string') {
          const full = this.windows.get(textKey)?.output;
          obj.part.text = full ?? obj.part.text;
        }
        return emit();
      case 'response.output_item.done':
        if (obj.item) this.redactObject({ output: [obj.item] });
        return emit();
      case 'response.completed':
      case 'response.incomplete':
      case 'response.failed':
        if (obj.response) {
          this.redactObject(obj.response);
          this.finalReply = replyView('responses', obj.response);
        }
        return emit();
      case 'response.output_item.added':
        if (obj.item?.type === 'function_call') this.toolNames.set(argsKey, String(obj.item.name ?? ''));
        return undefined;
      default:
        return undefined;
    }
  }
}
