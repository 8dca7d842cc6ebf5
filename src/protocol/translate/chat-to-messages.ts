import { isObj, quoteName, untranslatable, type Obj } from './types.js';

/**
 * Anthropic requires `max_tokens`; OpenAI chat does not. A request that names none gets the most its model is
 * known to take, so a long edit is not cut at an arbitrary 4096 (Aider through an OpenAI-compatible client
 * sends none): 16384 for Claude 3.7 and every later model (all take at least 32000; 16384 also stays under
 * what Anthropic's SDKs allow without streaming), 8192 for 3.5, and 4096, which every Claude model accepts,
 * for any other name (docs/configuration.md says so).
 */
export const DEFAULT_MAX_TOKENS = 4096;

export function defaultMaxTokens(model: string): number {
  const m = model.toLowerCase();
  if (/claude-3[-.]7|claude-(?:sonnet|opus|haiku)-[4-9]|claude-[4-9]/.test(m)) return 16384;
  if (/claude-3[-.]5/.test(m)) return 8192;
  return DEFAULT_MAX_TOKENS;
}

const refuse = (field: string, why: string) => untranslatable(field, 'messages', why);

/** Members that need no translation beyond what the loop below does with each. */
type Handler = (value: unknown, out: Obj, body: Obj) => void;

/** Members whose default value (what the client would get without sending them) is accepted and left out. */
const DEFAULTS_OK: Readonly<Record<string, (v: unknown) => boolean>> = {
  n: (v) => v === 1 || v === null,
  presence_penalty: (v) => v === 0 || v === null,
  frequency_penalty: (v) => v === 0 || v === null,
  logprobs: (v) => v === false || v === null,
  store: (v) => v === false || v === null,
  modalities: (v) => v === null || (Array.isArray(v) && v.length === 1 && v[0] === 'text'),
  service_tier: (v) => v === 'auto' || v === null,
  response_format: (v) => v === null || (isObj(v) && v.type === 'text'),
  // Only meaningful with tools; `true` is the default, `false` becomes disable_parallel_tool_use below.
  parallel_tool_calls: (v) => typeof v === 'boolean' || v === null,
  stream_options: (v) => v === null || isObj(v),
};

const HANDLERS: Readonly<Record<string, Handler>> = {
  model: () => undefined,
  messages: () => undefined,
  stream: (v, out) => {
    if (v === true) out.stream = true;
  },
  max_tokens: (v, out) => setMaxTokens(v, out, 'max_tokens'),
  max_completion_tokens: (v, out) => setMaxTokens(v, out, 'max_completion_tokens'),
  temperature: (v, out) => {
    if (v === null) return;
    if (typeof v === 'number' && v > 1) throw refuse('temperature', 'Anthropic takes a temperature from 0 to 1');
    out.temperature = v;
  },
  top_p: (v, out) => {
    if (v !== null) out.top_p = v;
  },
  stop: (v, out) => {
    if (v === null) return;
    out.stop_sequences = typeof v === 'string' ? [v] : v;
  },
  user: (v, out) => {
    if (typeof v === 'string') out.metadata = { user_id: v };
  },
  tools: (v, out) => {
    if (v === null) return;
    if (!Array.isArray(v)) throw refuse('tools', 'must be an array');
    out.tools = v.map((t, i) => tool(t, `tools[${i}]`));
  },
  tool_choice: () => undefined,
};

function setMaxTokens(v: unknown, out: Obj, field: string): void {
  if (v === null || v === undefined) return;
  if (typeof v !== 'number') throw refuse(field, 'must be a number');
  out.max_tokens = v;
}

function tool(t: unknown, at: string): Obj {
  if (!isObj(t) || t.type !== 'function' || !isObj(t.function)) throw refuse(`${at}.type`, 'only function tools have an Anthropic form');
  const f = t.function;
  if (f.strict === true) throw refuse(`${at}.function.strict`, 'Anthropic tools have no strict schema mode');
  for (const k of Object.keys(f)) if (!['name', 'description', 'parameters', 'strict'].includes(k)) throw refuse(`${at}.function.${k}`, 'no Anthropic tool member says this');
  return {
    name: f.name,
    ...(typeof f.description === 'string' ? { description: f.description } : {}),
    input_schema: isObj(f.parameters) ? f.parameters : { type: 'object', properties: {} },
  };
}

