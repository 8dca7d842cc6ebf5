import { defaultMaxTokens } from './chat-to-messages.js';
import { toolNamesFor, type ToolNames } from './responses-names.js';
import { isObj, quoteName, untranslatable, type Obj } from './types.js';

/**
 * An OpenAI Responses request (as Codex, the openai package's `responses.create` and the Vercel AI SDK send it)
 * read once into turns, then written for an OpenAI Chat Completions target or an Anthropic Messages target.
 * Every member is either carried over, left out because it changes nothing the model reads (listed in
 * docs/configuration.md), or refused with a 400 naming it in the client's body. Function-call ids (`call_id`)
 * are kept as the target's tool-call ids, so the calls and results of a tool loop still pair up.
 */

type Target = 'chat' | 'messages';

/** A part of a turn, target-neutral. */
type Part =
  | { kind: 'text'; text: string }
  | { kind: 'image'; url: string; at: string }
  | { kind: 'pdf'; data: string; at: string }
  | { kind: 'call'; id: string; name: string; args: string; at: string }
  | { kind: 'result'; id: string; text: string }
  | { kind: 'reasoning'; text: string; encrypted: string | undefined; at: string };

interface Turn {
  role: 'system' | 'user' | 'assistant';
  parts: Part[];
}

export interface ReadRequest {
  turns: Turn[];
  /** Members of the target's request already decided (sampling, limits, tools, tool choice, stream). */
  common: {
    stream: boolean;
    maxTokens?: number;
    temperature?: number;
    topP?: number;
    user?: string;
    tools?: Array<{ name: string; description?: string; parameters: Obj; strict: boolean }>;
    toolChoice?: { type: 'auto' | 'none' | 'required' } | { type: 'function'; name: string };
    parallel?: boolean;
    effort?: string;
    jsonSchema?: Obj;
    jsonObject?: boolean;
  };
}

/** Members that say nothing the model reads, whatever their value. */
const IGNORED = new Set([
  // The gateway keeps no responses: `store` cannot be honoured either way, and a later `previous_response_id` is refused.
  'store',
  // Caching and bookkeeping hints for OpenAI's own servers.
  'prompt_cache_key',
  'prompt_cache_retention',
  'client_metadata',
  'metadata',
  'stream_options',
  'service_tier',
]);

/** Members accepted only at the value that is also their default. */
const DEFAULTS_OK: Readonly<Record<string, (v: unknown) => boolean>> = {
  background: (v) => v === false || v === null,
  truncation: (v) => v === 'disabled' || v === null,
  top_logprobs: (v) => v === 0 || v === null,
};

