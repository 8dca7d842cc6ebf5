import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TailHold } from '../../src/gateway/tail-hold.js';

const FRAMES = [
  'data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n',
  'data: {"choices":[{"index":0,"delta":{"content":"lo"}}]}\n\n',
  'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n',
  'data: [DONE]\n\n',
];

function cut(text: string, points: number[]): string[] {
  const at = [...new Set(points.map((p) => p % (text.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let prev = 0;
  for (const p of [...at, text.length]) {
    if (p > prev) out.push(text.slice(prev, p));
    prev = Math.max(prev, p);
  }
  return out;
}

describe('TailHold (SSE)', () => {
  it('property: however the stream is cut, the terminal frame never goes out before release, and all of it after, in order', () => {
    const text = FRAMES.join('');
    const terminal = text.indexOf('data: [DONE]');
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 10 }), fc.boolean(), (points, asBuffers) => {
        const hold = new TailHold(true);
        let sent = '';
        for (const piece of cut(text, points)) {
          const out = hold.pass(asBuffers ? Buffer.from(piece) : piece);
          sent += typeof out === 'string' ? out : out.toString();
        }
        // A piece of the terminal line can go out before it is recognised (a cut inside `data: [DONE]`), never the whole line.
        expect(sent.length).toBeLessThan(terminal + 'data: [DONE]'.length);
        expect(text.startsWith(sent)).toBe(true);
        expect(sent + hold.release().map(String).join('')).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('the chunk that carries the terminal frame is held whole: its tokens go out with the end, in one write', () => {
    const hold = new TailHold(true);
    expect(hold.pass(FRAMES[0]!)).toBe(FRAMES[0]);
    expect(hold.pass(FRAMES.slice(1).join(''))).toBe('');
    expect(hold.release()).toEqual([FRAMES[1]! + FRAMES[2]!, FRAMES[3]]);
  });

  it('a stream that cannot be given its end still gets every token before the terminal frame', () => {
    const hold = new TailHold(true);
    hold.pass(FRAMES[0]!);
    hold.pass(FRAMES.slice(1).join(''));
    expect(hold.releaseBeforeEnd()).toEqual([FRAMES[1]! + FRAMES[2]!]);
    expect(hold.release()).toEqual([]);
  });
});