function toolChoice(v: unknown, parallel: unknown): Obj | undefined {
  const noParallel = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (v === undefined || v === null) return parallel === false ? { type: 'auto', ...noParallel } : undefined;
  if (v === 'auto') return { type: 'auto', ...noParallel };
  if (v === 'required') return { type: 'any', ...noParallel };
  if (v === 'none') return { type: 'none' };
  if (isObj(v) && v.type === 'function' && isObj(v.function) && typeof v.function.name === 'string') return { type: 'tool', name: v.function.name, ...noParallel };
  throw refuse('tool_choice', 'only auto, none, required and one named function have an Anthropic form');
}

/**
 * An OpenAI Chat Completions request as an Anthropic Messages request for `model`. System and developer
 * messages, wherever they stand, become the system prompt in their order (Anthropic has one system prompt);
 * `tool` messages become tool_result blocks of a user turn, and consecutive turns of one role are merged
 * (tool results of parallel calls must be one user turn). Whatever has no Anthropic form is refused by name.
 */
export function chatToMessagesRequest(body: Obj, model: string): Obj {
  const out: Obj = { model };
  for (const [key, value] of Object.entries(body)) {
    const handler = HANDLERS[key];
    if (handler) handler(value, out, body);
    else if (DEFAULTS_OK[key]?.(value)) continue;
    else throw refuse(key, 'the Anthropic Messages API has no such member');
  }
  out.max_tokens ??= defaultMaxTokens(model);
  const choice = toolChoice(body.tool_choice, body.parallel_tool_calls);
  if (choice) out.tool_choice = choice;
  const { system, messages } = translateMessages(body.messages);
  if (system.length > 0) out.system = system;
  out.messages = messages;
  return out;
}

interface Turn {
  role: 'user' | 'assistant';
  content: Obj[];
}

function translateMessages(list: unknown): { system: Obj[]; messages: Turn[] } {
  if (!Array.isArray(list)) throw refuse('messages', 'must be an array');
  const system: Obj[] = [];
  const turns: Turn[] = [];
  const push = (role: Turn['role'], blocks: Obj[]) => {
    const last = turns.at(-1);
    if (last && last.role === role) last.content.push(...blocks);
    else turns.push({ role, content: blocks });
  };
  list.forEach((m, i) => {
    const at = `messages[${i}]`;
    if (!isObj(m)) throw refuse(at, 'must be an object');
    for (const k of Object.keys(m)) if (!MESSAGE_MEMBERS.has(k)) throw refuse(`${at}.${k}`, 'no Anthropic message member says this');
    switch (m.role) {
      case 'system':
      case 'developer':
        system.push(...textOnly(m.content, `${at}.content`));
        return;
      case 'user':
        return push('user', userContent(m.content, `${at}.content`));
      case 'assistant': {
        if (m.function_call !== undefined && m.function_call !== null) throw refuse(`${at}.function_call`, 'send tool_calls instead');
        const blocks = m.content === null || m.content === undefined ? [] : assistantContent(m.content, `${at}.content`);
        if (m.refusal !== undefined && m.refusal !== null && typeof m.refusal === 'string' && m.refusal !== '') blocks.push({ type: 'text', text: m.refusal });
        if (m.tool_calls !== undefined && m.tool_calls !== null) {
          if (!Array.isArray(m.tool_calls)) throw refuse(`${at}.tool_calls`, 'must be an array');
          m.tool_calls.forEach((tc, j) => blocks.push(toolUse(tc, `${at}.tool_calls[${j}]`)));
        }
        return push('assistant', blocks);
      }
      case 'tool': {
        if (typeof m.tool_call_id !== 'string') throw refuse(`${at}.tool_call_id`, 'a tool result needs the id of its call');
        const content = typeof m.content === 'string' ? m.content : textOnly(m.content, `${at}.content`);
        return push('user', [{ type: 'tool_result', tool_use_id: m.tool_call_id, content }]);
      }
      default:
        throw refuse(`${at}.role`, `role ${quoteName(m.role)} has no Anthropic form`);
    }
  });
  return { system, messages: turns };
}