export function readResponsesRequest(body: Obj, target: Target): ReadRequest {
  const refuse = (field: string, why: string) => untranslatable(field, target, why);
  const common: ReadRequest['common'] = { stream: false };
  const names = toolNamesFor(body, target);
  for (const [key, v] of Object.entries(body)) {
    if (v === null || v === undefined || IGNORED.has(key) || DEFAULTS_OK[key]?.(v)) continue;
    switch (key) {
      case 'model':
      case 'input':
      case 'instructions':
      case 'tools':
      case 'tool_choice':
        break;
      case 'stream':
        common.stream = v === true;
        break;
      case 'max_output_tokens':
        if (typeof v !== 'number') throw refuse(key, 'must be a number');
        common.maxTokens = v;
        break;
      case 'temperature':
        if (typeof v !== 'number') throw refuse(key, 'must be a number');
        if (target === 'messages' && v > 1) throw refuse(key, 'Anthropic takes a temperature from 0 to 1');
        common.temperature = v;
        break;
      case 'top_p':
        if (typeof v !== 'number') throw refuse(key, 'must be a number');
        common.topP = v;
        break;
      case 'user':
      case 'safety_identifier':
        if (typeof v !== 'string') throw refuse(key, 'must be a string');
        common.user = v;
        break;
      case 'parallel_tool_calls':
        if (typeof v !== 'boolean') throw refuse(key, 'must be a boolean');
        common.parallel = v;
        break;
      case 'reasoning':
        reasoning(v, common, refuse);
        break;
      case 'include':
        if (!Array.isArray(v)) throw refuse(key, 'must be an array');
        v.forEach((what, i) => {
          // Asked so a stateless client can send reasoning back; translated replies carry what the target gives.
          if (what !== 'reasoning.encrypted_content') throw refuse(`include[${i}]`, `${quoteName(what)} has no form on this target`);
        });
        break;
      case 'text':
        textOption(v, common, refuse, target);
        break;
      default:
        throw refuse(key, key === 'previous_response_id' || key === 'conversation' ? 'the gateway keeps no stored responses; send the whole conversation in input' : `the ${target === 'chat' ? 'OpenAI Chat Completions' : 'Anthropic Messages'} API has no such member`);
    }
  }
  if (body.tools !== undefined && body.tools !== null) {
    if (!Array.isArray(body.tools)) throw refuse('tools', 'must be an array');
    const tools = body.tools.flatMap((t, i) => tool(t, `tools[${i}]`, refuse, target, names));
    // A namespace with no functions offers nothing, and OpenAI refuses an empty tools array.
    if (tools.length > 0) common.tools = tools;
  }
  if (body.tool_choice !== undefined && body.tool_choice !== null) common.toolChoice = toolChoice(body.tool_choice, refuse);
  const turns: Turn[] = [];
  const push = (role: Turn['role'], parts: Part[]) => {
    const last = turns.at(-1);
    if (last && last.role === role) last.parts.push(...parts);
    else turns.push({ role, parts });
  };
  if (body.instructions !== undefined && body.instructions !== null) {
    if (typeof body.instructions !== 'string') throw refuse('instructions', 'only a string has a form on this target');
    if (body.instructions !== '') push('system', [{ kind: 'text', text: body.instructions }]);
  }
  const input = body.input;
  if (typeof input === 'string') push('user', input === '' ? [] : [{ kind: 'text', text: input }]);
  else if (Array.isArray(input)) input.forEach((item, i) => readItem(item, `input[${i}]`, push, refuse, names));
  else if (input !== undefined && input !== null) throw refuse('input', 'must be a string or an array of items');
  return { turns, common };
}

type Refuse = (field: string, why: string) => Error;

function reasoning(v: unknown, common: ReadRequest['common'], refuse: Refuse): void {
  if (!isObj(v)) throw refuse('reasoning', 'must be an object');
  for (const [k, x] of Object.entries(v)) {
    if (x === null || x === undefined) continue;
    // A summary is what the target gives of its reasoning anyway (Anthropic's thinking is a summary on Claude 4).
    if (k === 'summary' || k === 'generate_summary') continue;
    if (k === 'effort') {
      if (typeof x !== 'string' || !/^[a-z]{1,10}$/.test(x)) throw refuse('reasoning.effort', 'must be a plain name');
      common.effort = x;
      continue;
    }
    throw refuse(`reasoning.${k}`, 'has no form on this target');
  }
}

function textOption(v: unknown, common: ReadRequest['common'], refuse: Refuse, target: Target): void {
  if (!isObj(v)) throw refuse('text', 'must be an object');
  for (const [k, x] of Object.entries(v)) {
    if (x === null || x === undefined) continue;
    if (k === 'verbosity' && x === 'medium') continue;
    if (k !== 'format') throw refuse(`text.${k}`, 'has no form on this target');
    if (!isObj(x) || x.type === 'text') continue;
    if (x.type === 'json_schema' && isObj(x.schema) && typeof x.name === 'string') {
      if (target === 'messages') throw refuse('text.format', 'structured output has no form on an Anthropic target here');
      common.jsonSchema = { name: x.name, schema: x.schema, ...(typeof x.strict === 'boolean' ? { strict: x.strict } : {}), ...(typeof x.description === 'string' ? { description: x.description } : {}) };
      continue;
    }
    if (x.type === 'json_object' && target === 'chat') {
      common.jsonObject = true;
      continue;
    }
    throw refuse('text.format.type', `a ${quoteName(x.type)} format has no form on this target`);
  }
}

