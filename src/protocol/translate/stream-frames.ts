import { quickTextDelta, RepeatedChunks } from '../quick-json.js';
import { parseFrame, SseSplitter } from '../sse.js';
import { isObj, UntranslatableReply, type Obj } from './types.js';

/** What a stream translator is told by its caller: usage metering reads the upstream's own frames. */
export interface StreamTranslateOptions {
  /** Every upstream frame, parsed, in the upstream's format (before translation). */
  onFrame?: ((event: string | undefined, data: Obj) => void) | undefined;
  /** The longest frame held while it arrives (the reply budget's limit). */
  maxFrame?: number;
  /** Seconds since the epoch, for `created` (golden tests pin it). */
  now?: () => number;
  /** Make no usage chunk even when the client's body asks for one (the gateway asked for it on the client's behalf). */
  omitUsage?: boolean | undefined;
}

/** A frame for the client, not yet written: its JSON as an object, or OpenAI's `[DONE]`. */
export interface ClientFrame {
  event: string | undefined;
  data: Obj | '[DONE]';
}

/** An SSE stream translated frame by frame: text in as it arrives from upstream (split anywhere), text out for the client. */
export interface StreamTranslator {
  push(chunk: string): string;
  /** Upstream ended. Throws when the stream stopped before its end (the caller reports a cut stream). */
  end(): string;
  /**
   * As push and end, but the client's frames as objects: for a reader that parses them (StreamGuard), which then
   * writes each once, after reading it. A translator gives text or frames for one stream, not both.
   */
  pushFrames?(chunk: string): ClientFrame[];
  endFrames?(): ClientFrame[];
}

/** The text of a client frame, as the translator writes it when it writes text. */
export const writeFrame = (f: ClientFrame): string =>
  f.data === '[DONE]' ? 'data: [DONE]\n\n' : f.event === undefined ? sseData(f.data) : `event: ${f.event}\ndata: ${JSON.stringify(f.data)}\n\n`;

const DEFAULT_MAX_FRAME = 64 * 1024 * 1024;

/**
 * Splits and parses upstream frames and hands each to `frame`, which returns the client's text. Frames are
 * whole units in both formats, so the output does not depend on how the upstream's bytes were chunked.
 */
export abstract class FrameTranslator implements StreamTranslator {
  private readonly splitter: SseSplitter;
  protected finished = false;
  /** Upstream chat chunks that repeat the one before but for their text, read without JSON.parse. */
  private readonly chunks = new RepeatedChunks();

  constructor(protected readonly opts: StreamTranslateOptions) {
    this.splitter = new SseSplitter(opts.maxFrame ?? DEFAULT_MAX_FRAME);
  }

  /** Set while frames are collected as objects (pushFrames, endFrames): the emit methods add to it and give ''. */
  protected frames: ClientFrame[] | undefined;

  push(chunk: string): string {
    let out = '';
    for (const raw of this.splitter.push(chunk)) out += this.raw(raw);
    return out;
  }

  end(): string {
    const rest = this.splitter.end();
    let out = rest ? this.raw(rest) : '';
    out += this.close();
    return out;
  }

  protected collect(run: () => string): ClientFrame[] {
    const frames: ClientFrame[] = [];
    this.frames = frames;
    try {
      // Every frame goes through the emit methods: text here would be a frame the reader never saw.
      if (run() !== '') throw new Error('a stream translator wrote text while its frames were collected');
    } finally {
      this.frames = undefined;
    }
    return frames;
  }

  /** `data: {json}`, or the object when frames are collected. */
  protected data(obj: Obj): string {
    if (this.frames) {
      this.frames.push({ event: undefined, data: obj });
      return '';
    }
    return sseData(obj);
  }

  /** `event: type` + `data: {json}`, or the object when frames are collected. */
  protected event(type: string, obj: Obj): string {
    if (this.frames) {
      this.frames.push({ event: type, data: obj });
      return '';
    }
    return sseEvent(type, obj);
  }

  protected doneFrame(): string {
    if (this.frames) {
      this.frames.push({ event: undefined, data: '[DONE]' });
      return '';
    }
    return 'data: [DONE]\n\n';
  }

  /**
   * A frame made from upstream values that may be missing (undefined), when frames are collected: as JSON.parse
   * would read its text, so the reader sees exactly what the text would have said. Text is written as it is.
   */
  protected asParsed(obj: Obj): Obj {
    return this.frames ? (JSON.parse(JSON.stringify(obj)) as Obj) : obj;
  }

  private raw(raw: string): string {
    if (this.finished) return '';
    const { event, data } = quickFrame(raw) ?? parseFrame(raw);
    // Comments and keep-alives carry nothing to translate.
    if (data === undefined) return '';
    if (data === '[DONE]') return this.done();
    let obj: unknown;
    try {
      obj = quickTextDelta(data) ?? this.chunks.read(data) ?? this.chunks.learn(data, JSON.parse(data));
    } catch {
      throw new UntranslatableReply('the upstream sent a stream frame that is not JSON');
    }
    if (!isObj(obj)) throw new UntranslatableReply('the upstream sent a stream frame that is not a JSON object');
    this.opts.onFrame?.(event, obj);
    return this.frame(event, obj);
  }

  protected abstract frame(event: string | undefined, data: Obj): string;
  /** `data: [DONE]` (OpenAI's end of stream). */
  protected abstract done(): string;
  /** The upstream body ended. */
  protected abstract close(): string;
}

/** A translator whose client frames can be had as objects (every frame it writes goes through the emit methods). */
export abstract class ObjectFrameTranslator extends FrameTranslator {
  pushFrames(chunk: string): ClientFrame[] {
    return this.collect(() => this.push(chunk));
  }

  endFrames(): ClientFrame[] {
    return this.collect(() => this.end());
  }
}

/**
 * The two frame shapes providers send (`data: …` alone, or `event: …` then one `data: …` line), read without
 * splitting into lines: that split was a third of the translator's time. Anything else goes to parseFrame.
 */
function quickFrame(raw: string): { event: string | undefined; data: string } | undefined {
  if (raw.startsWith('data: ')) return raw.indexOf('\n') < 0 ? { event: undefined, data: raw.slice(6) } : undefined;
  if (!raw.startsWith('event: ')) return undefined;
  const nl = raw.indexOf('\n');
  if (nl < 0 || !raw.startsWith('data: ', nl + 1) || raw.indexOf('\n', nl + 1) >= 0) return undefined;
  return { event: raw.slice(7, nl).trim(), data: raw.slice(nl + 7) };
}

export const sseData = (obj: unknown): string => `data: ${JSON.stringify(obj)}\n\n`;
export const sseEvent = (type: string, obj: Obj): string => `event: ${type}\ndata: ${JSON.stringify(obj)}\n\n`;
