/**
 * The frame most of an Anthropic stream is made of, read without JSON.parse:
 *
 *   {"type":"content_block_delta","index":N,"delta":{"type":"text_delta","text":"…"}}
 *
 * written exactly so (as Anthropic and the fake write it: no spaces, members in this order). Parsing the whole
 * frame was most of what translating or checking such a stream cost (about 1.5 µs a frame under load, for a
 * token of text). Anything else, or a text with an escape or a character JSON does not allow raw in a string,
 * is left to JSON.parse (undefined here), so the result is always what JSON.parse would give.
 */
const HEAD = '{"type":"content_block_delta","index":';
const MID = ',"delta":{"type":"text_delta","text":"';
const TAIL = '"}}';

export function quickTextDelta(data: string): Record<string, unknown> | undefined {
  if (!data.startsWith(HEAD)) return undefined;
  let at = HEAD.length;
  const first = data.charCodeAt(at);
  // JSON numbers have no leading zeros (only 0 itself); indexes are small non-negative integers.
  if (first < 0x30 || first > 0x39) return undefined;
  let index = first - 0x30;
  at++;
  if (first !== 0x30) {
    for (let c = data.charCodeAt(at); c >= 0x30 && c <= 0x39 && at < HEAD.length + 9; c = data.charCodeAt(++at)) index = index * 10 + (c - 0x30);
  }
  if (!data.startsWith(MID, at)) return undefined;
  const from = at + MID.length;
  const end = data.length - TAIL.length;
  if (end < from || !data.endsWith(TAIL)) return undefined;
  // The text runs to the closing quote before TAIL: no quote, backslash or control character may be inside.
  for (let i = from; i < end; i++) {
    const c = data.charCodeAt(i);
    if (c === 0x22 || c === 0x5c || c < 0x20) return undefined;
  }
  // Lone surrogates are kept by JSON.parse as they are, and so by slice: the same string either way.
  return { type: 'content_block_delta', index, delta: { type: 'text_delta', text: data.slice(from, end) } };
}

type Obj = Record<string, unknown>;

/**
 * JSON.stringify of an Anthropic text-delta frame (the shape quickTextDelta reads, members in that order), written
 * around its text: serialising the text alone costs less than the frame. Anything else: undefined.
 */
export function writeTextDelta(o: Obj): string | undefined {
  const keys = Object.keys(o);
  if (keys.length !== 3 || keys[0] !== 'type' || keys[1] !== 'index' || keys[2] !== 'delta') return undefined;
  if (o.type !== 'content_block_delta' || typeof o.index !== 'number') return undefined;
  const d = o.delta;
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return undefined;
  const dk = Object.keys(d);
  if (dk.length !== 2 || dk[0] !== 'type' || dk[1] !== 'text') return undefined;
  const { type, text } = d as Obj;
  if (type !== 'text_delta' || typeof text !== 'string') return undefined;
  return `{"type":"content_block_delta","index":${JSON.stringify(o.index)},"delta":{"type":"text_delta","text":${JSON.stringify(text)}}}`;
}

/**
 * OpenAI chat chunks, most of which repeat the chunk before them but for their text piece:
 *
 *   {"id":"chatcmpl-…","object":"chat.completion.chunk","created":N,"model":"…",…,"choices":[{"index":0,"delta":{"content":"…"},"logprobs":null,"finish_reason":null}]}
 *
 * A chunk parsed in full whose members are all plain values (strings, numbers, booleans, null) but for one
 * choice whose delta is `{"content":"…"}` alone, and which is written exactly as JSON.stringify writes it, is
 * learnt as a template: the text before its content string and the text after. A later frame that is that
 * prefix, then a string with no quote, backslash or control character, then that suffix, is the same JSON
 * document but for the content string (the prefix leaves the reader inside that string, and the suffix is read
 * as it was), so it is built from the template without JSON.parse. Anything else is left to JSON.parse
 * (undefined here). Requiring the learnt frame to be JSON.stringify's own writing rules out duplicate members,
 * whitespace, escapes that write a value two ways and `-0`, any of which would make the copy differ.
 */
export class RepeatedChunks {
  private prefix = '';
  private suffix = '';
  /** The prefix without its opening quote and the suffix without its closing one, for writing a chunk. */
  private open = '';
  private close = '';
  private keys: string[] = [];
  private choiceKeys: string[] = [];
  /** Counts the templates learnt: a frame read from the template has this generation's envelope. */
  generation = 0;
  /** The learnt chunk's members and its choice's, all plain values (its `choices` and `delta` are made anew). */
  private envelope: Obj | undefined;
  private choice: Obj | undefined;
  /** Frames read from the template since it was learnt. */
  hits = 0;
  /** Templates learnt that no frame repeated: past a few, the stream's chunks differ each time and learning stops. */
  private unused = 0;

