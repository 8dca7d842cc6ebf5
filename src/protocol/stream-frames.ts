import type { Family } from '../providers/targets.js';
import type { SegmentSource } from './content.js';
import { replyParts } from './families.js';
import { formatFrame } from './sse.js';
import { fields, isObj, type Fields, type ViewBuilder } from './view.js';

type Obj = Record<string, unknown>;

/**
 * What one parsed SSE frame of a streamed reply holds, per API family: the text that arrives in pieces (each
 * piece of one text goes through the same window, keyed by `key`), the texts it completes, the whole texts it
 * repeats, and a walk over everything else in it, which is scanned as complete values. A field this version
 * does not know is in that walk, so it is scanned, never passed blind. StreamGuard (stream/guard.ts) acts on
 * the plan; this module only reads the wire format.
 *
 * Keys end with ':' so that a prefix such as `c:1:` never matches `c:10:`.
 */
export interface FramePlan {
  fragments: Fragment[];
  /** Prefixes of the windows whose text ends with this frame: what they hold goes out before it. */
  complete: string[];
  /** Fields holding a whole text that was streamed in window `key`: replaced by what the client received of it. */
  wholes: Array<{ holder: Obj; field: string; key: string }>;
  toolNames: Array<{ key: string; name: string }>;
  finishReason?: string;
  /** A whole reply (Responses' response.completed): kept, once checked, as the final reply. */
  finalResponse?: Obj;
  /** Everything else in the frame, for the content view. */
  rest: (b: ViewBuilder) => void;
  /**
   * The frame carries nothing but its fragments' pieces and the ids and indexes that place them (no role, no
   * finish or stop reason, no tool call id or name, no usage): when a window holds back every piece, a client
   * loses nothing if the frame is not sent at all.
   */
  onlyPieces?: boolean;
}

export interface Fragment {
  key: string;
  holder: Obj;
  field: string;
  /** The pieces form a JSON document (tool-call arguments). */
  json: boolean;
  source: SegmentSource;
  /** Text of the reply, a tool call's input, or something else (reasoning). */
  part: 'text' | 'tool' | 'other';
  /** A frame of this family carrying `text` as the next piece of this window, for what a window releases late. */
  synth: (text: string) => string;
}

export function planFrame(family: Family, event: string | undefined, obj: Obj): FramePlan {
  if (family === 'chat') return chatFrame(obj);
  if (family === 'messages') return anthropicFrame(event, obj);
  return responsesFrame(event, obj);
}

function emptyPlan(rest: (b: ViewBuilder) => void): FramePlan {
  return { fragments: [], complete: [], wholes: [], toolNames: [], rest };
}

// ---- OpenAI Chat Completions: `data: {chunk}` ----

const NONE: Fields = fields({});
const ID_ONLY: Fields = fields({ id: 'id' });
const CHAT_CHUNK_TOOL_CALL: Fields = fields({
  index: 'enum',
  id: 'id',
  type: 'enum',
  function: (b, v, turn) => b.object(v, turn, 'output_tool_call', NONE),
});
const CHAT_CHUNK_DELTA: Fields = fields({
  role: 'enum',
  tool_calls: (b, v, turn) => b.each(v, (tc) => b.object(tc, turn, 'output_tool_call', CHAT_CHUNK_TOOL_CALL), turn, 'output_tool_call'),
  audio: (b, v, turn) => b.object(v, turn, 'output_other', ID_ONLY),
});
const CHAT_CHUNK_CHOICE: Fields = fields({ index: 'enum', finish_reason: 'enum', delta: (b, d, turn) => b.object(d, turn, 'output_other', CHAT_CHUNK_DELTA) });
const CHAT_CHUNK: Fields = fields({
  id: 'id',
  object: 'enum',
  system_fingerprint: 'id',
  choices: (b, v) => b.each(v, (ch, i) => b.object(ch, i, 'output_other', CHAT_CHUNK_CHOICE), -1, 'output_other'),
});

