import type { Finding } from '../policy/types.js';
import { getAt, type JsonPath, type Segment, type SegmentSource } from './content.js';
import { isObj } from './view.js';

/** What describing a place may read and quote. */
export interface Quoting {
  /** The request or reply body the segments were read from. */
  body: unknown;
  segments: readonly Segment[];
  /** Every finding of the decision: a name read from a segment holding one is never quoted. */
  findings: readonly Finding[];
  /** Whether a name may appear in a message (the caller rejects anything a detector flags). */
  quotable: (text: string) => boolean;
}

/**
 * Where a finding is, in words a developer can act on ("the result of tool call toolu_01 (Read, file src/app.ts)
 * in turn 7"), for the refusal message. Never the text that matched: only names the client itself chose for
 * the conversation's parts (call ids, tool names, file paths), each only when it is quotable and not read from
 * a segment that holds a finding, so a name can never carry what was found.
 */
export function describeFinding(q: Quoting, finding: Finding): string {
  const seg = finding.segment >= 0 ? q.segments[finding.segment] : undefined;
  if (!seg) return describeSource(finding.source);
  // A reply's turn is a choice or block index, which tells the developer nothing.
  const turn = seg.turn >= 0 && !seg.source.startsWith('output_') ? ` in turn ${seg.turn + 1}` : '';
  const file = fileOfText(seg.text, finding.start, q.quotable);
  const inFile = file ? `, file ${file}` : '';
  if (seg.source === 'tool_result' || seg.source === 'tool_call' || seg.source === 'output_tool_call') {
    const call = callOf(q, seg);
    const what = seg.source === 'tool_result' ? 'the result of tool call' : seg.source === 'tool_call' ? 'the arguments of tool call' : "the arguments of the reply's tool call";
    const named = [call.name, call.file && !file ? `file ${call.file}` : undefined].filter(Boolean).join(', ');
    return `${what}${call.id ? ` ${call.id}` : ''}${named ? ` (${named})` : ''}${turn}${inFile}`;
  }
  if (seg.source === 'other') {
    const top = seg.path[0];
    return `the request field ${typeof top === 'string' && q.quotable(top) ? `"${top}"` : '(unnamed)'}${turn}${inFile}`;
  }
  return `${describeSource(seg.source)}${turn}${inFile}`;
}

/** The words for a part of a request or reply, when nothing more precise is known (streamed replies). */
export function describeSource(source: SegmentSource): string {
  return SOURCE_WORDS[source];
}

const SOURCE_WORDS: Record<SegmentSource, string> = {
  system: 'the system prompt',
  developer: 'the developer instructions',
  user: 'a user message',
  assistant: 'an assistant message',
  tool_result: 'a tool result',
  tool_call: 'the arguments of a tool call',
  document: 'a document',
  tool_definition: 'a tool definition',
  other: 'a request field',
  output_text: 'the reply text',
  output_tool_call: "the arguments of the reply's tool call",
  output_other: 'another part of the reply',
};

interface Call {
  id?: string;
  name?: string;
  file?: string;
}

type Clean = (value: unknown, at: JsonPath) => string | undefined;

const CALL_ID_KEYS = ['tool_use_id', 'tool_call_id', 'call_id'] as const;
const FILE_KEYS = ['file_path', 'path', 'notebook_path', 'filename'] as const;
/** Bounds the search for the call a tool result answers: a refusal never costs more than a look at this many values. */
const MAX_VISITS = 200_000;
/** Tool arguments larger than this are not parsed for a file name. */
const MAX_ARGUMENTS_CHARS = 65_536;

/**
 * The tool call a segment belongs to or answers: its id and name and the file it names (Claude Code's Read,
 * Edit and Write carry `file_path`). For a result, the call is found by its id elsewhere in the body.
 */
function callOf(q: Quoting, seg: Segment): Call {
  const flagged = new Set(q.findings.map((f) => q.segments[f.segment]).filter((s): s is Segment => s !== undefined).map((s) => JSON.stringify(s.path)));
  const clean: Clean = (value, at) => (typeof value === 'string' && q.quotable(value) && !flagged.has(JSON.stringify(at)) ? value : undefined);
  for (let depth = seg.path.length - 1; depth >= 0; depth--) {
    const holderPath = seg.path.slice(0, depth);
    const holder = getAt(q.body, holderPath);
    if (!isObj(holder)) continue;
    if (seg.source === 'tool_result') {
      const key = CALL_ID_KEYS.find((k) => typeof holder[k] === 'string');
      if (!key) continue;
      const found = findCall(q.body, holder[key] as string);
      const id = clean(holder[key], [...holderPath, key]);
      return { ...(found ? describeCall(found.node, found.path, clean) : {}), ...(id ? { id } : {}) };
    }
    if (isCall(holder)) return { ...describeCall(holder, holderPath, clean), ...idOf(holder, holderPath, clean) };
  }
  return {};
}