type Tool = NonNullable<ReadRequest['common']['tools']>[number];

function tool(t: unknown, at: string, refuse: Refuse, target: Target, names: ToolNames): Tool[] {
  if (!isObj(t)) throw refuse(at, 'must be an object');
  if (t.type === 'namespace') return namespaceTools(t, at, refuse, target, names);
  // Codex offers web search too; turn it off for such a target (docs/configuration.md).
  if (t.type !== 'function') throw refuse(`${at}.type`, `a ${quoteName(t.type)} tool has no form on this target; only function tools and namespaces of them do`);
  return [functionTool(t, at, refuse, target, names, undefined)];
}

/**
 * A namespace's functions as flat function tools under the names the request's mapping gave them. The
 * namespace's description heads each function's, since the grouping it described is otherwise lost.
 */
function namespaceTools(t: Obj, at: string, refuse: Refuse, target: Target, names: ToolNames): Tool[] {
  for (const k of Object.keys(t)) if (!['type', 'name', 'description', 'tools'].includes(k)) throw refuse(`${at}.${k}`, 'no namespace member on this target says this');
  if (typeof t.name !== 'string' || t.name === '') throw refuse(`${at}.name`, 'a namespace needs a name');
  if (t.description !== undefined && t.description !== null && typeof t.description !== 'string') throw refuse(`${at}.description`, 'must be a string');
  if (!Array.isArray(t.tools)) throw refuse(`${at}.tools`, 'must be an array of function tools');
  const ns = { name: t.name, description: typeof t.description === 'string' && t.description !== '' ? t.description : undefined };
  return t.tools.map((f, j) => {
    const here = `${at}.tools[${j}]`;
    if (!isObj(f)) throw refuse(here, 'must be an object');
    if (f.type !== 'function') throw refuse(`${here}.type`, `a ${quoteName(f.type)} tool in a namespace has no form on this target; only function tools do`);
    return functionTool(f, here, refuse, target, names, ns);
  });
}

function functionTool(t: Obj, at: string, refuse: Refuse, target: Target, names: ToolNames, ns: { name: string; description: string | undefined } | undefined): Tool {
  for (const k of Object.keys(t)) {
    // Codex marks tools it loads only after a tool search; false is every tool's default.
    if (k === 'defer_loading' && (t[k] === false || t[k] === null)) continue;
    if (!['type', 'name', 'description', 'parameters', 'strict'].includes(k)) throw refuse(`${at}.${k}`, 'no tool member on this target says this');
  }
  if (typeof t.name !== 'string') throw refuse(`${at}.name`, 'must be a string');
  if (t.strict === true && target === 'messages') throw refuse(`${at}.strict`, 'Anthropic tools have no strict schema mode');
  const own = typeof t.description === 'string' ? t.description : undefined;
  const description = ns?.description === undefined ? own : own === undefined || own === '' ? ns.description : `${ns.description}\n\n${own}`;
  return {
    name: names.flat(ns ? { name: t.name, namespace: ns.name } : { name: t.name }),
    ...(description !== undefined ? { description } : {}),
    parameters: isObj(t.parameters) ? t.parameters : { type: 'object', properties: {} },
    strict: t.strict === true,
  };
}

function toolChoice(v: unknown, refuse: Refuse): NonNullable<ReadRequest['common']['toolChoice']> {
  if (v === 'auto' || v === 'none' || v === 'required') return { type: v };
  if (isObj(v) && v.type === 'function' && typeof v.name === 'string') return { type: 'function', name: v.name };
  throw refuse('tool_choice', 'only auto, none, required and one named function have a form on this target');
}