function chatFrame(obj: Obj): FramePlan {
  const plan = emptyPlan((b) => b.object(obj, -1, 'output_other', CHAT_CHUNK));
  if (!Array.isArray(obj.choices)) return plan;
  const template = { id: obj.id, object: obj.object, created: obj.created, model: obj.model };
  const chunk = (index: number, delta: Obj) => formatFrame(undefined, JSON.stringify({ ...template, choices: [{ index, delta, finish_reason: null }] }));
  for (const ch of obj.choices) {
    if (!isObj(ch)) continue;
    const i = typeof ch.index === 'number' ? ch.index : 0;
    const delta = ch.delta;
    if (isObj(delta)) {
      for (const field of Object.keys(delta)) {
        const v = delta[field];
        if (field === 'role') continue;
        if (typeof v === 'string') {
          const text = field === 'content' || field === 'refusal';
          plan.fragments.push({ key: `c:${i}:${field}:`, holder: delta, field, json: false, source: text ? 'output_text' : 'output_other', part: field === 'content' ? 'text' : 'other', synth: (t) => chunk(i, { [field]: t }) });
        } else if (field === 'tool_calls' && Array.isArray(v)) {
          for (const tc of v) {
            if (!isObj(tc) || !isObj(tc.function)) continue;
            const k = typeof tc.index === 'number' ? tc.index : 0;
            const key = `t:${i}:${k}:`;
            if (typeof tc.function.name === 'string') plan.toolNames.push({ key, name: tc.function.name });
            if (typeof tc.function.arguments === 'string') {
              plan.fragments.push({ key, holder: tc.function, field: 'arguments', json: true, source: 'output_tool_call', part: 'tool', synth: (t) => chunk(i, { tool_calls: [{ index: k, function: { arguments: t } }] }) });
            }
          }
        } else if (field === 'function_call' && isObj(v)) {
          const key = `f:${i}:`;
          if (typeof v.name === 'string') plan.toolNames.push({ key, name: v.name });
          if (typeof v.arguments === 'string') {
            plan.fragments.push({ key, holder: v, field: 'arguments', json: true, source: 'output_tool_call', part: 'tool', synth: (t) => chunk(i, { function_call: { arguments: t } }) });
          }
        } else if (field === 'audio' && isObj(v) && typeof v.transcript === 'string') {
          plan.fragments.push({ key: `a:${i}:`, holder: v, field: 'transcript', json: false, source: 'output_text', part: 'other', synth: (t) => chunk(i, { audio: { transcript: t } }) });
        }
      }
    }
    if (ch.finish_reason !== undefined && ch.finish_reason !== null) {
      plan.complete.push(`c:${i}:`, `t:${i}:`, `f:${i}:`, `a:${i}:`);
      if (i === 0) plan.finishReason = String(ch.finish_reason);
    }
  }
  plan.onlyPieces = plan.fragments.length > 0 && chatOnlyPieces(obj);
  return plan;
}

const CHAT_ENVELOPE = new Set(['id', 'object', 'created', 'model', 'system_fingerprint', 'service_tier', 'obfuscation', 'choices', 'usage']);

/** A chunk whose choices hold only text pieces (strings, or tool-call arguments without id, type or name). */
function chatOnlyPieces(obj: Obj): boolean {
  if (obj.usage != null || !Object.keys(obj).every((k) => CHAT_ENVELOPE.has(k)) || !Array.isArray(obj.choices)) return false;
  return obj.choices.every((ch) => {
    if (!isObj(ch) || ch.finish_reason != null || ch.logprobs != null || !isObj(ch.delta)) return false;
    if (!Object.keys(ch).every((k) => k === 'index' || k === 'delta' || k === 'finish_reason' || k === 'logprobs')) return false;
    const delta = ch.delta;
    return Object.keys(delta).every((field) => {
      const v = delta[field];
      if (v === null || (typeof v === 'string' && field !== 'role')) return true;
      if (field === 'tool_calls' && Array.isArray(v)) return v.every((tc) => isObj(tc) && Object.keys(tc).every((k) => k === 'index' || (k === 'function' && argumentsOnly(tc.function))));
      if (field === 'function_call') return argumentsOnly(v);
      return false;
    });
  });
}