function isCall(node: Record<string, unknown>): boolean {
  return node.type === 'tool_use' || node.type === 'server_tool_use' || node.type === 'function_call' || node.type === 'custom_tool_call' || isObj(node.function);
}

function idOf(node: Record<string, unknown>, at: JsonPath, clean: Clean): Call {
  const key = typeof node.call_id === 'string' ? 'call_id' : 'id';
  const id = clean(node[key], [...at, key]);
  return id ? { id } : {};
}

/** Name and file of a call node: Anthropic tool_use, a chat tool_calls entry, a Responses function_call. */
function describeCall(node: Record<string, unknown>, at: JsonPath, clean: Clean): Call {
  const fn = isObj(node.function) ? node.function : undefined;
  const name = clean(fn ? fn.name : node.name, fn ? [...at, 'function', 'name'] : [...at, 'name']);
  const args = fn ? fn.arguments : node.arguments;
  let input: unknown = node.input;
  if (typeof args === 'string' && args.length <= MAX_ARGUMENTS_CHARS) {
    try {
      input = JSON.parse(args);
    } catch {
      // arguments that are not JSON name no file
    }
  }
  let file: string | undefined;
  if (isObj(input)) {
    const key = FILE_KEYS.find((k) => typeof input[k] === 'string');
    // Arguments held in a string are one place: a finding anywhere in them keeps the file unnamed.
    const place = typeof args === 'string' ? [...at, ...(fn ? ['function'] : []), 'arguments'] : [...at, 'input', key ?? ''];
    if (key) file = clean(input[key], place);
  }
  return { ...(name ? { name } : {}), ...(file ? { file } : {}) };
}

/** The call with this id anywhere in the body (depth first, bounded). */
function findCall(body: unknown, id: string): { node: Record<string, unknown>; path: JsonPath } | undefined {
  const stack: Array<{ value: unknown; path: JsonPath }> = [{ value: body, path: [] }];
  for (let visits = 0; stack.length > 0 && visits < MAX_VISITS; visits++) {
    const { value, path } = stack.pop()!;
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) if (typeof value[i] === 'object' && value[i] !== null) stack.push({ value: value[i], path: [...path, i] });
      continue;
    }
    if (!isObj(value)) continue;
    if (isCall(value) && (value.id === id || value.call_id === id)) return { node: value, path };
    for (const [key, child] of Object.entries(value)) if (typeof child === 'object' && child !== null) stack.push({ value: child, path: [...path, key] });
  }
  return undefined;
}

const FENCE = /^(`{3,}|~{3,})/;
const LOOKS_LIKE_PATH = /[./\\]/;

/**
 * The file a position in a text is in, when the text embeds files the way Aider sends them: the path on its own
 * line, then the file in a fenced block. A finding on the path line itself is outside every block, so it is
 * never named; a path a detector would flag is not either (`quotable`).
 */
export function fileOfText(text: string, at: number, quotable: (text: string) => boolean): string | undefined {
  if (!text.includes('```') && !text.includes('~~~')) return undefined;
  let offset = 0;
  let previous: string | undefined;
  let open: { fence: string; path: string | undefined } | undefined;
  for (const line of text.split('\n')) {
    const lineStart = offset;
    offset += line.length + 1;
    const trimmed = line.trim();
    const fence = FENCE.exec(trimmed)?.[1];
    if (open) {
      if (fence && trimmed === fence && fence[0] === open.fence[0] && fence.length >= open.fence.length) {
        if (at < lineStart) return undefined;
        open = undefined;
        previous = undefined;
        continue;
      }
      if (at < offset) return open.path && LOOKS_LIKE_PATH.test(open.path) && quotable(open.path) ? open.path : undefined;
      continue;
    }
    if (at < offset) return undefined;
    if (fence) open = { fence, path: previous };
    else if (trimmed.length > 0) previous = trimmed;
  }
  return undefined;
}
