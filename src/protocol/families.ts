import type { Family } from '../providers/targets.js';
import type { ReplyView } from '../policy/types.js';
import { SegmentCollector, type Segment, type SegmentSource } from './content.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every text segment of a request body, for the family's wire format. */
export function requestSegments(family: Family, body: Obj): Segment[] {
  const c = new SegmentCollector();
  if (family === 'chat') chatRequest(c, body);
  else if (family === 'responses') responsesRequest(c, body);
  else anthropicRequest(c, body);
  return c.segments;
}

/** Every text segment of a non-streamed response body. */
export function responseSegments(family: Family, body: Obj): Segment[] {
  const c = new SegmentCollector();
  if (family === 'chat') chatResponse(c, body);
  else if (family === 'responses') responsesOutput(c, body.output, ['output']);
  else if (family === 'messages') anthropicBlocks(c, body.content, ['content'], -1, 'output_text', 'output_tool_call');
  return c.segments;
}

const ROLE_SOURCE: Record<string, SegmentSource> = {
  system: 'system',
  developer: 'developer',
  user: 'user',
  assistant: 'assistant',
  tool: 'tool_result',
  function: 'tool_result',
};

// ---- OpenAI Chat Completions ----

function chatRequest(c: SegmentCollector, body: Obj): void {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  messages.forEach((m, i) => {
    if (!isObj(m)) return;
    const source = ROLE_SOURCE[String(m.role)] ?? 'user';
    chatContent(c, m.content, ['messages', i, 'content'], i, source);
    if (Array.isArray(m.tool_calls)) {
      m.tool_calls.forEach((tc, k) => {
        if (isObj(tc) && isObj(tc.function)) c.addEmbeddedJson('tool_call', i, ['messages', i, 'tool_calls', k, 'function', 'arguments'], tc.function.arguments);
      });
    }
    if (isObj(m.function_call)) c.addEmbeddedJson('tool_call', i, ['messages', i, 'function_call', 'arguments'], m.function_call.arguments);
  });
}

function chatContent(c: SegmentCollector, content: unknown, path: (string | number)[], turn: number, source: SegmentSource): void {
  if (typeof content === 'string') c.add(source, turn, path, content);
  else if (Array.isArray(content)) {
    content.forEach((part, j) => {
      if (isObj(part) && typeof part.text === 'string') c.add(source, turn, [...path, j, 'text'], part.text);
    });
  }
}

function chatResponse(c: SegmentCollector, body: Obj): void {
  const choices = Array.isArray(body.choices) ? body.choices : [];
  choices.forEach((ch, i) => {
    if (!isObj(ch) || !isObj(ch.message)) return;
    const m = ch.message;
    c.add('output_text', i, ['choices', i, 'message', 'content'], m.content);
    if (typeof m.refusal === 'string') c.add('output_text', i, ['choices', i, 'message', 'refusal'], m.refusal);
    if (Array.isArray(m.tool_calls)) {
      m.tool_calls.forEach((tc, k) => {
        if (isObj(tc) && isObj(tc.function)) c.addEmbeddedJson('output_tool_call', i, ['choices', i, 'message', 'tool_calls', k, 'function', 'arguments'], tc.function.arguments);
      });
    }
  });
}

// ---- Anthropic Messages ----

function anthropicRequest(c: SegmentCollector, body: Obj): void {
  if (typeof body.system === 'string') c.add('system', -1, ['system'], body.system);
  else anthropicBlocks(c, body.system, ['system'], -1, 'system', 'tool_call');
  const messages = Array.isArray(body.messages) ? body.messages : [];
  messages.forEach((m, i) => {
    if (!isObj(m)) return;
    const source = ROLE_SOURCE[String(m.role)] ?? 'user';
    if (typeof m.content === 'string') c.add(source, i, ['messages', i, 'content'], m.content);
    else anthropicBlocks(c, m.content, ['messages', i, 'content'], i, source, 'tool_call');
  });
}

/**
 * Content blocks: text, tool_use inputs, tool_result content (nested blocks too), documents and search
 * results. Thinking blocks are skipped: they are signed by the provider, and an edited one is rejected.
 */
function anthropicBlocks(c: SegmentCollector, blocks: unknown, path: (string | number)[], turn: number, textSource: SegmentSource, toolSource: SegmentSource): void {
  if (!Array.isArray(blocks)) return;
  blocks.forEach((b, j) => {
    if (!isObj(b)) return;
    const p = [...path, j];
    switch (b.type) {
      case 'text':
        c.add(textSource, turn, [...p, 'text'], b.text);
        break;
      case 'tool_use':
      case 'server_tool_use':
        c.addLeaves(toolSource, turn, [...p, 'input'], b.input);
        break;
      case 'tool_result':
        if (typeof b.content === 'string') c.add('tool_result', turn, [...p, 'content'], b.content);
        else anthropicBlocks(c, b.content, [...p, 'content'], turn, 'tool_result', 'tool_call');
        break;
      case 'document':
        if (isObj(b.source) && b.source.type === 'text') c.add('document', turn, [...p, 'source', 'data'], b.source.data);
        else if (isObj(b.source) && b.source.type === 'content') anthropicBlocks(c, b.source.content, [...p, 'source', 'content'], turn, 'document', 'tool_call');
        if (typeof b.context === 'string') c.add('document', turn, [...p, 'context'], b.context);
        break;
      case 'search_result':
        anthropicBlocks(c, b.content, [...p, 'content'], turn, 'document', 'tool_call');
        break;
      default:
        break;
    }
  });
}