function argumentsOnly(v: unknown): boolean {
  return isObj(v) && Object.keys(v).every((k) => k === 'arguments' && typeof v[k] === 'string');
}

// ---- Anthropic Messages: `event: NAME` + `data: {…}` ----

const ANTHROPIC_FRAME: Fields = fields({ type: 'enum', index: 'enum' });
const ANTHROPIC_DELTA_FRAME: Fields = fields({
  type: 'enum',
  index: 'enum',
  delta: (b, v) => b.object(v, -1, 'output_other', DELTA),
});
const DELTA: Fields = fields({ type: 'enum', signature: 'opaque', stop_reason: 'enum' });
const BLOCK_START: Fields = fields({ type: 'enum', index: 'enum', content_block: (b, v, turn) => replyParts.anthropicBlock(b, v, turn) });
const MESSAGE_START: Fields = fields({ type: 'enum', message: (b, m) => replyParts.anthropicMessage(b, m) });

function anthropicFrame(event: string | undefined, obj: Obj): FramePlan {
  const name = event ?? String(obj.type ?? '');
  const head = event;
  const i = typeof obj.index === 'number' ? obj.index : 0;
  const deltaFrame = (delta: Obj) => formatFrame(head ?? undefined, JSON.stringify({ type: 'content_block_delta', index: i, delta }));
  if (name === 'content_block_delta' && isObj(obj.delta)) {
    const plan = emptyPlan((b) => b.object(obj, i, 'output_other', ANTHROPIC_DELTA_FRAME));
    const d = obj.delta;
    const add = (key: string, field: string, json: boolean, source: SegmentSource, part: Fragment['part']) => {
      if (typeof d[field] === 'string') plan.fragments.push({ key, holder: d, field, json, source, part, synth: (t) => deltaFrame({ type: d.type, [field]: t }) });
    };
    if (d.type === 'text_delta') add(`c:${i}:`, 'text', false, 'output_text', 'text');
    else if (d.type === 'input_json_delta') add(`t:${i}:`, 'partial_json', true, 'output_tool_call', 'tool');
    else if (d.type === 'thinking_delta') add(`th:${i}:`, 'thinking', false, 'output_other', 'other');
    else if (d.type !== 'signature_delta' && d.type !== 'citations_delta') {
      // A delta type this version does not know: each of its texts is a piece of a text of its own.
      for (const field of Object.keys(d)) if (field !== 'type') add(`x:${i}:${field}:`, field, false, 'output_other', 'other');
    }
    const pieceFields = new Set(plan.fragments.map((f) => f.field));
    plan.onlyPieces =
      plan.fragments.length > 0 && Object.keys(obj).every((k) => k === 'type' || k === 'index' || k === 'delta') && Object.keys(d).every((k) => k === 'type' || pieceFields.has(k));
    return plan;
  }
  if (name === 'content_block_start' && isObj(obj.content_block)) {
    const cb = obj.content_block;
    const plan = emptyPlan((b) => b.object(obj, i, 'output_other', BLOCK_START));
    // Text a start block already carries is the first piece of its window.
    if (cb.type === 'text' && typeof cb.text === 'string') {
      plan.fragments.push({ key: `c:${i}:`, holder: cb, field: 'text', json: false, source: 'output_text', part: 'text', synth: (t) => deltaFrame({ type: 'text_delta', text: t }) });
    } else if (cb.type === 'thinking' && typeof cb.thinking === 'string') {
      plan.fragments.push({ key: `th:${i}:`, holder: cb, field: 'thinking', json: false, source: 'output_other', part: 'other', synth: (t) => deltaFrame({ type: 'thinking_delta', thinking: t }) });
    } else if (typeof cb.name === 'string') {
      plan.toolNames.push({ key: `t:${i}:`, name: cb.name });
    }
    return plan;
  }
  if (name === 'content_block_stop') {
    const plan = emptyPlan((b) => b.object(obj, i, 'output_other', ANTHROPIC_FRAME));
    plan.complete.push(`c:${i}:`, `t:${i}:`, `th:${i}:`, `x:${i}:`);
    return plan;
  }
  if (name === 'message_start') {
    return emptyPlan((b) => b.object(obj, -1, 'output_other', MESSAGE_START));
  }
  const plan = emptyPlan((b) => b.object(obj, -1, 'output_other', ANTHROPIC_DELTA_FRAME));
  if (name === 'message_delta' && isObj(obj.delta) && typeof obj.delta.stop_reason === 'string') {
    const stop = obj.delta.stop_reason;
    plan.finishReason = stop === 'max_tokens' ? 'length' : stop === 'tool_use' ? 'tool_calls' : stop === 'end_turn' ? 'stop' : stop;
  }
  return plan;
}

