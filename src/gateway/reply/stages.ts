import type { ServerResponse } from 'node:http';
import type { DecisionContext } from '../../audit/context.js';
import type { StreamTranslator } from '../../protocol/translate/index.js';
import type { StreamGuard } from '../../stream/guard.js';
import type { StreamMeter } from '../../usage/meter.js';
import type { TailHold } from '../tail-hold.js';

/**
 * The streamed output path as composed stages, in the manner of undici's interceptors: each stage is a handler
 * that gets what the stage before it let through and hands the next one what it should see.
 *
 *   decode → translate → StreamGuard → meter → tail hold (the client)
 *
 * (translate and StreamGuard are one stage when the translator can hand over its frames as objects.)
 *
 * A stage is there only when the reply needs it (a reply nothing reads has none: bytes go straight to the tail
 * hold), so the path is the list, not a set of flags. Errors a stage throws (a reply over its budget, an
 * untranslatable frame, bytes that do not decode) end the stream; the caller turns them into the client's error.
 */
export interface ReplyHandler {
  /** The response begins (status and headers go out at the end of the chain). */
  onStart(): void;
  /** A piece of the reply; false when the client is slow and reading should pause. */
  onData(chunk: Buffer | string): boolean;
  /** The upstream ended normally. */
  onEnd(): void;
  /** A policy stopped the stream: `last` (the refusal frames) is the last thing the client gets. */
  onBlocked(last: Buffer | string): void;
  /** The upstream (or a stage) failed; nothing more comes. */
  onError(err: unknown): void;
}

export type ReplyStage = (next: ReplyHandler) => ReplyHandler;

/** The stages in order, wrapped around the sink: the first stage is the handler the source feeds. */
export function compose(stages: readonly ReplyStage[], sink: ReplyHandler): ReplyHandler {
  let handler = sink;
  for (let i = stages.length - 1; i >= 0; i--) handler = stages[i]!(handler);
  return handler;
}

/** A handler that passes everything on, with some of its methods replaced. */
function passing(next: ReplyHandler, own: Partial<ReplyHandler>): ReplyHandler {
  return {
    onStart: () => next.onStart(),
    onData: (chunk) => next.onData(chunk),
    onEnd: () => next.onEnd(),
    onBlocked: (last) => next.onBlocked(last),
    onError: (err) => next.onError(err),
    ...own,
  };
}

/** Bytes to text (UTF-8, a character split across chunks kept whole): what the stages after it read. */
export const decodeStage =
  (): ReplyStage =>
  (next) => {
    const decoder = new TextDecoder();
    return passing(next, {
      onData: (chunk) => next.onData(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true })),
      onEnd: () => {
        const rest = decoder.decode();
        if (rest) next.onData(rest);
        next.onEnd();
      },
    });
  };

/** The upstream's frames into the client's format (the translator meters the upstream's frames as they pass). */
export const translateStage =
  (translator: StreamTranslator): ReplyStage =>
  (next) =>
    passing(next, {
      onData: (chunk) => next.onData(translator.push(String(chunk))),
      onEnd: () => {
        next.onData(translator.end());
        next.onEnd();
      },
    });

/** Output policies on the stream: only what StreamGuard releases goes on; a block ends the stream with its refusal. */
export const guardStage =
  (guard: StreamGuard): ReplyStage =>
  (next) =>
    passing(next, {
      onData: (chunk) => {
        const out = guard.push(String(chunk));
        if (guard.blocked) {
          next.onBlocked(out);
          return false;
        }
        return next.onData(out);
      },
      onEnd: () => {
        const out = guard.end();
        if (guard.blocked) return next.onBlocked(out);
        next.onData(out);
        next.onEnd();
      },
    });

/**
 * Translation and output policies in one stage, when the translator can hand over its frames as objects: the
 * guard reads them as they are and writes each once, after reading it (no text written to be split and parsed
 * again). The budget counts the upstream's text. The output is what translateStage then guardStage give.
 */
export const translateGuardStage =
  (translator: Required<StreamTranslator>, guard: StreamGuard): ReplyStage =>
  (next) =>
    passing(next, {
      onData: (chunk) => {
        const text = String(chunk);
        const out = guard.pushFrames(translator.pushFrames(text), text.length);
        if (guard.blocked) {
          next.onBlocked(out);
          return false;
        }
        return next.onData(out);
      },
      onEnd: () => {
        let out = guard.pushFrames(translator.endFrames(), 0);
        if (!guard.blocked) out += guard.end();
        if (guard.blocked) return next.onBlocked(out);
        next.onData(out);
        next.onEnd();
      },
    });

/**
 * Usage: the frames reach the meter through the stage that parses them (the translator, or StreamGuard's frame
 * hook), so they are read once; this stage closes the count when the reply is whole, or cut short by a block.
 */
export const meterStage =
  (meter: StreamMeter): ReplyStage =>
  (next) =>
    passing(next, {
      onEnd: () => {
        meter.end();
        next.onEnd();
      },
      onBlocked: (last) => {
        meter.end();
        next.onBlocked(last);
      },
    });

/** How a stream through the stages ended, as the sink saw it. */
export type StreamEnd = 'open' | 'complete' | 'blocked';

/**
 * The end of the chain: the client, behind the tail hold (the terminal frame waits until the decision event is
 * durable, see tail-hold.ts). Records when the first byte went out and how the stream ended.
 */
export class ClientSink implements ReplyHandler {
  state: StreamEnd = 'open';

  constructor(
    private readonly res: ServerResponse,
    private readonly status: number,
    private readonly headers: Record<string, string | string[]>,
    private readonly hold: TailHold,
    private readonly ctx: DecisionContext,
  ) {}

  onStart(): void {
    this.res.writeHead(this.status, this.headers);
  }

  onData(chunk: Buffer | string): boolean {
    if (chunk.length === 0) return true;
    const now = this.hold.pass(chunk);
    if (now.length === 0) return true;
    this.ctx.firstByte ??= performance.now();
    return this.res.write(now);
  }

  onEnd(): void {
    this.state = 'complete';
  }

  onBlocked(last: Buffer | string): void {
    this.hold.keep(last);
    this.state = 'blocked';
  }

  onError(): void {
    // The caller answers the failure (an error frame, or a cut connection): nothing is written here.
  }
}