// ---- OpenAI Responses ----

function responsesRequest(c: SegmentCollector, body: Obj): void {
  if (typeof body.instructions === 'string') c.add('system', -1, ['instructions'], body.instructions);
  if (typeof body.input === 'string') {
    c.add('user', 0, ['input'], body.input);
    return;
  }
  const items = Array.isArray(body.input) ? body.input : [];
  items.forEach((item, i) => responsesItem(c, item, ['input', i], i, false));
}

function responsesOutput(c: SegmentCollector, output: unknown, path: (string | number)[]): void {
  if (!Array.isArray(output)) return;
  output.forEach((item, i) => responsesItem(c, item, [...path, i], i, true));
}

function responsesItem(c: SegmentCollector, item: unknown, p: (string | number)[], turn: number, isOutput: boolean): void {
  if (!isObj(item)) return;
  const type = item.type ?? (item.role !== undefined ? 'message' : undefined);
  if (type === 'message') {
    const source: SegmentSource = isOutput ? 'output_text' : (ROLE_SOURCE[String(item.role)] ?? 'user');
    if (typeof item.content === 'string') c.add(source, turn, [...p, 'content'], item.content);
    else if (Array.isArray(item.content)) {
      item.content.forEach((part, j) => {
        if (isObj(part) && typeof part.text === 'string') c.add(source, turn, [...p, 'content', j, 'text'], part.text);
        if (isObj(part) && typeof part.refusal === 'string') c.add(source, turn, [...p, 'content', j, 'refusal'], part.refusal);
      });
    }
  } else if (type === 'function_call') {
    c.addEmbeddedJson(isOutput ? 'output_tool_call' : 'tool_call', turn, [...p, 'arguments'], item.arguments);
  } else if (type === 'custom_tool_call') {
    c.add(isOutput ? 'output_tool_call' : 'tool_call', turn, [...p, 'input'], item.input);
  } else if (type === 'function_call_output' || type === 'custom_tool_call_output') {
    if (typeof item.output === 'string') c.add('tool_result', turn, [...p, 'output'], item.output);
    else if (Array.isArray(item.output)) {
      item.output.forEach((part, j) => {
        if (isObj(part) && typeof part.text === 'string') c.add('tool_result', turn, [...p, 'output', j, 'text'], part.text);
      });
    }
  }
}

/** The reply as a whole, whatever its family: its text, its tool calls and why it ended. */
export function replyView(family: Family, body: Obj): ReplyView {
  const toolCalls: ReplyView['toolCalls'] = [];
  const parse = (args: unknown) => {
    if (typeof args !== 'string') return args;
    try {
      return JSON.parse(args) as unknown;
    } catch {
      return args;
    }
  };
  let text = '';
  let finishReason: string | undefined;
  if (family === 'chat') {
    const choice = Array.isArray(body.choices) && isObj(body.choices[0]) ? body.choices[0] : undefined;
    const m = choice && isObj(choice.message) ? choice.message : undefined;
    text = typeof m?.content === 'string' ? m.content : '';
    for (const tc of Array.isArray(m?.tool_calls) ? m.tool_calls : []) {
      if (isObj(tc) && isObj(tc.function)) toolCalls.push({ name: String(tc.function.name ?? ''), input: parse(tc.function.arguments) });
    }
    finishReason = typeof choice?.finish_reason === 'string' ? choice.finish_reason : undefined;
  } else if (family === 'messages') {
    for (const b of Array.isArray(body.content) ? body.content : []) {
      if (isObj(b) && b.type === 'text' && typeof b.text === 'string') text += b.text;
      if (isObj(b) && b.type === 'tool_use') toolCalls.push({ name: String(b.name ?? ''), input: b.input });
    }
    const stop = typeof body.stop_reason === 'string' ? body.stop_reason : undefined;
    finishReason = stop === 'max_tokens' ? 'length' : stop === 'tool_use' ? 'tool_calls' : stop === 'end_turn' ? 'stop' : stop;
  } else if (family === 'responses') {
    for (const item of Array.isArray(body.output) ? body.output : []) {
      if (!isObj(item)) continue;
      if (item.type === 'message' && Array.isArray(item.content)) {
        for (const part of item.content) if (isObj(part) && typeof part.text === 'string') text += part.text;
      }
      if (item.type === 'function_call') toolCalls.push({ name: String(item.name ?? ''), input: parse(item.arguments) });
      if (item.type === 'custom_tool_call') toolCalls.push({ name: String(item.name ?? ''), input: item.input });
    }
    const incomplete = isObj(body.incomplete_details) ? body.incomplete_details.reason : undefined;
    finishReason = incomplete === 'max_output_tokens' ? 'length' : body.status === 'completed' ? (toolCalls.length > 0 ? 'tool_calls' : 'stop') : undefined;
  }
  return { text, toolCalls, ...(finishReason !== undefined ? { finishReason } : {}) };
}