// ---- OpenAI Responses: `event: response.*` + `data: {…}` ----

const RESPONSES_COMMON = {
  type: 'enum',
  item_id: 'id',
  output_index: 'enum',
  content_index: 'enum',
  summary_index: 'enum',
  sequence_number: 'enum',
  // Random padding OpenAI adds to deltas against length side channels.
  obfuscation: 'opaque',
} as const;
const RESPONSES_FRAME: Fields = fields({
  ...RESPONSES_COMMON,
  item: (b, v) => replyParts.responsesItem(b, v, -1),
  response: (b, v) => replyParts.responsesResponse(b, v),
});
/** Audio bytes in pieces: each piece is base64 of part of a sound, text to no detector. */
const RESPONSES_AUDIO_FRAME: Fields = fields({ ...RESPONSES_COMMON, delta: 'opaque' });
/** The field a `.done` event repeats the whole text in. */
const WHOLE_FIELDS = ['text', 'refusal', 'arguments', 'input', 'transcript', 'code', 'diff'];
const JSON_STREAMS = new Set(['response.function_call_arguments', 'response.mcp_call_arguments']);
/** Streams of a tool call's input; `apply_patch_call_operation_diff` is the patch of the built-in apply_patch tool. */
const TOOL_STREAMS = new Set(['response.function_call_arguments', 'response.custom_tool_call_input', 'response.apply_patch_call_operation_diff']);

function responsesKey(base: string, obj: Obj): string {
  const oi = typeof obj.output_index === 'number' ? obj.output_index : 0;
  const sub = obj.content_index ?? obj.summary_index ?? '';
  return `${base}:${oi}:${typeof sub === 'number' ? sub : ''}:`;
}