const ITEM_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  message: ['type', 'id', 'role', 'content', 'status'],
  function_call: ['type', 'id', 'call_id', 'name', 'namespace', 'arguments', 'status'],
  // Codex may name the call an output answers; the call_id already pairs them.
  function_call_output: ['type', 'id', 'call_id', 'name', 'namespace', 'output', 'status'],
  reasoning: ['type', 'id', 'summary', 'content', 'encrypted_content', 'status'],
};

function readItem(item: unknown, at: string, push: (role: Turn['role'], parts: Part[]) => void, refuse: Refuse, names: ToolNames): void {
  if (!isObj(item)) throw refuse(at, 'must be an object');
  const type = item.type ?? (item.role !== undefined ? 'message' : undefined);
  const members = typeof type === 'string' && Object.hasOwn(ITEM_MEMBERS, type) ? ITEM_MEMBERS[type]! : undefined;
  if (!members) throw refuse(`${at}.type`, `a ${quoteName(type)} item has no form on this target`);
  for (const k of Object.keys(item)) if (!members.includes(k)) throw refuse(`${at}.${k}`, 'no member on this target says this');
  switch (type) {
    case 'message': {
      const role = item.role;
      if (role === 'system' || role === 'developer') return push('system', textParts(item.content, `${at}.content`, refuse, ['input_text']));
      if (role === 'user') return push('user', userParts(item.content, `${at}.content`, refuse));
      if (role === 'assistant') return push('assistant', textParts(item.content, `${at}.content`, refuse, ['output_text', 'input_text', 'refusal']));
      throw refuse(`${at}.role`, `role ${quoteName(role)} has no form on this target`);
    }
    case 'function_call': {
      if (typeof item.call_id !== 'string') throw refuse(`${at}.call_id`, 'a function call needs its call_id');
      if (typeof item.name !== 'string') throw refuse(`${at}.name`, 'must be a string');
      if (typeof item.arguments !== 'string') throw refuse(`${at}.arguments`, 'must be a string');
      if (item.namespace !== undefined && item.namespace !== null && typeof item.namespace !== 'string') throw refuse(`${at}.namespace`, 'must be a string');
      const name = names.flat(typeof item.namespace === 'string' ? { name: item.name, namespace: item.namespace } : { name: item.name });
      return push('assistant', [{ kind: 'call', id: item.call_id, name, args: item.arguments, at: `${at}.arguments` }]);
    }
    case 'function_call_output': {
      if (typeof item.call_id !== 'string') throw refuse(`${at}.call_id`, 'a function call output needs the call_id of its call');
      const out = item.output;
      const text = typeof out === 'string' ? out : textParts(out, `${at}.output`, refuse, ['input_text', 'output_text']).map((p) => (p.kind === 'text' ? p.text : '')).join('');
      return push('user', [{ kind: 'result', id: item.call_id, text }]);
    }
    case 'reasoning': {
      const summary = Array.isArray(item.summary) ? item.summary : [];
      const text = summary.map((s, j) => {
        if (isObj(s) && s.type === 'summary_text' && typeof s.text === 'string') return s.text;
        throw refuse(`${at}.summary[${j}]`, 'only summary_text parts have a form on this target');
      });
      if (item.content !== undefined && item.content !== null && !(Array.isArray(item.content) && item.content.length === 0)) throw refuse(`${at}.content`, 'raw reasoning content has no form on this target');
      const encrypted = typeof item.encrypted_content === 'string' ? item.encrypted_content : undefined;
      return push('assistant', [{ kind: 'reasoning', text: text.join('\n\n'), encrypted, at }]);
    }
  }
}

