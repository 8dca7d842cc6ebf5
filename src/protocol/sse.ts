import type { Family } from '../providers/targets.js';

/**
 * The last frame of a stream that fails part-way (upstream cut off, a reply over budget, an event that could not
 * be stored), in each protocol's own error form so SDKs raise an error instead of hanging or accepting a
 * truncated reply as complete. A policy's refusal ends a stream differently: src/protocol/refusal.ts.
 */
export function terminalErrorFrame(family: Family, type: string, message: string): string {
  if (family === 'messages') {
    return `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type, message } })}\n\n`;
  }
  if (family === 'responses') {
    return `event: error\ndata: ${JSON.stringify({ type: 'error', code: type, message, param: null })}\n\n`;
  }
  // The openai SDK raises an APIError for a chunk that carries `error`; no [DONE] follows.
  return `data: ${JSON.stringify({ error: { message, type, code: type, param: null } })}\n\n`;
}

/** A reply grew past what the gateway will hold to check it (`--max-response-bytes`). */
export class ReplyTooLarge extends Error {
  override name = 'ReplyTooLarge';
  constructor(readonly limit: number) {
    super(`the reply is larger than the gateway's limit of ${limit} bytes for replies it checks (--max-response-bytes)`);
  }
}

/**
 * Splits an SSE byte stream (decoded to text) into frames. Line endings are normalised to `\n` as they arrive
 * (the format allows CRLF, LF and a lone CR, and a frame ends at the first blank line whichever is used). Each
 * character is looked at once: an unfinished frame is kept as a list of pieces and only the new piece is
 * searched, so a huge frame arriving in small chunks costs linear time. A frame longer than `maxFrame`
 * characters throws ReplyTooLarge.
 */
export class SseSplitter {
  private pieces: string[] = [];
  private pending = 0;
  /** The last character of the pending text was a newline. */
  private newlineAtEnd = false;
  /** The last chunk ended with a CR: a LF starting the next one belongs to it. */
  private cr = false;

  constructor(private readonly maxFrame: number) {}

  /** Complete frames (without their blank line) found with this chunk. */
  push(chunk: string): string[] {
    let text = chunk;
    if (this.cr && text.startsWith('\n')) text = text.slice(1);
    this.cr = text.endsWith('\r');
    if (text.includes('\r')) text = text.replace(/\r\n?/g, '\n');
    const frames: string[] = [];
    let from = 0;
    if (this.newlineAtEnd && text.startsWith('\n')) {
      // The blank line began in the pending text.
      const frame = this.take();
      frames.push(frame.slice(0, -1));
      from = 1;
    }
    for (let at = text.indexOf('\n\n', from); at >= 0; at = text.indexOf('\n\n', from)) {
      frames.push(this.take() + text.slice(from, at));
      from = at + 2;
    }
    const rest = text.slice(from);
    if (rest.length > 0) {
      this.pieces.push(rest);
      this.pending += rest.length;
      this.newlineAtEnd = rest.endsWith('\n');
      if (this.pending > this.maxFrame) throw new ReplyTooLarge(this.maxFrame);
    }
    return frames.filter((f) => f.length > 0 && f !== '\n');
  }

  /** The stream ended: whatever is pending, as a last frame ('' when nothing). */
  end(): string {
    const rest = this.take();
    return rest.trim() ? rest.replace(/\n+$/, '') : '';
  }

  private take(): string {
    const text = this.pieces.length === 1 ? this.pieces[0]! : this.pieces.join('');
    this.pieces = [];
    this.pending = 0;
    this.newlineAtEnd = false;
    return text;
  }
}

/** One parsed frame: its event name, its data (lines joined with `\n`), and its other lines as they came. */
export interface SseFrame {
  event: string | undefined;
  data: string | undefined;
  /** Comment and `id:`/`retry:`/unknown lines, in order. */
  other: string[];
}

export function parseFrame(raw: string): SseFrame {
  // The two shapes providers send (`data: …` alone, or `event: …` then one `data: …` line), read without
  // splitting into lines: StreamGuard parses every frame of a reply, and the split was most of this function.
  const nl = raw.indexOf('\n');
  if (nl < 0) {
    if (raw.startsWith('data:')) return { event: undefined, data: raw.slice(raw.charCodeAt(5) === 0x20 ? 6 : 5), other: [] };
  } else if (raw.startsWith('event:') && raw.startsWith('data:', nl + 1) && raw.indexOf('\n', nl + 1) < 0) {
    return { event: raw.slice(6, nl).trim(), data: raw.slice(raw.charCodeAt(nl + 6) === 0x20 ? nl + 7 : nl + 6), other: [] };
  }
  let event: string | undefined;
  let data: string[] | undefined;
  const other: string[] = [];
  for (const line of raw.split('\n')) {
    if (line.startsWith('data:')) (data ??= []).push(line.charCodeAt(5) === 0x20 ? line.slice(6) : line.slice(5));
    else if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.length > 0) other.push(line);
  }
  return { event, data: data?.join('\n'), other };
}

/** A frame written back: other lines first, then `event:`, then the data, one `data:` line per line of it. */
export function formatFrame(event: string | undefined, data: string | undefined, other: readonly string[] = []): string {
  let out = '';
  for (const line of other) out += `${line}\n`;
  if (event !== undefined) out += `event: ${event}\n`;
  if (data !== undefined) for (const line of data.split('\n')) out += `data: ${line}\n`;
  return `${out}\n`;
}
