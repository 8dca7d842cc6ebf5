import { isObj, quoteName, untranslatable, type Obj } from './types.js';

const refuse = (field: string, why: string) => untranslatable(field, 'chat', why);

/** How the target names the output limit: OpenAI's own API wants max_completion_tokens (o-series refuse max_tokens); compatible servers know max_tokens. */
export interface MessagesToChatOptions {
  maxTokensField?: 'max_tokens' | 'max_completion_tokens';
}

/** OpenAI takes at most four stop sequences. */
const MAX_STOP = 4;

/**
 * An Anthropic Messages request as an OpenAI Chat Completions request for `model`. The system prompt is the
 * first message; a user turn's tool_result blocks become `tool` messages (placed first, as OpenAI needs them
 * right after the assistant's calls) and its other blocks a user message after them. `cache_control` is a
 * caching hint OpenAI-format servers do not take (they cache on their own), and is left out; so are
 * `anthropic-beta` headers (see the gateway). Everything else without an OpenAI form is refused by name.
 */
export function messagesToChatRequest(body: Obj, model: string, opts: MessagesToChatOptions = {}): Obj {
  const out: Obj = { model };
  const messages: Obj[] = [];
  for (const [key, v] of Object.entries(body)) {
    switch (key) {
      case 'model':
      case 'messages':
      case 'system':
      case 'tool_choice':
        break;
      case 'max_tokens':
        if (typeof v !== 'number') throw refuse('max_tokens', 'must be a number');
        out[opts.maxTokensField ?? 'max_tokens'] = v;
        break;
      case 'stream':
        if (v === true) {
          out.stream = true;
          // Anthropic streams always carry usage; OpenAI's only when asked.
          out.stream_options = { include_usage: true };
        }
        break;
      case 'temperature':
      case 'top_p':
        if (v !== null) out[key] = v;
        break;
      case 'stop_sequences':
        if (!Array.isArray(v)) throw refuse(key, 'must be an array');
        if (v.length > MAX_STOP) throw refuse(key, `OpenAI takes at most ${MAX_STOP} stop sequences`);
        if (v.length > 0) out.stop = v;
        break;
      case 'metadata':
        if (!isObj(v)) throw refuse(key, 'must be an object');
        for (const k of Object.keys(v)) if (k !== 'user_id') throw refuse(`metadata.${k}`, 'only user_id has an OpenAI form (user)');
        if (typeof v.user_id === 'string') out.user = v.user_id;
        break;
      case 'tools':
        if (!Array.isArray(v)) throw refuse(key, 'must be an array');
        // OpenAI refuses an empty tools array; no tools is what it means.
        if (v.length > 0) out.tools = v.map((t, i) => tool(t, `tools[${i}]`));
        break;
      case 'thinking':
        thinking(v, out);
        break;
      case 'output_config':
        outputConfig(v, out);
        break;
      case 'context_management':
        contextManagement(v);
        break;
      case 'service_tier':
        if (v === 'auto') break;
        throw refuse(key, 'only auto has an OpenAI form');
      default:
        throw refuse(key, 'the OpenAI Chat Completions API has no such member');
    }
  }
  const choice = toolChoice(body.tool_choice, out.tools !== undefined);
  Object.assign(out, choice);
  if (body.system !== undefined) {
    const text = systemText(body.system);
    if (text !== '') messages.push({ role: 'system', content: text });
  }
  if (!Array.isArray(body.messages)) throw refuse('messages', 'must be an array');
  body.messages.forEach((m, i) => messages.push(...turn(m, `messages[${i}]`)));
  out.messages = messages;
  return out;
}

/** How long a thinking budget is, as the reasoning effort OpenAI-format reasoning models take. */
function effortForBudget(budget: number): string {
  if (budget < 4096) return 'low';
  if (budget < 16384) return 'medium';
  return 'high';
}

/**
 * `enabled` with a budget asks for that much reasoning: the nearest reasoning_effort says so. `adaptive` leaves
 * it to the model, which is what an OpenAI-format model does without being told; `disabled` asks for none,
 * which a reasoning model cannot promise and a plain one does anyway.
 */
function thinking(v: unknown, out: Obj): void {
  if (!isObj(v)) throw refuse('thinking', 'must be an object');
  if (v.type === 'disabled' || v.type === 'adaptive') return;
  if (v.type === 'enabled' && typeof v.budget_tokens === 'number') {
    out.reasoning_effort ??= effortForBudget(v.budget_tokens);
    return;
  }
  throw refuse('thinking.type', `${quoteName(v.type)} has no OpenAI chat form`);
}

