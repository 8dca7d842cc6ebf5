import { ReplyTextScope, toolScope } from '../../policy/restore-scope.js';
import type { Family } from '../../providers/targets.js';
import { JsonRestorer, restoreText, restoreValue, type Restore } from '../../stream/restore.js';

type Obj = Record<string, unknown>;

/**
 * The restore stage for a reply read whole: the same restorers and scopes as a streamed reply (stream/restore.ts),
 * applied to the parts of the body that carry the reply's text and its tool calls. Parts are replaced, never
 * changed in place, so a view of the reply taken before (the captured completion) keeps its placeholders.
 * Returns true when a value was restored (the body must then be serialised again).
 */
export function restoreReply(family: Family, body: Obj, restore: Restore): boolean {
  const before = restore.ledger.restoredCount;
  if (family === 'chat') {
    for (const choice of list(body.choices)) {
      const m = choice.message;
      if (!isObj(m)) continue;
      if (typeof m.content === 'string') m.content = restoreText(m.content, restore, new ReplyTextScope());
      for (const call of list(m.tool_calls)) if (isObj(call.function)) restoreArguments(call.function, restore);
      if (isObj(m.function_call)) restoreArguments(m.function_call, restore);
    }
  } else if (family === 'messages') {
    for (const block of list(body.content)) {
      if (block.type === 'text' && typeof block.text === 'string') block.text = restoreText(block.text, restore, new ReplyTextScope());
      else if (block.type === 'tool_use' && block.input !== undefined) block.input = restoreValue(block.input, restore, toolScope(nameOf(block)));
    }
  } else if (family === 'responses') {
    for (const item of list(body.output)) {
      if (item.type === 'message') {
        for (const part of list(item.content)) if (part.type === 'output_text' && typeof part.text === 'string') part.text = restoreText(part.text, restore, new ReplyTextScope());
      } else if (item.type === 'function_call') restoreArguments(item, restore);
      else if (item.type === 'custom_tool_call' && typeof item.input === 'string') item.input = restoreText(item.input, restore, toolScope(nameOf(item)).text());
      else if (item.type === 'apply_patch_call' && isObj(item.operation) && typeof item.operation.diff === 'string') {
        item.operation = { ...item.operation, diff: restoreText(item.operation.diff, restore, toolScope('apply_patch_call').field(['operation', 'diff'])) };
      }
    }
  }
  return restore.ledger.restoredCount > before;
}

/** A call's `arguments` (JSON in a string) through the streamed path's restorer, replaced only when something was restored. */
function restoreArguments(holder: Obj, restore: Restore): void {
  if (typeof holder.arguments !== 'string' || !isJson(holder.arguments)) return;
  const before = restore.ledger.restoredCount;
  const r = new JsonRestorer(restore, toolScope(nameOf(holder)));
  const out = r.push(holder.arguments) + r.flush();
  if (restore.ledger.restoredCount > before) holder.arguments = out;
}

/** Arguments that are not JSON could be read one way here and another by the client: nothing is restored in them. */
function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function nameOf(o: Obj): string | undefined {
  return typeof o.name === 'string' ? o.name : undefined;
}

function list(v: unknown): Obj[] {
  return Array.isArray(v) ? v.filter(isObj) : [];
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