function textParts(content: unknown, at: string, refuse: Refuse, types: readonly string[]): Part[] {
  if (typeof content === 'string') return content === '' ? [] : [{ kind: 'text', text: content }];
  if (!Array.isArray(content)) throw refuse(at, 'must be a string or an array of parts');
  return content.flatMap((p, j): Part[] => {
    if (!isObj(p) || !types.includes(String(p.type))) throw refuse(`${at}[${j}].type`, `a ${quoteName(isObj(p) ? p.type : undefined)} part has no form here on this target`);
    const text = p.type === 'refusal' ? p.refusal : p.text;
    if (typeof text !== 'string') throw refuse(`${at}[${j}]`, 'must hold its text');
    return text === '' ? [] : [{ kind: 'text', text }];
  });
}

function userParts(content: unknown, at: string, refuse: Refuse): Part[] {
  if (typeof content === 'string') return content === '' ? [] : [{ kind: 'text', text: content }];
  if (!Array.isArray(content)) throw refuse(at, 'must be a string or an array of parts');
  return content.flatMap((p, j): Part[] => {
    const here = `${at}[${j}]`;
    if (!isObj(p)) throw refuse(here, 'must be an object');
    if (p.type === 'input_text' && typeof p.text === 'string') return p.text === '' ? [] : [{ kind: 'text', text: p.text }];
    if (p.type === 'input_image') {
      if (typeof p.image_url !== 'string') throw refuse(`${here}.image_url`, 'an image is sent as a data URL or an http(s) URL (file_id needs OpenAI\'s file store)');
      return [{ kind: 'image', url: p.image_url, at: `${here}.image_url` }];
    }
    if (p.type === 'input_file' && typeof p.file_data === 'string') return [{ kind: 'pdf', data: p.file_data, at: `${here}.file_data` }];
    throw refuse(`${here}.type`, `a ${quoteName(p.type)} part has no form on this target`);
  });
}

// ---- OpenAI Chat Completions -------------------------------------------------------------------------------

/** The request for an OpenAI chat target. Reasoning items are left out: chat takes no reasoning back. */
export function responsesToChatRequest(body: Obj, model: string, opts: { maxTokensField?: 'max_tokens' | 'max_completion_tokens' } = {}): Obj {
  const { turns, common } = readResponsesRequest(body, 'chat');
  const refuse = (field: string, why: string) => untranslatable(field, 'chat', why);
  const out: Obj = { model };
  const messages: Obj[] = [];
  for (const turn of turns) {
    if (turn.role === 'system') {
      const text = turn.parts.map((p) => (p.kind === 'text' ? p.text : '')).join('\n\n');
      if (text !== '') messages.push({ role: 'system', content: text });
      continue;
    }
    if (turn.role === 'user') {
      // Results first: they answer the assistant's calls just before them.
      let content: Obj[] = [];
      const flush = () => {
        if (content.length > 0) messages.push({ role: 'user', content });
        content = [];
      };
      for (const p of turn.parts) {
        if (p.kind === 'result') {
          flush();
          messages.push({ role: 'tool', tool_call_id: p.id, content: p.text });
        } else if (p.kind === 'text') content.push({ type: 'text', text: p.text });
        else if (p.kind === 'image') content.push({ type: 'image_url', image_url: { url: imageUrl(p.url, p.at, refuse) } });
        else if (p.kind === 'pdf') content.push({ type: 'file', file: { file_data: p.data } });
      }
      flush();
      continue;
    }
    // Assistant: text then calls, one message per run of text and calls (a call after text belongs with it).
    let text: string | null = null;
    let calls: Obj[] = [];
    const flush = () => {
      if (text === null && calls.length === 0) return;
      messages.push({ role: 'assistant', content: text, ...(calls.length > 0 ? { tool_calls: calls } : {}) });
      text = null;
      calls = [];
    };
    for (const p of turn.parts) {
      if (p.kind === 'text') {
        if (calls.length > 0) flush();
        text = (text ?? '') + p.text;
      } else if (p.kind === 'call') calls.push({ id: p.id, type: 'function', function: { name: p.name, arguments: p.args } });
    }
    flush();
  }
  out.messages = messages;
  if (common.stream) {
    out.stream = true;
    // Responses streams always end with usage; chat streams only when asked.
    out.stream_options = { include_usage: true };
  }
  if (common.maxTokens !== undefined) out[opts.maxTokensField ?? 'max_tokens'] = common.maxTokens;
  if (common.temperature !== undefined) out.temperature = common.temperature;
  if (common.topP !== undefined) out.top_p = common.topP;
  if (common.user !== undefined) out.user = common.user;
  if (common.effort !== undefined) out.reasoning_effort = common.effort;
  if (common.jsonSchema) out.response_format = { type: 'json_schema', json_schema: common.jsonSchema };
  else if (common.jsonObject) out.response_format = { type: 'json_object' };
  if (common.tools) {
    out.tools = common.tools.map((t) => ({ type: 'function', function: { name: t.name, ...(t.description !== undefined ? { description: t.description } : {}), parameters: t.parameters, ...(t.strict ? { strict: true } : {}) } }));
    if (common.parallel !== undefined) out.parallel_tool_calls = common.parallel;
  }
  const choice = common.toolChoice;
  if (choice) out.tool_choice = choice.type === 'function' ? { type: 'function', function: { name: choice.name } } : choice.type;
  return out;
}