const EFFORTS = new Set(['low', 'medium', 'high']);

/** `effort` is reasoning_effort by another name; `format` a JSON schema the reply must follow (response_format). */
function outputConfig(v: unknown, out: Obj): void {
  if (!isObj(v)) throw refuse('output_config', 'must be an object');
  for (const [k, x] of Object.entries(v)) {
    if (k === 'effort') {
      if (typeof x !== 'string' || !EFFORTS.has(x)) throw refuse('output_config.effort', 'only low, medium and high have an OpenAI form');
      out.reasoning_effort = x;
    } else if (k === 'format') {
      if (!isObj(x) || x.type !== 'json_schema' || !isObj(x.schema)) throw refuse('output_config.format', 'only a json_schema format has an OpenAI form');
      out.response_format = { type: 'json_schema', json_schema: { name: 'output', schema: x.schema } };
    } else throw refuse(`output_config.${k}`, 'no OpenAI member says this');
  }
}

/**
 * Context editing asks Anthropic to drop parts of the conversation before the model reads it. Clearing thinking
 * blocks is the one edit that changes nothing here: a conversation with an OpenAI-format model has none (they
 * cannot be sent, see assistantTurn). Any other edit would change what the model reads, and is refused.
 */
function contextManagement(v: unknown): void {
  const edits = isObj(v) ? v.edits : undefined;
  if (!isObj(v) || !Array.isArray(edits)) throw refuse('context_management', 'must be an object with edits');
  for (const k of Object.keys(v)) if (k !== 'edits') throw refuse(`context_management.${k}`, 'no OpenAI member says this');
  edits.forEach((e, i) => {
    if (!isObj(e) || typeof e.type !== 'string' || !e.type.startsWith('clear_thinking_')) {
      throw refuse(`context_management.edits[${i}].type`, 'only clearing thinking blocks is possible, as there are none');
    }
  });
}

function systemText(system: unknown): string {
  if (typeof system === 'string') return system;
  if (!Array.isArray(system)) throw refuse('system', 'must be a string or an array of text blocks');
  return systemBlocks(system, 'system');
}

function systemBlocks(blocks: unknown[], at: string): string {
  return blocks
    .map((b, i) => {
      if (isObj(b) && b.type === 'text' && typeof b.text === 'string') return b.text;
      throw refuse(`${at}[${i}]`, 'only text blocks have an OpenAI form');
    })
    .join('\n\n');
}

function tool(t: unknown, at: string): Obj {
  if (!isObj(t)) throw refuse(at, 'must be an object');
  // Server tools (bash_20250124, web_search_20250305, …) are Anthropic's to run; an OpenAI-format model has none.
  if (t.type !== undefined && t.type !== 'custom') throw refuse(`${at}.type`, `the Anthropic server tool ${quoteName(t.type)} has no OpenAI form`);
  // cache_control and defer_loading are hints on how to hold the definition (a cache, a tool search); the tool is the same without them.
  for (const k of Object.keys(t)) if (!['type', 'name', 'description', 'input_schema', 'cache_control', 'defer_loading'].includes(k)) throw refuse(`${at}.${k}`, 'no OpenAI tool member says this');
  return {
    type: 'function',
    function: { name: t.name, ...(typeof t.description === 'string' ? { description: t.description } : {}), parameters: t.input_schema ?? { type: 'object', properties: {} } },
  };
}

function toolChoice(v: unknown, hasTools: boolean): Obj {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw refuse('tool_choice', 'must be an object');
  // OpenAI refuses a tool_choice without tools; with none offered, no call can be made either way.
  if (!hasTools) return {};
  const parallel = v.disable_parallel_tool_use === true && hasTools ? { parallel_tool_calls: false } : {};
  switch (v.type) {
    case 'auto':
      return { tool_choice: 'auto', ...parallel };
    case 'any':
      return { tool_choice: 'required', ...parallel };
    case 'none':
      return { tool_choice: 'none' };
    case 'tool':
      if (typeof v.name !== 'string') throw refuse('tool_choice.name', 'must be a string');
      return { tool_choice: { type: 'function', function: { name: v.name } }, ...parallel };
    default:
      throw refuse('tool_choice.type', `${quoteName(v.type)} has no OpenAI form`);
  }
}

