/**
 * Holds back the end of a response until its decision event is durable, so that a client never receives a
 * complete response whose event could still be lost. For SSE only the terminal event is held (from the line
 * that starts it: `data: [DONE]`, `event: message_stop`, `event: response.completed` / `failed` /
 * `incomplete`), so tokens keep streaming as they arrive. Other bodies cannot be used by a client before
 * their last byte, so they run one chunk behind.
 */
export class TailHold {
  private held: Array<Buffer | string> = [];
  private holding = false;
  /** The last bytes let through, so a terminal line split across chunks is still recognised. */
  private recent = '';

  constructor(private readonly sse: boolean) {}

  /** What may be written now; the rest is kept for `release()`. */
  pass(chunk: Buffer | string): Buffer | string {
    if (this.holding) {
      this.held.push(chunk);
      return '';
    }
    if (!this.sse) {
      const previous = this.held.pop();
      this.held.push(chunk);
      return previous ?? '';
    }
    const text = typeof chunk === 'string' ? chunk : chunk.toString('latin1');
    const window = this.recent + text;
    const m = TERMINAL.exec(window);
    if (!m) {
      this.recent = window.slice(-RECENT);
      return chunk;
    }
    this.holding = true;
    // The terminal line may have begun in what was already sent; then hold this whole chunk.
    const at = Math.max(0, m.index + m[1]!.length - this.recent.length);
    if (typeof chunk === 'string') {
      this.held.push(chunk.slice(at));
      return chunk.slice(0, at);
    }
    // latin1 maps bytes 1:1 to code units, so the index is a byte offset.
    this.held.push(chunk.subarray(at));
    return chunk.subarray(0, at);
  }

  /** Hold this chunk whatever it holds (the last frames of a blocked stream). */
  keep(chunk: Buffer | string): void {
    if (chunk.length > 0) this.held.push(chunk);
    this.holding = true;
  }

  /** Everything held back, to be written once the event is committed. */
  release(): Array<Buffer | string> {
    const out = this.held;
    this.held = [];
    return out;
  }
}

const RECENT = 64;
const TERMINAL = /(^|\n)(?:data: ?\[DONE\]|event: ?(?:message_stop|response\.(?:completed|failed|incomplete))\b|data: ?\{\s*"type"\s*:\s*"(?:message_stop|response\.(?:completed|failed|incomplete))")/;
