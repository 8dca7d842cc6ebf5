import type { Family } from '../providers/targets.js';
import type { ReplyView } from '../policy/types.js';
import type { JsonPath, Segment, SegmentSource } from './content.js';
import { fields, isObj, isTextMime, ViewBuilder, type Fields, type Visit } from './view.js';

type Obj = Record<string, unknown>;

/** The content view of a body, with what was left out of it. */
export interface ContentView {
  segments: Segment[];
  /** Binary payloads (images, audio, PDFs) no policy could read. */
  opaque: { count: number; chars: number };
  /** Strings holding JSON with duplicate member names: to be forwarded as these re-serialised texts. */
  normalised: Array<{ path: JsonPath; text: string }>;
}

/** The complete content view of a request body, for the family's wire format. */
export function requestView(family: Family, body: Obj): ContentView {
  const b = new ViewBuilder();
  const root = family === 'chat' ? CHAT_REQUEST : family === 'responses' ? RESPONSES_REQUEST : ANTHROPIC_REQUEST;
  b.object(body, -1, 'other', root);
  return { segments: b.segments, opaque: b.opaque, normalised: b.normalised };
}

/** Every text segment of a request body. */
export function requestSegments(family: Family, body: Obj): Segment[] {
  return requestView(family, body).segments;
}

/** The complete content view of a reply body (an error body included), for the family's wire format. */
export function responseView(family: Family, body: unknown): ContentView {
  const b = new ViewBuilder();
  if (!isObj(body)) b.any(body, -1, 'output_other');
  else if (family === 'chat') b.object(body, -1, 'output_other', CHAT_RESPONSE);
  else if (family === 'responses') b.object(body, -1, 'output_other', RESPONSES_RESPONSE);
  else if (family === 'messages') b.object(body, -1, 'output_other', ANTHROPIC_RESPONSE);
  else b.any(body, -1, 'output_other');
  return { segments: b.segments, opaque: b.opaque, normalised: b.normalised };
}

/** Every text segment of a reply body. */
export function responseSegments(family: Family, body: Obj): Segment[] {
  return responseView(family, body).segments;
}

/** Walks a reply's parts one by one (streamed frames), with the same field tables as whole replies. */
export const replyParts = {
  /** An Anthropic content block (content_block_start). */
  anthropicBlock(b: ViewBuilder, block: unknown, turn: number): void {
    b.field(ANTHROPIC_OUTPUT_BLOCK, block, turn, 'output_text');
  },
  /** An Anthropic message (message_start). */
  anthropicMessage(b: ViewBuilder, message: unknown): void {
    b.object(message, -1, 'output_other', ANTHROPIC_RESPONSE);
  },
  /** An OpenAI Responses output item (output_item.added / done). */
  responsesItem(b: ViewBuilder, item: unknown, turn: number): void {
    b.field(RESPONSES_OUTPUT_ITEM, item, turn, 'output_text');
  },
  /** An OpenAI Responses response object (response.created, completed, …). */
  responsesResponse(b: ViewBuilder, response: unknown): void {
    b.object(response, -1, 'output_other', RESPONSES_RESPONSE);
  },
};

const ROLE_SOURCE: Record<string, SegmentSource> = {
  system: 'system',
  developer: 'developer',
  user: 'user',
  assistant: 'assistant',
  tool: 'tool_result',
  function: 'tool_result',
};

function roleSource(m: unknown): SegmentSource {
  const role = isObj(m) ? m.role : undefined;
  return (typeof role === 'string' && Object.hasOwn(ROLE_SOURCE, role) ? ROLE_SOURCE[role] : undefined) ?? 'user';
}

/** A value walked generically with a fixed source, whatever the caller's. */
const as =
  (source: SegmentSource): Visit =>
  (b, v, turn) =>
    b.any(v, turn, source);

/** An object with known members, read with a fixed source. */
const objectAs =
  (source: SegmentSource, table: Fields): Visit =>
  (b, v, turn) =>
    b.object(v, turn, source, table);

// ---- OpenAI Chat Completions ----