function responsesFrame(event: string | undefined, obj: Obj): FramePlan {
  const name = event ?? String(obj.type ?? '');
  if (name === 'response.audio.delta') return emptyPlan((b) => b.object(obj, -1, 'output_other', RESPONSES_AUDIO_FRAME));
  const plan = emptyPlan((b) => b.object(obj, -1, 'output_other', RESPONSES_FRAME));
  if (name.endsWith('.delta') && typeof obj.delta === 'string') {
    const base = name.slice(0, -'.delta'.length);
    const key = responsesKey(base, obj);
    const json = JSON_STREAMS.has(base);
    const tool = TOOL_STREAMS.has(base);
    const text = base === 'response.output_text' || base === 'response.refusal';
    const template = { ...obj };
    plan.fragments.push({
      key,
      holder: obj,
      field: 'delta',
      json,
      source: text ? 'output_text' : json || tool ? 'output_tool_call' : 'output_other',
      part: base === 'response.output_text' ? 'text' : tool ? 'tool' : 'other',
      synth: (t) => {
        const frame: Obj = { type: name, item_id: template.item_id, output_index: template.output_index, delta: t };
        if (template.content_index !== undefined) frame.content_index = template.content_index;
        if (template.summary_index !== undefined) frame.summary_index = template.summary_index;
        return formatFrame(event, JSON.stringify(frame));
      },
    });
    plan.onlyPieces = Object.keys(obj).every((k) => k in RESPONSES_COMMON || k === 'delta' || (k === 'logprobs' && Array.isArray(obj.logprobs) && obj.logprobs.length === 0));
    return plan;
  }
  if (name.endsWith('.done') && !REPEATS.has(name)) {
    const key = responsesKey(name.slice(0, -'.done'.length), obj);
    plan.complete.push(key);
    const field = WHOLE_FIELDS.find((f) => typeof obj[f] === 'string');
    if (field) plan.wholes.push({ holder: obj, field, key });
    return plan;
  }
  if (name === 'response.content_part.done' && isObj(obj.part)) {
    const part = obj.part;
    if (typeof part.text === 'string') plan.wholes.push({ holder: part, field: 'text', key: responsesKey('response.output_text', obj) });
    if (typeof part.refusal === 'string') plan.wholes.push({ holder: part, field: 'refusal', key: responsesKey('response.refusal', obj) });
    plan.complete.push(responsesKey('response.output_text', obj), responsesKey('response.refusal', obj));
    return plan;
  }
  if (name === 'response.reasoning_summary_part.done' && isObj(obj.part) && typeof obj.part.text === 'string') {
    plan.wholes.push({ holder: obj.part, field: 'text', key: responsesKey('response.reasoning_summary_text', obj) });
    return plan;
  }
  if (name === 'response.output_item.done' && isObj(obj.item)) {
    itemWholes(plan, obj.item, typeof obj.output_index === 'number' ? obj.output_index : 0);
    return plan;
  }
  if (name === 'response.output_item.added' && isObj(obj.item) && typeof obj.item.name === 'string') {
    const type = obj.item.type === 'custom_tool_call' ? 'response.custom_tool_call_input' : 'response.function_call_arguments';
    plan.toolNames.push({ key: responsesKey(type, { output_index: obj.output_index }), name: obj.item.name });
  }
  if (name === 'response.output_item.added' && isObj(obj.item) && obj.item.type === 'apply_patch_call') {
    plan.toolNames.push({ key: responsesKey('response.apply_patch_call_operation_diff', { output_index: obj.output_index }), name: 'apply_patch_call' });
  }
  if ((name === 'response.completed' || name === 'response.incomplete' || name === 'response.failed') && isObj(obj.response)) {
    plan.finalResponse = obj.response;
    const output = obj.response.output;
    if (Array.isArray(output)) output.forEach((item, oi) => isObj(item) && itemWholes(plan, item, oi));
  }
  return plan;
}

/** Events that repeat, whole, texts streamed before them: their texts are matched to those windows. */
const REPEATS = new Set(['response.output_item.done', 'response.content_part.done', 'response.reasoning_summary_part.done']);

/** The texts of a finished output item, each matched to the window its pieces went through. */
function itemWholes(plan: FramePlan, item: Obj, oi: number): void {
  const at = { output_index: oi };
  if (typeof item.arguments === 'string') plan.wholes.push({ holder: item, field: 'arguments', key: responsesKey(item.type === 'mcp_call' ? 'response.mcp_call_arguments' : 'response.function_call_arguments', at) });
  if (typeof item.input === 'string') plan.wholes.push({ holder: item, field: 'input', key: responsesKey('response.custom_tool_call_input', at) });
  if (item.type === 'apply_patch_call' && isObj(item.operation) && typeof item.operation.diff === 'string') {
    plan.wholes.push({ holder: item.operation, field: 'diff', key: responsesKey('response.apply_patch_call_operation_diff', at) });
  }
  const parts = (list: unknown, base: string, field: string, index: 'content_index' | 'summary_index') => {
    if (!Array.isArray(list)) return;
    list.forEach((part, j) => {
      if (isObj(part) && typeof part[field] === 'string') plan.wholes.push({ holder: part, field, key: responsesKey(base, { ...at, [index]: j }) });
    });
  };
  if (item.type === 'message' || item.type === undefined) {
    parts(item.content, 'response.output_text', 'text', 'content_index');
    parts(item.content, 'response.refusal', 'refusal', 'content_index');
  }
  parts(item.summary, 'response.reasoning_summary_text', 'text', 'summary_index');
  if (item.type === 'reasoning') parts(item.content, 'response.reasoning_text', 'text', 'content_index');
}
