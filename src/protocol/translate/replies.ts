import { anthropicErrorType, FINISH_FROM_STOP, isObj, nowSeconds, STOP_FROM_FINISH, UntranslatableReply, type Obj, type TranslateOptions } from './types.js';

/**
 * Anthropic usage in OpenAI chat's terms: OpenAI counts cache reads and writes inside prompt_tokens and names
 * the reads cached_tokens; Anthropic's input_tokens is only what came after the last cache breakpoint.
 */
export function chatUsageFromAnthropic(u: Obj): Obj {
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const read = num(u.cache_read_input_tokens);
  const prompt = num(u.input_tokens) + read + num(u.cache_creation_input_tokens);
  const completion = num(u.output_tokens);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: { cached_tokens: read } };
}

/** OpenAI chat usage in Anthropic's terms: cached tokens are cache reads, the rest of the prompt is input. */
export function anthropicUsageFromChat(u: Obj): Obj {
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const details = isObj(u.prompt_tokens_details) ? u.prompt_tokens_details : {};
  const cached = num(details.cached_tokens);
  return { input_tokens: Math.max(0, num(u.prompt_tokens) - cached), output_tokens: num(u.completion_tokens), cache_read_input_tokens: cached, cache_creation_input_tokens: 0 };
}

export const finishFromStop = (stop: unknown): string | null => (typeof stop === 'string' ? (FINISH_FROM_STOP[stop] ?? 'stop') : null);
export const stopFromFinish = (finish: unknown): string | null => (typeof finish === 'string' ? (STOP_FROM_FINISH[finish] ?? 'end_turn') : null);

/** A whole Anthropic message as an OpenAI chat.completion. */
export function messagesToChatReply(msg: Obj, opts: TranslateOptions = {}): Obj {
  let text: string | null = null;
  let reasoning: string | undefined;
  const calls: Obj[] = [];
  for (const block of Array.isArray(msg.content) ? msg.content : []) {
    if (!isObj(block)) continue;
    if (block.type === 'text') text = (text ?? '') + String(block.text ?? '');
    else if (block.type === 'tool_use') calls.push({ id: block.id, type: 'function', function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } });
    // Thinking is read as OpenAI-compatible servers send reasoning; its signature has no place and no use there.
    else if (block.type === 'thinking') reasoning = (reasoning ?? '') + String(block.thinking ?? '');
    else if (block.type !== 'redacted_thinking') throw new UntranslatableReply('the reply holds a content block of a type that has no OpenAI chat form');
  }
  const message: Obj = { role: 'assistant', content: text, refusal: null };
  if (reasoning !== undefined) message.reasoning_content = reasoning;
  if (calls.length > 0) message.tool_calls = calls;
  return {
    id: msg.id,
    object: 'chat.completion',
    created: (opts.now ?? nowSeconds)(),
    model: msg.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishFromStop(msg.stop_reason) }],
    ...(isObj(msg.usage) ? { usage: chatUsageFromAnthropic(msg.usage) } : {}),
  };
}

/** A whole OpenAI chat.completion as an Anthropic message. */
export function chatToMessagesReply(reply: Obj): Obj {
  const choice = Array.isArray(reply.choices) && isObj(reply.choices[0]) ? reply.choices[0] : {};
  const m = isObj(choice.message) ? choice.message : {};
  const content: Obj[] = [];
  const text = typeof m.content === 'string' ? m.content : '';
  if (text !== '') content.push({ type: 'text', text });
  if (typeof m.refusal === 'string' && m.refusal !== '') content.push({ type: 'text', text: m.refusal });
  for (const tc of Array.isArray(m.tool_calls) ? m.tool_calls : []) {
    if (!isObj(tc) || !isObj(tc.function)) continue;
    content.push({ type: 'tool_use', id: tc.id, name: tc.function.name, input: toolInput(tc.function.arguments) });
  }
  return {
    id: reply.id,
    type: 'message',
    role: 'assistant',
    model: reply.model,
    content,
    stop_reason: stopFromFinish(choice.finish_reason),
    stop_sequence: null,
    usage: isObj(reply.usage) ? anthropicUsageFromChat(reply.usage) : { input_tokens: 0, output_tokens: 0 },
  };
}

/** A call's arguments as Anthropic's input object. A model that wrote arguments that are not a JSON object made a call no Anthropic client can run. */
export function toolInput(args: unknown): Obj {
  let input: unknown;
  try {
    input = typeof args === 'string' ? (args.trim() === '' ? {} : JSON.parse(args)) : args;
  } catch {
    input = undefined;
  }
  if (!isObj(input)) throw new UntranslatableReply('the model called a tool with arguments that are not a JSON object');
  return input;
}

/** An Anthropic error body ({type: 'error', error: {type, message}}) as OpenAI's ({error: {message, type, code, param}}). */
export function chatErrorFromAnthropic(body: Obj): Obj {
  const e = isObj(body.error) ? body.error : {};
  const type = typeof e.type === 'string' ? e.type : 'api_error';
  return { error: { message: typeof e.message === 'string' ? e.message : 'upstream error', type, code: type, param: null } };
}

/** An OpenAI error body as Anthropic's, typed by the status as Anthropic would type it. */
export function anthropicErrorFromChat(body: Obj, status: number): Obj {
  const e = isObj(body.error) ? body.error : {};
  return { type: 'error', error: { type: anthropicErrorType(status), message: typeof e.message === 'string' ? e.message : typeof body.message === 'string' ? body.message : 'upstream error' } };
}
