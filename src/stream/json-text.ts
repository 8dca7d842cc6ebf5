import type { RuleMatch, TextWindow } from './window.js';

/**
 * Output enforcement for JSON text that arrives in pieces: a tool call's arguments, streamed as fragments of
 * one JSON document (OpenAI `arguments` deltas, Anthropic `input_json_delta`). Detectors must read the values,
 * not the escaped text (a token right after `\n` would hide behind the `n`), and a redaction must leave the
 * document valid JSON (a marker cut into an escape sequence breaks the client's `JSON.parse`).
 *
 * So each string (member names too) is decoded as it arrives and goes through its own TextWindow, exactly as
 * the non-streamed path scans each leaf of the parsed arguments; what the window releases is escaped again.
 * Numbers and other bare words are held until they end and scanned whole; one that a redaction changed is
 * written as a JSON string. Structure passes through at once. The output, concatenated, is valid JSON
 * whenever the input is.
 */
export class JsonTextWindows {
  private state: 'out' | 'string' | 'escape' | 'unicode' = 'out';
  private unicode = '';
  /** The string being read: its window, and decoded text not yet given to it. */
  private current: TextWindow | undefined;
  private decoded = '';
  /** A bare word (number, literal, or text that is not JSON) being read. */
  private bare = '';
  /** Everything released, as the client receives it. */
  output = '';

  constructor(private readonly newWindow: () => TextWindow) {}

  /** The match that stops the stream, once a window has found one. */
  blocked: RuleMatch | undefined;

  /** Add a fragment; returns the JSON text that can be released now. */
  push(fragment: string): string {
    let out = '';
    let i = 0;
    while (i < fragment.length && !this.blocked) {
      if (this.state === 'out') {
        const c = fragment[i]!;
        if (c === '"') {
          out += this.endBare() + '"';
          this.state = 'string';
          this.current = this.newWindow();
          i++;
        } else if (isStructure(c)) {
          out += this.endBare() + c;
          i++;
        } else {
          // A run of bare characters up to the next structure or quote.
          let j = i + 1;
          while (j < fragment.length && fragment[j] !== '"' && !isStructure(fragment[j]!)) j++;
          this.bare += fragment.slice(i, j);
          i = j;
          if (this.bare.length > MAX_BARE) out += this.spillBare();
        }
        continue;
      }
      if (this.state === 'string') {
        // Plain characters up to the next quote or backslash, in one slice.
        let j = i;
        while (j < fragment.length && fragment[j] !== '"' && fragment[j] !== '\\') j++;
        this.decoded += fragment.slice(i, j);
        i = j;
        if (i >= fragment.length) break;
        if (fragment[i] === '\\') {
          this.state = 'escape';
          i++;
          continue;
        }
        out += this.endString();
        i++;
        continue;
      }
      if (this.state === 'escape') {
        const c = fragment[i++]!;
        if (c === 'u') {
          this.state = 'unicode';
          this.unicode = '';
        } else {
          this.decoded += ESCAPES[c] ?? c;
          this.state = 'string';
        }
        continue;
      }
      // unicode: four hex digits, possibly split across fragments.
      const need = 4 - this.unicode.length;
      this.unicode += fragment.slice(i, i + need);
      i += Math.min(need, fragment.length - i);
      if (this.unicode.length === 4) {
        const code = Number.parseInt(this.unicode, 16);
        this.decoded += Number.isNaN(code) ? this.unicode : String.fromCharCode(code);
        this.state = 'string';
      }
    }
    if ((this.state === 'string' || this.state === 'escape' || this.state === 'unicode') && this.decoded && !this.blocked) out += this.feedCurrent();
    this.output += out;
    return out;
  }

  /** The text ended: release everything held (an unterminated string stays unterminated, as it came). */
  end(): string {
    let out = '';
    if (this.state !== 'out' && !this.blocked) {
      out += this.feedCurrent() + escapeJson(this.current?.flush() ?? '');
      this.blocked ??= this.current?.blocked;
      this.current = undefined;
      this.state = 'out';
    }
    if (!this.blocked) out += this.endBare();
    this.output += out;
    return out;
  }

  private feedCurrent(): string {
    const text = this.decoded;
    this.decoded = '';
    const released = this.current!.push(text);
    this.blocked ??= this.current!.blocked;
    return escapeJson(released);
  }

  private endString(): string {
    let out = this.feedCurrent();
    if (this.blocked) return out;
    out += escapeJson(this.current!.flush());
    this.blocked ??= this.current!.blocked;
    this.current = undefined;
    this.state = 'out';
    return `${out}"`;
  }

  /** A bare word ended: scanned whole; if a redaction changed it, it becomes a JSON string. */
  private endBare(): string {
    if (!this.bare) return '';
    const word = this.bare;
    this.bare = '';
    const w = this.newWindow();
    const released = w.push(word) + w.flush();
    if (w.blocked) {
      this.blocked = w.blocked;
      return '';
    }
    return released === word ? word : JSON.stringify(released);
  }

  /** A bare run too long to be a JSON number or literal: not JSON, so released as text through a window. */
  private spillBare(): string {
    const w = this.newWindow();
    const out = w.push(this.bare) + w.flush();
    this.bare = '';
    this.blocked ??= w.blocked;
    return this.blocked ? '' : out;
  }
}

/** Longer than any JSON number or literal a model writes; a longer bare run is not JSON. */
const MAX_BARE = 4096;

const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

function isStructure(c: string): boolean {
  return c === '{' || c === '}' || c === '[' || c === ']' || c === ':' || c === ',' || c === ' ' || c === '\n' || c === '\r' || c === '\t';
}

/** Text as the inside of a JSON string literal. */
export function escapeJson(text: string): string {
  if (text.length === 0) return '';
  const quoted = JSON.stringify(text);
  return quoted.slice(1, -1);
}