function imageUrl(url: string, at: string, refuse: Refuse): string {
  if (/^data:[a-z]+\/[a-z0-9.+-]+;base64,/i.test(url) || /^https?:\/\//i.test(url)) return url;
  throw refuse(at, 'an image is a base64 data URL or an http(s) URL');
}

// ---- Anthropic Messages --------------------------------------------------------------------------------------

/** Thinking budgets for a Responses reasoning effort (Anthropic's minimum is 1024). */
const THINKING_BUDGET: Readonly<Record<string, number>> = { minimal: 1024, low: 2048, medium: 8192, high: 16384, xhigh: 32768 };

/** A reasoning item the client got from a translated Anthropic reply carries the thinking's signature so marked. */
export const REDACTED_PREFIX = 'kt-redacted-thinking:';

/**
 * The request for an Anthropic target. Reasoning items that carry `encrypted_content` (Codex asks for it with
 * `include`) become the signed thinking blocks they were made from; those without cannot be signed and are
 * refused only when thinking is on (Anthropic then needs the thinking of a tool-using turn back).
 */
export function responsesToMessagesRequest(body: Obj, model: string): Obj {
  const { turns, common } = readResponsesRequest(body, 'messages');
  const refuse = (field: string, why: string) => untranslatable(field, 'messages', why);
  const out: Obj = { model };
  const system: Obj[] = [];
  const messages: Array<{ role: string; content: Obj[] }> = [];
  for (const turn of turns) {
    if (turn.role === 'system') {
      for (const p of turn.parts) if (p.kind === 'text') system.push({ type: 'text', text: p.text });
      continue;
    }
    const blocks: Obj[] = [];
    for (const p of turn.parts) {
      if (p.kind === 'text') blocks.push({ type: 'text', text: p.text });
      else if (p.kind === 'image') blocks.push(anthropicImage(p.url, p.at, refuse));
      else if (p.kind === 'pdf') blocks.push(anthropicPdf(p.data, p.at, refuse));
      else if (p.kind === 'result') blocks.push({ type: 'tool_result', tool_use_id: p.id, content: p.text });
      else if (p.kind === 'call') blocks.push({ type: 'tool_use', id: p.id, name: p.name, input: callInput(p.args, p.at, refuse) });
      else if (p.kind === 'reasoning') {
        if (p.encrypted === undefined) {
          if (common.effort !== undefined && common.effort !== 'none') throw refuse(`${p.at}.encrypted_content`, 'Anthropic needs the signed thinking back; ask for it with include: ["reasoning.encrypted_content"]');
          continue;
        }
        if (p.encrypted.startsWith(REDACTED_PREFIX)) blocks.push({ type: 'redacted_thinking', data: p.encrypted.slice(REDACTED_PREFIX.length) });
        else blocks.push({ type: 'thinking', thinking: p.text, signature: p.encrypted });
      }
    }
    // Tool results go first in their turn, as Anthropic requires right after the calls.
    if (turn.role === 'user') blocks.sort((a, b) => Number(b.type === 'tool_result') - Number(a.type === 'tool_result'));
    if (blocks.length === 0) continue;
    const last = messages.at(-1);
    if (last && last.role === turn.role) last.content.push(...blocks);
    else messages.push({ role: turn.role, content: blocks });
  }
  if (system.length > 0) out.system = system;
  out.messages = messages;
  if (common.stream) out.stream = true;
  let maxTokens = common.maxTokens ?? defaultMaxTokens(model);
  const budget = common.effort === undefined || common.effort === 'none' ? undefined : THINKING_BUDGET[common.effort];
  if (common.effort !== undefined && common.effort !== 'none' && budget === undefined) throw refuse('reasoning.effort', `effort ${quoteName(common.effort)} has no Anthropic thinking budget`);
  if (budget !== undefined) {
    // Thinking counts against max_tokens; leave the answer room.
    if (common.maxTokens === undefined) maxTokens = Math.max(maxTokens, budget * 2);
    else if (common.maxTokens <= budget) throw refuse('max_output_tokens', `with reasoning effort ${common.effort} Anthropic needs more than ${budget} output tokens (the thinking budget)`);
    out.thinking = { type: 'enabled', budget_tokens: budget };
    if (common.temperature !== undefined && common.temperature !== 1) throw refuse('temperature', 'Anthropic takes no temperature with thinking on');
  }
  out.max_tokens = maxTokens;
  if (common.temperature !== undefined) out.temperature = common.temperature;
  if (common.topP !== undefined) out.top_p = common.topP;
  if (common.user !== undefined) out.metadata = { user_id: common.user };
  if (common.tools) out.tools = common.tools.map((t) => ({ name: t.name, ...(t.description !== undefined ? { description: t.description } : {}), input_schema: t.parameters }));
  const noParallel = common.parallel === false && common.tools ? { disable_parallel_tool_use: true } : {};
  const choice = common.toolChoice;
  if (choice?.type === 'none') out.tool_choice = { type: 'none' };
  else if (choice?.type === 'required') out.tool_choice = { type: 'any', ...noParallel };
  else if (choice?.type === 'function') out.tool_choice = { type: 'tool', name: choice.name, ...noParallel };
  else if (common.tools && common.parallel === false) out.tool_choice = { type: 'auto', ...noParallel };
  return out;
}

const DATA_URL = /^data:([a-z]+\/[a-z0-9.+-]+);base64,/i;

function anthropicImage(url: string, at: string, refuse: Refuse): Obj {
  const data = DATA_URL.exec(url);
  if (data) return { type: 'image', source: { type: 'base64', media_type: data[1]!.toLowerCase(), data: url.slice(data[0].length) } };
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  throw refuse(at, 'an image is a base64 data URL or an http(s) URL');
}

function anthropicPdf(fileData: string, at: string, refuse: Refuse): Obj {
  const data = DATA_URL.exec(fileData);
  if (data && data[1]!.toLowerCase() === 'application/pdf') return { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: fileData.slice(data[0].length) } };
  throw refuse(at, 'only a PDF as a base64 data URL has an Anthropic form');
}

function callInput(args: string, at: string, refuse: Refuse): Obj {
  let input: unknown;
  try {
    input = args.trim() === '' ? {} : JSON.parse(args);
  } catch {
    input = undefined;
  }
  if (!isObj(input)) throw refuse(at, 'Anthropic takes tool input as a JSON object');
  return input;
}