const CHAT_FUNCTION: Fields = fields({ name: as('tool_call'), arguments: 'json' });
const CHAT_TOOL_CALL: Fields = fields({
  id: 'id',
  type: 'enum',
  index: 'enum',
  function: objectAs('tool_call', CHAT_FUNCTION),
});
const DETAIL: Fields = fields({ detail: 'enum' });
const FORMAT: Fields = fields({ format: 'enum' });
const FILE: Fields = fields({ file_id: 'id' });
const ID: Fields = fields({ id: 'id' });
const CHAT_PART: Fields = fields({
  type: 'enum',
  // `text`, `refusal`: the part's own source (the caller's).
  image_url: (b, v, turn, source) => b.object(v, turn, source, DETAIL),
  input_audio: (b, v, turn, source) => b.object(v, turn, source, FORMAT),
  file: (b, v, turn, source) => b.object(v, turn, source, FILE),
});
const chatContent: Visit = (b, v, turn, source) => {
  if (Array.isArray(v)) b.each(v, (part) => b.object(part, turn, source, CHAT_PART), turn, source);
  else b.any(v, turn, source);
};
const chatMessage = (b: ViewBuilder, m: unknown, turn: number): void => {
  const source = roleSource(m);
  b.object(m, turn, source, CHAT_MESSAGE);
};
const CHAT_MESSAGE: Fields = fields({
  role: 'enum',
  content: chatContent,
  tool_calls: (b, v, turn) => b.each(v, (tc) => b.object(tc, turn, 'tool_call', CHAT_TOOL_CALL), turn, 'tool_call'),
  function_call: objectAs('tool_call', CHAT_FUNCTION),
  tool_call_id: 'id',
  audio: (b, v, turn, source) => b.object(v, turn, source, ID),
});
const CHAT_REQUEST: Fields = fields({
  messages: (b, v) => b.each(v, (m, i) => chatMessage(b, m, i), -1, 'user'),
  tools: as('tool_definition'),
  functions: as('tool_definition'),
  response_format: as('tool_definition'),
  prediction: as('user'),
  modalities: 'enum',
  reasoning_effort: 'enum',
  service_tier: 'enum',
  verbosity: 'enum',
});

const CHAT_OUTPUT_FUNCTION: Fields = fields({ name: as('output_tool_call'), arguments: 'json' });
const CHAT_OUTPUT_TOOL_CALL: Fields = fields({
  id: 'id',
  type: 'enum',
  index: 'enum',
  function: objectAs('output_tool_call', CHAT_OUTPUT_FUNCTION),
});
const CHAT_AUDIO_OUT: Fields = fields({ id: 'id', transcript: as('output_text') });
const CHAT_RESPONSE_MESSAGE: Fields = fields({
  role: 'enum',
  content: as('output_text'),
  refusal: as('output_text'),
  tool_calls: (b, v, turn) => b.each(v, (tc) => b.object(tc, turn, 'output_tool_call', CHAT_OUTPUT_TOOL_CALL), turn, 'output_tool_call'),
  function_call: objectAs('output_tool_call', CHAT_OUTPUT_FUNCTION),
  audio: (b, v, turn) => b.object(v, turn, 'output_other', CHAT_AUDIO_OUT),
});
const CHAT_CHOICE: Fields = fields({ finish_reason: 'enum', message: (b, m, turn) => b.object(m, turn, 'output_other', CHAT_RESPONSE_MESSAGE) });
const CHAT_RESPONSE: Fields = fields({
  id: 'id',
  object: 'enum',
  system_fingerprint: 'id',
  choices: (b, v) => b.each(v, (ch, i) => b.object(ch, i, 'output_other', CHAT_CHOICE), -1, 'output_other'),
});

// ---- Anthropic Messages ----

/** A document or image `source`: base64 of a text type is read decoded; other base64 by its value (binary is left out). */
const SOURCE_DATA_TEXT: Fields = fields({ type: 'enum', media_type: 'enum', file_id: 'id', data: (b, d, t, s) => b.base64Text(d, t, s), content: (b, c, t) => anthropicBlocks(b, c, t, 'document') });
const SOURCE_DATA_ANY: Fields = fields({ type: 'enum', media_type: 'enum', file_id: 'id', content: (b, c, t) => anthropicBlocks(b, c, t, 'document') });
const anthropicSource: Visit = (b, v, turn, source) => {
  const textBase64 = isObj(v) && v.type === 'base64' && typeof v.media_type === 'string' && isTextMime(v.media_type);
  b.object(v, turn, source, textBase64 ? SOURCE_DATA_TEXT : SOURCE_DATA_ANY);
};