const MESSAGE_MEMBERS = new Set(['role', 'content', 'tool_calls', 'tool_call_id', 'function_call', 'refusal']);

function textOnly(content: unknown, at: string): Obj[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  if (!Array.isArray(content)) throw refuse(at, 'must be a string or an array of parts');
  return content.map((p, j) => {
    if (isObj(p) && p.type === 'text' && typeof p.text === 'string') return { type: 'text', text: p.text };
    throw refuse(`${at}[${j}]`, 'only text parts have an Anthropic form here');
  });
}

function userContent(content: unknown, at: string): Obj[] {
  // Anthropic refuses an empty text block; an empty string says nothing, so it is not sent.
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  if (!Array.isArray(content)) throw refuse(at, 'must be a string or an array of parts');
  return content.flatMap((p, j): Obj[] => {
    const here = `${at}[${j}]`;
    if (!isObj(p)) throw refuse(here, 'must be an object');
    if (p.type === 'text' && typeof p.text === 'string') return p.text === '' ? [] : [{ type: 'text', text: p.text }];
    if (p.type === 'image_url' && isObj(p.image_url) && typeof p.image_url.url === 'string') return [image(p.image_url.url, `${here}.image_url.url`)];
    if (p.type === 'file' && isObj(p.file) && typeof p.file.file_data === 'string') return [pdf(p.file.file_data, `${here}.file.file_data`)];
    throw refuse(`${here}.type`, `a ${quoteName(p.type)} part has no Anthropic form`);
  });
}

const DATA_URL = /^data:([a-z]+\/[a-z0-9.+-]+);base64,/i;

function image(url: string, at: string): Obj {
  const data = DATA_URL.exec(url);
  if (data) return { type: 'image', source: { type: 'base64', media_type: data[1]!.toLowerCase(), data: url.slice(data[0].length) } };
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  throw refuse(at, 'an image is a base64 data URL or an http(s) URL');
}

function pdf(fileData: string, at: string): Obj {
  const data = DATA_URL.exec(fileData);
  if (data && data[1]!.toLowerCase() === 'application/pdf') return { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: fileData.slice(data[0].length) } };
  throw refuse(at, 'only a PDF as a base64 data URL has an Anthropic form');
}

function assistantContent(content: unknown, at: string): Obj[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  if (!Array.isArray(content)) throw refuse(at, 'must be a string or an array of parts');
  return content.map((p, j) => {
    if (isObj(p) && (p.type === 'text' || p.type === 'refusal')) {
      const text = p.type === 'text' ? p.text : p.refusal;
      if (typeof text === 'string') return { type: 'text', text };
    }
    throw refuse(`${at}[${j}]`, 'only text and refusal parts have an Anthropic form');
  });
}

function toolUse(tc: unknown, at: string): Obj {
  if (!isObj(tc) || tc.type !== 'function' || !isObj(tc.function)) throw refuse(`${at}.type`, 'only function calls have an Anthropic form');
  if (typeof tc.id !== 'string') throw refuse(`${at}.id`, 'a tool call needs its id');
  const args = tc.function.arguments;
  let input: unknown;
  try {
    input = typeof args === 'string' ? (args.trim() === '' ? {} : JSON.parse(args)) : undefined;
  } catch {
    input = undefined;
  }
  // Anthropic's tool input is a JSON object; arguments that are not one cannot be carried over as sent.
  if (!isObj(input)) throw refuse(`${at}.function.arguments`, 'Anthropic takes tool input as a JSON object');
  return { type: 'tool_use', id: tc.id, name: tc.function.name, input };
}
