/**
 * What a client makes of a stream: chat chunks and Anthropic events assembled into the whole reply, as the
 * openai and @anthropic-ai/sdk packages assemble them (text joined, tool-call pieces joined by index, input
 * JSON parsed at the end). Used to check that a translated stream says what the translated whole reply says.
 */
type Obj = Record<string, unknown>;

export function sseFrames(text: string): Array<{ event: string | undefined; data: string }> {
  const out: Array<{ event: string | undefined; data: string }> = [];
  for (const raw of text.split('\n\n')) {
    if (!raw.trim()) continue;
    let event: string | undefined;
    const data: string[] = [];
    for (const line of raw.split('\n')) {
      if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    out.push({ event, data: data.join('\n') });
  }
  return out;
}

export function assembleChat(text: string): Obj {
  let base: Obj = {};
  let content: string | null = null;
  let reasoning: string | undefined;
  const calls: Obj[] = [];
  let finish: unknown = null;
  let usage: unknown;
  let done = false;
  for (const { data } of sseFrames(text)) {
    if (data === '[DONE]') {
      done = true;
      continue;
    }
    const chunk = JSON.parse(data) as Obj;
    if (chunk.error) return { error: chunk.error };
    base = { id: chunk.id, model: chunk.model, created: chunk.created };
    if (chunk.usage) usage = chunk.usage;
    for (const ch of (chunk.choices as Obj[]) ?? []) {
      const d = ch.delta as Obj;
      if (typeof d.content === 'string' && d.content !== '') content = (content ?? '') + d.content;
      if (typeof d.reasoning_content === 'string') reasoning = (reasoning ?? '') + d.reasoning_content;
      for (const tc of (d.tool_calls as Obj[]) ?? []) {
        const i = tc.index as number;
        const fn = (tc.function as Obj) ?? {};
        calls[i] ??= { id: tc.id, type: 'function', function: { name: '', arguments: '' } };
        const f = calls[i]!.function as Obj;
        if (typeof fn.name === 'string') f.name = (f.name as string) + fn.name;
        if (typeof fn.arguments === 'string') f.arguments = (f.arguments as string) + fn.arguments;
      }
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  const message: Obj = { role: 'assistant', content, refusal: null };
  if (reasoning !== undefined) message.reasoning_content = reasoning;
  if (calls.length > 0) message.tool_calls = calls;
  return { ...base, object: 'chat.completion', choices: [{ index: 0, message, logprobs: null, finish_reason: finish }], ...(usage ? { usage } : {}), done };
}

export function assembleAnthropic(text: string): Obj {
  let message: Obj = {};
  const blocks: Obj[] = [];
  const json: string[] = [];
  let stopped = false;
  for (const { event, data } of sseFrames(text)) {
    const e = JSON.parse(data) as Obj;
    if (event !== e.type) throw new Error(`event line ${event} does not match type ${String(e.type)}`);
    switch (e.type) {
      case 'message_start':
        message = structuredClone(e.message as Obj);
        break;
      case 'content_block_start': {
        const i = e.index as number;
        if (i !== blocks.length) throw new Error(`block ${i} started out of order`);
        blocks.push(structuredClone(e.content_block as Obj));
        json.push('');
        break;
      }
      case 'content_block_delta': {
        const i = e.index as number;
        if (i !== blocks.length - 1) throw new Error(`delta for block ${i} while ${blocks.length - 1} is open`);
        const d = e.delta as Obj;
        if (d.type === 'text_delta') blocks[i]!.text = (blocks[i]!.text as string) + (d.text as string);
        else if (d.type === 'input_json_delta') json[i] += d.partial_json as string;
        break;
      }
      case 'content_block_stop': {
        const i = e.index as number;
        if (blocks[i]!.type === 'tool_use') blocks[i]!.input = json[i] === '' ? {} : JSON.parse(json[i]!);
        break;
      }
      case 'message_delta':
        Object.assign(message, e.delta);
        message.usage = { ...(message.usage as Obj), ...(e.usage as Obj) };
        break;
      case 'message_stop':
        stopped = true;
        break;
      case 'error':
        return { error: e.error };
    }
  }
  return { ...message, content: blocks, stopped };
}
