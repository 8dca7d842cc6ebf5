import { createHash } from 'node:crypto';
import { isObj, type Obj } from './types.js';

/**
 * Tool names between a Responses client and a target that has no namespaces. Codex sends some of its tools
 * bundled as `{type: "namespace", name, description, tools: [function tools]}` and expects a call to one of
 * them back as a `function_call` item carrying both `name` (the function's own) and `namespace`, and sends
 * such items again in the next request's `input` (openai/codex, codex-rs/tools/src/responses_api.rs for the
 * tool, codex-rs/protocol/src/models.rs `ResponseItem::FunctionCall` for the item).
 *
 * A chat or Anthropic target sees each namespaced function as one flat function tool. The flat name is
 * `namespace__name` (the join Codex itself uses when a boundary cannot keep the split) made to fit the
 * target's name rule; when that is taken (by a plain tool, or by another pair that made the same name), does
 * not fit, or had to be changed, the name ends with a hash of the pair instead. The mapping is made from the
 * client's request alone (its tools, then the calls in its input), so the request and its reply, whole or
 * streamed, make the same one, and a name read back from the target is looked up, never parsed.
 */

/** A tool as the client knows it. */
export interface ToolName {
  name: string;
  namespace?: string;
}

export interface ToolNames {
  /** The target's name for a client tool (plain names are kept as they are). */
  flat(t: ToolName): string;
  /** The client's tool for a name the target used; a name this request did not make is a plain name. */
  original(flat: string): ToolName;
}

type Target = 'chat' | 'messages';

/** Longest tool name each target takes; both take only [A-Za-z0-9_-]. */
export const NAME_LIMIT: Readonly<Record<Target, number>> = { chat: 64, messages: 128 };
const NAME_OK = /^[A-Za-z0-9_-]+$/;
const HASH_LENGTH = 10;

const key = (t: ToolName) => JSON.stringify(t.namespace === undefined ? [t.name] : [t.namespace, t.name]);

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, HASH_LENGTH);
}

/** The mapping for one request: the plain names first (they are sent as they are), then each namespaced pair in order. */
export function buildToolNames(pairs: Iterable<ToolName>, target: Target): ToolNames {
  const limit = NAME_LIMIT[target];
  const all = [...pairs];
  const byKey = new Map<string, string>();
  const byFlat = new Map<string, ToolName>();
  for (const t of all) {
    if (t.namespace !== undefined || byKey.has(key(t))) continue;
    byKey.set(key(t), t.name);
    byFlat.set(t.name, { name: t.name });
  }
  const assign = (t: ToolName & { namespace: string }): string => {
    const joined = `${t.namespace.replace(/_+$/, '')}__${t.name.replace(/^_+/, '')}`;
    const fitted = joined.replace(/[^A-Za-z0-9_-]/g, '_');
    if (fitted === joined && fitted.length <= limit && NAME_OK.test(fitted) && !byFlat.has(fitted)) return fitted;
    // Marked with the hash of the pair itself, so two pairs that fit to the same text still differ.
    const stem = fitted.slice(0, limit - HASH_LENGTH - 1);
    for (let n = 0; ; n++) {
      const made = `${stem}_${hash(n === 0 ? key(t) : `${key(t)}#${n}`)}`;
      if (!byFlat.has(made)) return made;
    }
  };
  for (const t of all) {
    if (t.namespace === undefined || byKey.has(key(t))) continue;
    const pair = { name: t.name, namespace: t.namespace };
    const flat = assign(pair);
    byKey.set(key(pair), flat);
    byFlat.set(flat, pair);
  }
  return {
    flat: (t) => byKey.get(key(t)) ?? t.name,
    original: (flat) => byFlat.get(flat) ?? { name: flat },
  };
}

/**
 * Every tool name a Responses request uses: its function tools, the functions of its namespaces, and the calls
 * in its input (a call to a tool no longer offered is still in the conversation). Lenient: what is malformed
 * here is refused by the request's reading, and adds nothing.
 */
export function requestToolNames(body: Obj): ToolName[] {
  const out: ToolName[] = [];
  const tools = Array.isArray(body.tools) ? body.tools : [];
  for (const t of tools) {
    if (!isObj(t)) continue;
    if (t.type === 'function' && typeof t.name === 'string') out.push({ name: t.name });
    if (t.type === 'namespace' && typeof t.name === 'string' && Array.isArray(t.tools)) {
      for (const f of t.tools) if (isObj(f) && typeof f.name === 'string') out.push({ name: f.name, namespace: t.name });
    }
  }
  const input = Array.isArray(body.input) ? body.input : [];
  for (const item of input) {
    if (!isObj(item) || item.type !== 'function_call' || typeof item.name !== 'string') continue;
    out.push(typeof item.namespace === 'string' ? { name: item.name, namespace: item.namespace } : { name: item.name });
  }
  return out;
}

/** The mapping a Responses request makes for a target. */
export function toolNamesFor(body: Obj, target: Target): ToolNames {
  return buildToolNames(requestToolNames(body), target);
}