/** Blocks, or a string, with the caller's source for their text. */
const blocksVisit: Visit = (b, v, turn, source) => anthropicBlocks(b, v, turn, source);

function anthropicBlocks(b: ViewBuilder, blocks: unknown, turn: number, textSource: SegmentSource): void {
  if (typeof blocks === 'string') return b.text(blocks, turn, textSource);
  b.each(blocks, (block) => anthropicBlock(b, block, turn, textSource), turn, textSource);
}

const COMMON = { type: 'enum', cache_control: 'enum', id: 'id', tool_use_id: 'id', signature: 'opaque' } as const;
const BLOCK: Fields = fields(COMMON);
const IMAGE_BLOCK: Fields = fields({ ...COMMON, source: anthropicSource });
const DOCUMENT_BLOCK: Fields = fields({ ...COMMON, source: anthropicSource, content: blocksVisit });
const RESULT_BLOCK: Fields = fields({ ...COMMON, encrypted_content: 'opaque', content: blocksVisit });
const SEARCH_RESULT_BLOCK: Fields = fields({ ...COMMON, encrypted_content: 'opaque' });
// Encrypted by the provider.
const REDACTED_THINKING_BLOCK: Fields = fields({ ...COMMON, data: 'opaque' });

/** One content block. Types this version does not know are walked whole with the turn's source. */
function anthropicBlock(b: ViewBuilder, block: unknown, turn: number, textSource: SegmentSource): void {
  const type = isObj(block) ? block.type : undefined;
  const output = textSource.startsWith('output');
  switch (type) {
    case 'image':
      return b.object(block, turn, textSource, IMAGE_BLOCK);
    case 'document':
    case 'search_result':
      return b.object(block, turn, 'document', DOCUMENT_BLOCK);
    case 'tool_use':
    case 'server_tool_use':
    case 'mcp_tool_use':
      return b.object(block, turn, output ? 'output_tool_call' : 'tool_call', BLOCK);
    case 'tool_result':
    case 'mcp_tool_result':
    case 'web_search_tool_result':
    case 'web_fetch_tool_result':
    case 'code_execution_tool_result':
    case 'bash_code_execution_tool_result':
    case 'text_editor_code_execution_tool_result':
      return b.object(block, turn, output ? 'output_other' : 'tool_result', RESULT_BLOCK);
    case 'web_search_result':
      return b.object(block, turn, textSource, SEARCH_RESULT_BLOCK);
    case 'thinking':
      // Signed by the provider: an edited thinking block is refused upstream, which is the safe failure.
      return b.object(block, turn, output ? 'output_other' : textSource, BLOCK);
    case 'redacted_thinking':
      return b.object(block, turn, textSource, REDACTED_THINKING_BLOCK);
    default:
      return b.object(block, turn, textSource, BLOCK);
  }
}

const ANTHROPIC_MESSAGE: Fields = fields({ role: 'enum', content: blocksVisit });
const ANTHROPIC_MCP_SERVER: Fields = fields({
  type: 'enum',
  // A credential the client deliberately gives the provider to call its MCP server, like the API key header.
  authorization_token: 'opaque',
});
const ANTHROPIC_REQUEST: Fields = fields({
  system: (b, v) => anthropicBlocks(b, v, -1, 'system'),
  messages: (b, v) => b.each(v, (m, i) => b.object(m, i, roleSource(m), ANTHROPIC_MESSAGE), -1, 'user'),
  tools: as('tool_definition'),
  output_config: as('tool_definition'),
  output_format: as('tool_definition'),
  mcp_servers: (b, v) => b.each(v, (s) => b.object(s, -1, 'other', ANTHROPIC_MCP_SERVER), -1, 'other'),
  container: 'id',
});

const ANTHROPIC_OUTPUT_BLOCK: Visit = (b, block, turn) => anthropicBlock(b, block, turn, 'output_text');
const ANTHROPIC_RESPONSE: Fields = fields({
  id: 'id',
  type: 'enum',
  role: 'enum',
  stop_reason: 'enum',
  content: (b, v) => b.each(v, (block, j) => anthropicBlock(b, block, j, 'output_text'), -1, 'output_text'),
});

// ---- OpenAI Responses ----

const RESPONSES_PART: Fields = fields({
  type: 'enum',
  file_id: 'id',
  detail: 'enum',
});