  /** The frame as JSON.parse would give it, when it repeats the template; undefined otherwise. */
  read(data: string): Obj | undefined {
    const env = this.envelope;
    if (env === undefined) return undefined;
    const from = this.prefix.length;
    const end = data.length - this.suffix.length;
    if (end < from || !data.startsWith(this.prefix) || !data.endsWith(this.suffix)) return undefined;
    for (let i = from; i < end; i++) {
      const c = data.charCodeAt(i);
      if (c === 0x22 || c === 0x5c || c < 0x20) return undefined;
    }
    this.hits++;
    // Spreads keep the members' order, and a member set again keeps its place: the order JSON.parse gives.
    return { ...env, choices: [{ ...this.choice, delta: { content: data.slice(from, end) } }] };
  }

  /** A frame JSON.parse read (before anything changes it): learnt when it has the template's shape. Returns it. */
  learn(data: string, obj: unknown): unknown {
    if (this.unused >= 3) return obj;
    if (this.envelope !== undefined && this.hits === 0) this.unused++;
    this.envelope = undefined;
    this.hits = 0;
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return obj;
    const o = obj as Obj;
    const choices = o.choices;
    if (!Array.isArray(choices) || choices.length !== 1) return obj;
    const ch = choices[0] as unknown;
    if (typeof ch !== 'object' || ch === null || Array.isArray(ch)) return obj;
    const delta = (ch as Obj).delta;
    if (typeof delta !== 'object' || delta === null || Array.isArray(delta)) return obj;
    const keys = Object.keys(delta);
    if (keys.length !== 1 || keys[0] !== 'content' || typeof (delta as Obj).content !== 'string') return obj;
    const topKeys = Object.keys(o);
    const choiceKeys = Object.keys(ch);
    // Plain values only: a copy of the envelope then shares nothing a reader of the frame may change.
    for (const k of topKeys) if (k !== 'choices' && !plain(o[k])) return obj;
    for (const k of choiceKeys) if (k !== 'delta' && !plain((ch as Obj)[k])) return obj;
    // Only JSON.stringify's own writing of this very frame: then every difference a later frame can have is the content.
    if (JSON.stringify(o) !== data) return obj;
    // What JSON.stringify writes after the content string: the end of the delta, the rest of the choice, of the chunk.
    let after = '}';
    for (let i = choiceKeys.indexOf('delta') + 1; i < choiceKeys.length; i++) after += `,${JSON.stringify(choiceKeys[i])}:${JSON.stringify((ch as Obj)[choiceKeys[i]!])}`;
    after += '}]';
    for (let i = topKeys.indexOf('choices') + 1; i < topKeys.length; i++) after += `,${JSON.stringify(topKeys[i])}:${JSON.stringify(o[topKeys[i]!])}`;
    after += '}';
    const content = JSON.stringify((delta as Obj).content);
    const start = data.length - after.length - content.length;
    if (start < 19 || !data.startsWith('"delta":{"content":', start - 19) || !data.startsWith(content, start) || !data.endsWith(after)) return obj;
    const prefix = data.slice(0, start + 1);
    const suffix = data.slice(start + content.length - 1);
    this.prefix = prefix;
    this.suffix = suffix;
    this.open = prefix.slice(0, -1);
    this.close = suffix.slice(1);
    this.envelope = { ...o };
    this.choice = { ...(ch as Obj) };
    this.keys = Object.keys(o);
    this.choiceKeys = Object.keys(ch);
    this.generation++;
    return obj;
  }

  /**
   * JSON.stringify(obj), written from the template when obj has its members in its order with the same values
   * (but for the content string); undefined otherwise. Serialising a string alone costs less than the chunk.
   */
  write(obj: Obj): string | undefined {
    const content = this.contentOf(obj);
    if (content === undefined) return undefined;
    this.hits++;
    return this.open + JSON.stringify(content) + this.close;
  }

  /** obj has the template's members in its order with its values, but for its content string (which may differ). */
  matches(obj: Obj): boolean {
    return this.contentOf(obj) !== undefined;
  }

  private contentOf(obj: Obj): string | undefined {
    const env = this.envelope;
    if (env === undefined) return undefined;
    const keys = Object.keys(obj);
    if (keys.length !== this.keys.length) return undefined;
    let content: unknown;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      if (k !== this.keys[i]) return undefined;
      if (k !== 'choices') {
        if (obj[k] !== env[k]) return undefined;
        continue;
      }
      const choices = obj.choices;
      if (!Array.isArray(choices) || choices.length !== 1) return undefined;
      const ch = choices[0] as unknown;
      if (typeof ch !== 'object' || ch === null || Array.isArray(ch)) return undefined;
      const ck = Object.keys(ch);
      if (ck.length !== this.choiceKeys.length) return undefined;
      for (let j = 0; j < ck.length; j++) {
        const c = ck[j]!;
        if (c !== this.choiceKeys[j]) return undefined;
        if (c === 'delta') {
          const delta = (ch as Obj).delta;
          if (typeof delta !== 'object' || delta === null || Array.isArray(delta)) return undefined;
          const dk = Object.keys(delta);
          if (dk.length !== 1 || dk[0] !== 'content') return undefined;
          content = (delta as Obj).content;
          if (typeof content !== 'string') return undefined;
        } else if ((ch as Obj)[c] !== this.choice![c]) return undefined;
      }
    }
    return content as string;
  }
}

function plain(v: unknown): boolean {
  return v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && !Object.is(v, -0));
}