function turn(m: unknown, at: string): Obj[] {
  if (!isObj(m)) throw refuse(at, 'must be an object');
  for (const k of Object.keys(m)) if (k !== 'role' && k !== 'content') throw refuse(`${at}.${k}`, 'no OpenAI message member says this');
  const blocks: unknown[] = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : Array.isArray(m.content) ? m.content : [];
  if (typeof m.content !== 'string' && !Array.isArray(m.content)) throw refuse(`${at}.content`, 'must be a string or an array of blocks');
  if (m.role === 'user') return userTurn(blocks, `${at}.content`);
  // Claude Code puts system messages among the turns (its mid-conversation-system beta); OpenAI chat takes them there too.
  if (m.role === 'system') return [{ role: 'system', content: typeof m.content === 'string' ? m.content : systemBlocks(blocks, `${at}.content`) }];
  if (m.role === 'assistant') return [assistantTurn(blocks, `${at}.content`)];
  throw refuse(`${at}.role`, `role ${quoteName(m.role)} has no OpenAI form`);
}

function userTurn(blocks: unknown[], at: string): Obj[] {
  const tools: Obj[] = [];
  const parts: Obj[] = [];
  blocks.forEach((b, j) => {
    const here = `${at}[${j}]`;
    if (!isObj(b)) throw refuse(here, 'must be an object');
    if (b.type === 'tool_result') {
      if (typeof b.tool_use_id !== 'string') throw refuse(`${here}.tool_use_id`, 'must be a string');
      // is_error has no OpenAI member: the result's text is what the model reads either way.
      tools.push({ role: 'tool', tool_call_id: b.tool_use_id, content: toolResultContent(b.content, `${here}.content`) });
      return;
    }
    parts.push(userPart(b, here));
  });
  const out = [...tools];
  if (parts.length > 0) out.push({ role: 'user', content: parts.length === 1 && parts[0]!.type === 'text' ? parts[0]!.text : parts });
  return out;
}

function toolResultContent(content: unknown, at: string): string | Obj[] {
  if (content === undefined) return '';
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw refuse(at, 'must be a string or an array of blocks');
  return content.map((b, k) => {
    if (isObj(b) && b.type === 'text' && typeof b.text === 'string') return { type: 'text', text: b.text };
    throw refuse(`${at}[${k}]`, 'an OpenAI tool message holds text only');
  });
}

function userPart(b: Obj, at: string): Obj {
  switch (b.type) {
    case 'text':
      if (typeof b.text !== 'string') throw refuse(`${at}.text`, 'must be a string');
      return { type: 'text', text: b.text };
    case 'image': {
      const s = b.source;
      if (isObj(s) && s.type === 'base64' && typeof s.media_type === 'string' && typeof s.data === 'string') {
        return { type: 'image_url', image_url: { url: `data:${s.media_type};base64,${s.data}` } };
      }
      if (isObj(s) && s.type === 'url' && typeof s.url === 'string') return { type: 'image_url', image_url: { url: s.url } };
      throw refuse(`${at}.source`, 'only base64 and URL images have an OpenAI form');
    }
    case 'document': {
      const s = b.source;
      if (isObj(s) && s.type === 'base64' && s.media_type === 'application/pdf' && typeof s.data === 'string') {
        return { type: 'file', file: { filename: 'document.pdf', file_data: `data:application/pdf;base64,${s.data}` } };
      }
      throw refuse(`${at}.source`, 'only a base64 PDF document has an OpenAI form');
    }
    default:
      throw refuse(`${at}.type`, `a ${quoteName(b.type)} block has no OpenAI form`);
  }
}

function assistantTurn(blocks: unknown[], at: string): Obj {
  let text = '';
  const calls: Obj[] = [];
  blocks.forEach((b, j) => {
    const here = `${at}[${j}]`;
    if (isObj(b) && b.type === 'text' && typeof b.text === 'string') text += b.text;
    else if (isObj(b) && b.type === 'tool_use' && typeof b.id === 'string' && typeof b.name === 'string') {
      calls.push({ id: b.id, type: 'function', function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) } });
    } else throw refuse(`${here}.type`, `a ${JSON.stringify(isObj(b) ? b.type : b)} block has no OpenAI form`);
  });
  return { role: 'assistant', content: text === '' && calls.length > 0 ? null : text, ...(calls.length > 0 ? { tool_calls: calls } : {}) };
}