/** The source of an input item by its type: results of tools are tool results, calls are tool calls. */
function itemSource(type: unknown, role: SegmentSource, output: boolean): SegmentSource {
  if (type === undefined || type === 'message') return output ? 'output_text' : role;
  const t = String(type);
  if (t === 'reasoning') return output ? 'output_other' : 'assistant';
  if (t.endsWith('_output') || t === 'mcp_list_tools' || t === 'mcp_approval_response') return output ? 'output_other' : 'tool_result';
  if (t.endsWith('_call') || t === 'mcp_approval_request') return output ? 'output_tool_call' : 'tool_call';
  return output ? 'output_other' : role;
}

const responsesContent: Visit = (b, c, t, s) => {
  if (Array.isArray(c)) b.each(c, (part) => b.object(part, t, s, RESPONSES_PART), t, s);
  else b.any(c, t, s);
};
const ITEM_COMMON = {
  type: 'enum',
  role: 'enum',
  status: 'enum',
  id: 'id',
  call_id: 'id',
  item_id: 'id',
  approval_request_id: 'id',
  encrypted_content: 'opaque',
  arguments: 'json',
  content: responsesContent,
  // What a call produced is its result.
  output: (b: ViewBuilder, o: unknown, t: number, s: SegmentSource) => responsesContent(b, o, t, s === 'tool_call' ? 'tool_result' : s),
} as const;
const RESPONSES_INPUT_ITEM: Fields = fields({ ...ITEM_COMMON, tools: as('tool_definition') });
const RESPONSES_OUTPUT_ITEM_FIELDS: Fields = fields({ ...ITEM_COMMON, tools: as('output_other') });

function responsesItem(b: ViewBuilder, item: unknown, turn: number, output: boolean): void {
  if (!isObj(item)) return b.any(item, turn, output ? 'output_text' : 'user');
  const source = itemSource(item.type ?? (item.role !== undefined ? 'message' : undefined), roleSource(item), output);
  b.object(item, turn, source, output ? RESPONSES_OUTPUT_ITEM_FIELDS : RESPONSES_INPUT_ITEM);
}

const RESPONSES_OUTPUT_ITEM: Visit = (b, item, turn) => responsesItem(b, item, turn, true);
const PROMPT: Fields = fields({ id: 'id', variables: as('user') });
const RESPONSES_REQUEST: Fields = fields({
  instructions: (b, v) => (Array.isArray(v) ? b.each(v, (item, i) => responsesItem(b, item, i, false), -1, 'system') : b.any(v, -1, 'system')),
  input: (b, v) => (Array.isArray(v) ? b.each(v, (item, i) => responsesItem(b, item, i, false), -1, 'user') : b.any(v, 0, 'user')),
  tools: as('tool_definition'),
  text: as('tool_definition'),
  prompt: (b, v) => b.object(v, -1, 'other', PROMPT),
  previous_response_id: 'id',
  conversation: 'id',
  service_tier: 'enum',
  truncation: 'enum',
});
const RESPONSES_RESPONSE: Fields = fields({
  id: 'id',
  object: 'enum',
  status: 'enum',
  previous_response_id: 'id',
  output: (b, v) => b.each(v, (item, i) => responsesItem(b, item, i, true), -1, 'output_text'),
  output_text: as('output_text'),
  instructions: as('output_other'),
  tools: as('output_other'),
});

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

/**
 * A request option whose reply output policies could not read, or undefined. Log probabilities repeat the
 * reply token by token (a value split over tokens is in no single one) and audio speaks it.
 */
export function uncheckableReplyOption(family: Family, body: Obj): string | undefined {
  const topLogprobs = typeof body.top_logprobs === 'number' && body.top_logprobs > 0;
  if (family === 'chat') {
    if (body.logprobs === true || topLogprobs) return 'log probabilities (logprobs, top_logprobs)';
    if ((Array.isArray(body.modalities) && body.modalities.includes('audio')) || isObj(body.audio)) return 'audio output (modalities: audio)';
  }
  if (family === 'responses') {
    const include = Array.isArray(body.include) ? body.include : [];
    if (topLogprobs || include.some((i) => typeof i === 'string' && i.includes('logprobs'))) return 'log probabilities (include: *.logprobs, top_logprobs)';
  }
  return undefined;
}
