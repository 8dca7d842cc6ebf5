/**
 * Holds back the end of a response until its decision event is durable, so that a client never receives a
 * complete response whose event could still be lost. For SSE the chunk that carries the terminal event (from
 * the line that starts it: `data: [DONE]`, `event: message_stop`, `event: response.completed` / `failed` /
 * `incomplete`) is held whole, so tokens keep streaming as they arrive until the last chunk. What comes in that
 * chunk before the terminal event (the last tokens, the finish frame, usage) arrived with the end anyway and
 * goes out with it, in the same write: a separate write of it cost a system call per streamed request (the
 * send path of a loopback write is most of its cost), for no earlier use by the client than a few µs. Other
 * bodies cannot be used by a client before their last byte, so they run one chunk behind.
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
    // The terminal line may have begun in what was already sent; then all of this chunk is part of it.
    const at = Math.max(0, m.index + m[1]!.length - this.recent.length);
    // latin1 maps bytes 1:1 to code units, so for a Buffer the index is a byte offset.
    this.before = typeof chunk === 'string' ? chunk.slice(0, at) : chunk.subarray(0, at);
    this.held.push(typeof chunk === 'string' ? chunk.slice(at) : chunk.subarray(at));
    return '';
  }

  /** What came before the terminal line in the chunk that held it: sent with the end (or before an error frame). */
  private before: Buffer | string = '';

  /**
   * Only what came before the terminal event, for a stream that cannot be given its end (the event could not be
   * stored, the upstream failed after it): the client gets every token, then the error frame.
   */
  releaseBeforeEnd(): Array<Buffer | string> {
    const out = this.before.length > 0 ? [this.before] : [];
    this.before = '';
    this.held = [];
    return out;
  }

  /** Hold this chunk whatever it holds (the last frames of a blocked stream). */
  keep(chunk: Buffer | string): void {
    if (chunk.length > 0) this.held.push(chunk);
    this.holding = true;
  }

  /** Everything held back, to be written once the event is committed. */
  release(): Array<Buffer | string> {
    const out = this.before.length > 0 ? [this.before, ...this.held] : this.held;
    this.before = '';
    this.held = [];
    return out;
  }
}

const RECENT = 64;
const TERMINAL = /(^|\n)(?:data: ?\[DONE\]|event: ?(?:message_stop|response\.(?:completed|failed|incomplete))\b|data: ?\{\s*"type"\s*:\s*"(?:message_stop|response\.(?:completed|failed|incomplete))")/;
