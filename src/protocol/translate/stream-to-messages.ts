import { anthropicErrorFromChat, anthropicUsageFromChat, stopFromFinish, toolInput } from './replies.js';
import { ObjectFrameTranslator } from './stream-frames.js';
import { isObj, UntranslatableReply, type Obj } from './types.js';

interface ToolState {
  id: string;
  name: string;
  /** Its content block index, once started. */
  block: number | undefined;
  closed: boolean;
  /** The arguments so far: checked as a JSON object when the block closes, as the whole-reply path checks them. */
  args: string;
}

/**
 * OpenAI chat.completion.chunk frames as an Anthropic Messages event stream: message_start at the first chunk,
 * one content block per run of text and per tool call (content_block_start / _delta / _stop, never interleaved,
 * as Anthropic clients require), then message_delta with the stop reason and the usage, and message_stop.
 *
 * Tool calls are reassembled by their `index`: the id and name may come in pieces, so a call's block starts
 * with its first argument piece (or when another part of the reply begins); its argument pieces then go out
 * as input_json_delta as they come. A call whose arguments continue after another part began cannot be
 * expressed (its block is closed) and fails the stream rather than being cut.
 */
export class ChatToAnthropicStream extends ObjectFrameTranslator {
  private started = false;
  private blocks = 0;
  private open: { kind: 'text' } | { kind: 'tool'; tool: ToolState } | undefined;
  private readonly tools = new Map<number, ToolState>();
  private stop: string | null = null;
  private usage: Obj | undefined;

  protected frame(_event: string | undefined, o: Obj): string {
    if (isObj(o.error)) {
      this.finished = true;
      return this.event('error', this.asParsed(anthropicErrorFromChat(o, 500)));
    }
    let out = '';
    if (!this.started) {
      this.started = true;
      const message = { id: o.id, type: 'message', role: 'assistant', model: o.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 0, output_tokens: 0 } };
      out += this.event('message_start', this.asParsed({ type: 'message_start', message }));
    }
    const choice = Array.isArray(o.choices) && isObj(o.choices[0]) ? o.choices[0] : undefined;
    const delta = choice && isObj(choice.delta) ? choice.delta : {};
    for (const text of [delta.content, delta.refusal]) if (typeof text === 'string' && text !== '') out += this.text(text);
    if (Array.isArray(delta.tool_calls)) delta.tool_calls.forEach((tc, i) => (out += this.toolDelta(tc, i)));
    if (choice && typeof choice.finish_reason === 'string') this.stop = stopFromFinish(choice.finish_reason);
    if (isObj(o.usage)) this.usage = anthropicUsageFromChat(o.usage);
    return out;
  }

  private text(text: string): string {
    let out = '';
    if (this.open?.kind !== 'text') {
      out += this.closeOpen();
      out += this.event('content_block_start', { type: 'content_block_start', index: this.blocks, content_block: { type: 'text', text: '' } });
      this.open = { kind: 'text' };
      this.blocks++;
    }
    if (this.frames) return out + this.event('content_block_delta', { type: 'content_block_delta', index: this.blocks - 1, delta: { type: 'text_delta', text } });
    return `${out}event: content_block_delta\ndata: {"type":"content_block_delta","index":${this.blocks - 1},"delta":{"type":"text_delta","text":${JSON.stringify(text)}}}\n\n`;
  }

  private toolDelta(tc: unknown, position: number): string {
    if (!isObj(tc)) return '';
    const index = typeof tc.index === 'number' ? tc.index : position;
    let tool = this.tools.get(index);
    if (!tool) {
      tool = { id: '', name: '', block: undefined, closed: false, args: '' };
      this.tools.set(index, tool);
    }
    if (tool.closed) throw new UntranslatableReply('a tool call\'s arguments continued after another part of the reply began, which no Anthropic stream can say');
    const fn = isObj(tc.function) ? tc.function : {};
    // Some servers repeat the id in every piece: the first one names the call.
    if (typeof tc.id === 'string' && tool.id === '') tool.id = tc.id;
    if (typeof fn.name === 'string' && fn.name !== '') {
      if (tool.block !== undefined) throw new UntranslatableReply('a tool call\'s name grew after its arguments began');
      tool.name += fn.name;
    }
    const args = typeof fn.arguments === 'string' ? fn.arguments : '';
    if (args === '') return '';
    let out = this.open?.kind === 'tool' && this.open.tool === tool ? '' : this.startTool(tool);
    tool.args += args;
    if (this.frames) out += this.event('content_block_delta', { type: 'content_block_delta', index: tool.block!, delta: { type: 'input_json_delta', partial_json: args } });
    else out += `event: content_block_delta\ndata: {"type":"content_block_delta","index":${tool.block!},"delta":{"type":"input_json_delta","partial_json":${JSON.stringify(args)}}}\n\n`;
    return out;
  }

  private startTool(tool: ToolState): string {
    const out = this.closeOpen();
    tool.block = this.blocks++;
    this.open = { kind: 'tool', tool };
    return out + this.event('content_block_start', { type: 'content_block_start', index: tool.block, content_block: { type: 'tool_use', id: tool.id, name: tool.name, input: {} } });
  }

  private closeOpen(): string {
    const open = this.open;
    if (!open) return '';
    this.open = undefined;
    if (open.kind === 'tool') {
      open.tool.closed = true;
      // The whole-reply path refuses such arguments; a stream must not deliver what the whole reply would not.
      toolInput(open.tool.args);
    }
    return this.event('content_block_stop', { type: 'content_block_stop', index: this.blocks - 1 });
  }

  /** Tool calls announced (id and name) whose arguments never came: blocks with empty input, in index order. */
  private pendingTools(): string {
    let out = '';
    for (const tool of [...this.tools.entries()].sort((a, b) => a[0] - b[0]).map(([, t]) => t)) {
      if (tool.block !== undefined) continue;
      out += this.startTool(tool);
    }
    return out;
  }

  protected done(): string {
    if (this.stop === null) throw new Error('the upstream stream ended without a finish reason');
    this.finished = true;
    let out = this.pendingTools() + this.closeOpen();
    out += this.event('message_delta', { type: 'message_delta', delta: { stop_reason: this.stop, stop_sequence: null }, usage: this.usage ?? { output_tokens: 0 } });
    out += this.event('message_stop', { type: 'message_stop' });
    return out;
  }

  protected close(): string {
    // Some OpenAI-compatible servers end the body after the finish reason without [DONE].
    if (this.finished) return '';
    return this.done();
  }
}
