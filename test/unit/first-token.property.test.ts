import { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { awaitFirstToken, isPrelude, isTransientError, OpeningFrames } from '../../src/providers/first-token.js';
import { SseSplitter } from '../../src/protocol/sse.js';

const gone = () => Object.assign(new EventEmitter(), { aborted: false });

const MESSAGES = [
  'event: message_start\ndata: {"type":"message_start","message":{"id":"m","content":[]}}\n\n',
  'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
  'event: ping\ndata: {"type": "ping"}\n\n',
  'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Grüße 👋"}}\n\n',
  'event: message_stop\ndata: {"type":"message_stop"}\n\n',
];

/** The stream's bytes cut at the given points, pushed one piece at a time, each on its own turn. */
function source(bytes: Buffer, cuts: number[], end: boolean): Readable {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let at = 0;
  for (const p of [...points, bytes.length]) {
    if (p > at) pieces.push(bytes.subarray(at, p));
    at = Math.max(at, p);
  }
  const r = new Readable({ read() {} });
  let i = 0;
  const next = () => {
    if (i < pieces.length) {
      r.push(pieces[i++]);
      setImmediate(next);
    } else if (end) r.push(null);
  };
  setImmediate(next);
  return r;
}

async function readAll(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('awaitFirstToken', () => {
  it('wherever the stream is split, commits at the first content frame and the reader gets every byte, in order', async () => {
    const bytes = Buffer.from(MESSAGES.join(''));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { maxLength: 12 }), async (cuts) => {
        const body = source(bytes, cuts, true);
        const first = await awaitFirstToken(body, 'messages', 5_000, gone());
        expect(first).toEqual({ ok: true });
        expect((await readAll(body)).equals(bytes)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('holds a long prelude of multibyte text in one chunk, and gives the reader every byte once content comes', async () => {
    // A prelude of about 2 KB (metadata of several hundred multibyte characters) before the first token, in one chunk.
    const long = `event: message_start\ndata: {"type":"message_start","message":{"id":"m","content":[],"note":"${'é👋'.repeat(300)}"}}\n\n`;
    for (const pad of [0, 1, 2, 3]) {
      const bytes = Buffer.from(`${': x'.repeat(pad)}${pad ? '\n\n' : ''}${long}${MESSAGES.slice(1).join('')}`);
      const body = source(bytes, [], true);
      expect(await awaitFirstToken(body, 'messages', 5_000, gone())).toEqual({ ok: true });
      expect((await readAll(body)).equals(bytes)).toBe(true);
      const prelude = Buffer.from(`${long}${MESSAGES[2]}`);
      expect(await awaitFirstToken(source(prelude, [], true), 'messages', 5_000, gone())).toEqual({ ok: false, outcome: 'reset' });
    }
    const overloaded = Buffer.from(`${long}event: error\ndata: {"type":"error","error":{"type":"overloaded_error"}}\n\n${MESSAGES[3]}`);
    expect(await awaitFirstToken(source(overloaded, [], true), 'messages', 5_000, gone())).toEqual({ ok: false, outcome: 'stream_error' });
  });

  it('a stream that ends after its prelude, or breaks, is a reset; a silent one times out', async () => {
    const prelude = Buffer.from(MESSAGES.slice(0, 3).join(''));
    expect(await awaitFirstToken(source(prelude, [40], true), 'messages', 5_000, gone())).toEqual({ ok: false, outcome: 'reset' });
    const broken = source(prelude, [], false);
    setTimeout(() => broken.destroy(new Error('socket hang up')), 20);
    expect(await awaitFirstToken(broken, 'messages', 5_000, gone())).toEqual({ ok: false, outcome: 'reset' });
    expect(await awaitFirstToken(source(prelude, [], false), 'messages', 30, gone())).toEqual({ ok: false, outcome: 'first_token_timeout' });
    const signal = gone();
    setTimeout(() => {
      signal.aborted = true;
      signal.emit('abort');
    }, 10);
    expect(await awaitFirstToken(source(prelude, [], false), 'messages', undefined, signal)).toEqual({ ok: false, outcome: 'aborted' });
  });
});

describe('isTransientError', () => {
  it('knows "not now" errors of each family from errors another try would get again', () => {
    expect(isTransientError('event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}')).toBe(true);
    expect(isTransientError('event: error\ndata: {"type":"error","error":{"type":"invalid_request_error","message":"bad"}}')).toBe(false);
    expect(isTransientError('data: {"error":{"message":"x","type":"server_error","code":null}}')).toBe(true);
    expect(isTransientError('event: response.failed\ndata: {"type":"response.failed","response":{"error":{"code":"server_error","message":"x"}}}')).toBe(true);
    expect(isTransientError('event: error\ndata: {"type":"error","code":"rate_limit_exceeded","message":"x"}')).toBe(true);
    expect(isTransientError('data: {"choices":[]}')).toBe(false);
  });
});

describe('isPrelude', () => {
  it('holds only frames without a token: starts, pings, comments, the role chunk', () => {
    expect(isPrelude('chat', 'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"finish_reason":null}]}')).toBe(true);
    expect(isPrelude('chat', 'data: {"choices":[],"prompt_filter_results":[]}')).toBe(true);
    expect(isPrelude('chat', ': keep-alive')).toBe(true);
    expect(isPrelude('chat', 'data: {"choices":[{"index":0,"delta":{"content":"H"},"finish_reason":null}]}')).toBe(false);
    expect(isPrelude('chat', 'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0}]},"finish_reason":null}]}')).toBe(false);
    expect(isPrelude('chat', 'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}')).toBe(false);
    expect(isPrelude('chat', 'data: {"error":{"message":"overloaded"}}')).toBe(false);
    expect(isPrelude('chat', 'data: [DONE]')).toBe(false);
    expect(isPrelude('messages', 'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","name":"Bash","input":{}}}')).toBe(false);
    expect(isPrelude('messages', 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error"}}')).toBe(false);
    expect(isPrelude('responses', 'event: response.created\ndata: {"type":"response.created","response":{}}')).toBe(true);
    expect(isPrelude('responses', 'event: response.output_item.added\ndata: {"type":"response.output_item.added","item":{"type":"message","content":[]}}')).toBe(true);
    expect(isPrelude('responses', 'event: response.content_part.added\ndata: {"type":"response.content_part.added","part":{"type":"output_text","text":""}}')).toBe(true);
    expect(isPrelude('responses', 'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"x"}')).toBe(false);
    // Frames of one line: an event alone, data without its space.
    expect(isPrelude('messages', 'event: ping')).toBe(true);
    expect(isPrelude('messages', 'event:  message_start ')).toBe(true);
    expect(isPrelude('messages', 'event: content_block_delta')).toBe(false);
    expect(isPrelude('messages', 'data:{"type":"ping"}')).toBe(true);
    expect(isPrelude('chat', 'data:{"choices":[{"index":0,"delta":{"content":"H"}}]}')).toBe(false);
    expect(isPrelude('chat', 'id: 7')).toBe(true);
  });
});

describe('OpeningFrames', () => {
  it('splits any text, cut anywhere, into the frames SseSplitter makes, however far it is read between pieces', () => {
    const piece = fc.constantFrom('data: {"a":1}', 'event: x', ': c', '\n', '\r', '\r\n', '\n\n', '\n\n\n', 'é', 'data: [DONE]');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 8 }), fc.array(fc.boolean(), { maxLength: 10 }), (parts, cuts, reads) => {
        const text = parts.join('');
        const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const chunks: string[] = [];
        let at = 0;
        for (const p of [...points, text.length]) {
          chunks.push(text.slice(at, Math.max(at, p)));
          at = Math.max(at, p);
        }
        const splitter = new SseSplitter(1 << 20);
        const expected = chunks.flatMap((c) => splitter.push(c));
        const opening = new OpeningFrames();
        const got: string[] = [];
        chunks.forEach((c, i) => {
          opening.push(c);
          // Sometimes read nothing after a piece: what is left is read with a later one.
          if (reads[i % Math.max(1, reads.length)] === false) return;
          for (let f = opening.next(); f !== undefined; f = opening.next()) got.push(f);
        });
        for (let f = opening.next(); f !== undefined; f = opening.next()) got.push(f);
        expect(got).toEqual(expected);
      }),
      { numRuns: 400 },
    );
  });
});
