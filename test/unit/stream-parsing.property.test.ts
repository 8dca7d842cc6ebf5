import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DetectorMatch } from '../../src/detect/types.js';
import type { DetectionRule } from '../../src/policy/types.js';
import { parseFrame, ReplyTooLarge, SseSplitter } from '../../src/protocol/sse.js';
import { JsonTextWindows } from '../../src/stream/json-text.js';
import { TextWindow } from '../../src/stream/window.js';

/** Split `text` at the given points into pieces. */
function pieces(text: string, cuts: number[]): string[] {
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(text.slice(prev, p));
    prev = p;
  }
  out.push(text.slice(prev));
  return out;
}

function cpuMs(fn: () => void): number {
  const start = process.cpuUsage();
  fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

describe('SseSplitter', () => {
  const line = fc.stringMatching(/^[a-z:{}" ]{0,12}$/);
  const eol = fc.constantFrom('\n', '\r\n', '\r');

  it('property: any line endings, any chunking: the frames of the normalised text', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.array(fc.tuple(line, eol), { minLength: 1, maxLength: 4 }), eol), { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 20 }), (frames, cuts) => {
        const text = frames.map(([lines, end]) => lines.map(([l, e]) => l + e).join('') + end).join('');
        const expected = text
          .replace(/\r\n?/g, '\n')
          .split('\n\n')
          .slice(0, -1)
          .filter((f) => f.length > 0 && f !== '\n');
        const splitter = new SseSplitter(1 << 20);
        const got = pieces(text, cuts).flatMap((p) => splitter.push(p));
        const rest = splitter.end();
        expect(got).toEqual(expected);
        // What is left without a blank line after it is the last frame (nothing when it is only whitespace).
        const last = text.replace(/\r\n?/g, '\n').split('\n\n').at(-1)!;
        expect(rest.replace(/\n/g, '')).toBe(last.trim() ? last.replace(/\n/g, '') : '');
      }),
      { numRuns: 500 },
    );
  });

  it('a frame over the limit throws ReplyTooLarge, however it arrives', () => {
    const s = new SseSplitter(1000);
    expect(() => {
      for (let i = 0; i < 20; i++) s.push('x'.repeat(100));
    }).toThrow(ReplyTooLarge);
  });

  it('looks at each character once: a 16 MB unterminated frame in 1 KB chunks costs about 16 times 1 MB, not 256 times', () => {
    const feed = (mb: number) => {
      const s = new SseSplitter(64 << 20);
      const chunk = 'a'.repeat(1024);
      return cpuMs(() => {
        s.push('data: ');
        for (let i = 0; i < mb * 1024; i++) s.push(chunk);
        s.push('\n\n');
      });
    };
    feed(1);
    const small = Math.max(feed(1), 1);
    const large = feed(16);
    expect(large).toBeLessThan(2000);
    expect(large / small).toBeLessThan(64);
  });
});

describe('parseFrame', () => {
  /** The frame read line by line, as the SSE format defines it (what parseFrame did for every frame before its quick path). */
  function byLines(raw: string) {
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

  it('property: any lines in any order read as the line-by-line reading reads them', () => {
    const line = fc.oneof(
      fc.constantFrom('data: {"a":1}', 'data:{"a":1}', 'data:', 'data: ', 'data:  x', 'event: ping', 'event:ping ', 'event:', ': keep-alive', 'id: 7', 'retry: 10', '', ' data: x', 'dat'),
      fc.stringMatching(/^(data|event|id)?:? ?[a-z{}" ]{0,8}$/),
    );
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 4 }), (lines) => {
        const raw = lines.join('\n');
        expect(parseFrame(raw)).toEqual(byLines(raw));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('JsonTextWindows', () => {
  const token: DetectionRule = {
    name: 't',
    detector: {
      maxMatchLength: 16,
      scan: (text: string): DetectorMatch[] => [...text.matchAll(/tok_[a-z0-9]{8}/g)].map((m) => ({ type: 'SECRET', rule: 'tok', start: m.index, end: m.index + m[0].length })),
    },
    action: 'redact',
    phases: ['output'],
    marker: () => '[REDACTED:SECRET]',
  };
  const run = (json: string, cuts: number[], rules: DetectionRule[]) => {
    const w = new JsonTextWindows(() => new TextWindow(rules.map((rule) => ({ policy: 'p', rule })), () => undefined));
    let out = '';
    for (const p of pieces(json, cuts)) out += w.push(p);
    return out + w.end();
  };
  /** What the non-streamed path does: every string (member names too) redacted, numbers that change become strings. */
  const redactLeaves = (v: unknown): unknown => {
    if (typeof v === 'string') return v.replace(/tok_[a-z0-9]{8}/g, '[REDACTED:SECRET]');
    if (Array.isArray(v)) return v.map(redactLeaves);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [redactLeaves(k) as string, redactLeaves(x)]));
    return v;
  };
  const withTokens = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.string(),
      fc.constantFrom('tok_abcd1234', 'a\ntok_zzzz9999\t"q"', '\\tok_00000000', 'é\u2028tok_aaaa1111\ud83d\ude00'),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.constant(null),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(fc.oneof(fc.string({ maxLength: 6 }), fc.constant('tok_keykey12')), tie('value'), { maxKeys: 4 }),
    ),
  })).value;

  it('property: any JSON document, escaped in any way, split anywhere: the output parses to the redaction of its leaves', () => {
    fc.assert(
      fc.property(withTokens, fc.boolean(), fc.array(fc.nat(), { maxLength: 30 }), (value, asciiOnly, cuts) => {
        let json = JSON.stringify(value, null, cuts.length % 2 ? 1 : undefined);
        // Also the \uXXXX form of every non-ASCII character, as some encoders write it.
        if (asciiOnly) json = json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
        const out = run(json, cuts, [token]);
        expect(JSON.parse(out)).toEqual(redactLeaves(JSON.parse(JSON.stringify(value))));
        expect(out).not.toMatch(/tok_[a-z0-9]{8}/);
      }),
      { numRuns: 1000 },
    );
  });

  it('with no rules the document passes unchanged in meaning', () => {
    fc.assert(
      fc.property(fc.json(), fc.array(fc.nat(), { maxLength: 20 }), (json, cuts) => {
        expect(JSON.parse(run(json, cuts, []))).toEqual(JSON.parse(json));
      }),
    );
  });

  it('a number a redaction changes becomes a JSON string', () => {
    const card: DetectionRule = { ...token, detector: { maxMatchLength: 19, scan: (t: string) => [...t.matchAll(/\d{16}/g)].map((m) => ({ type: 'CARD', rule: 'card', start: m.index, end: m.index + 16 })) } };
    expect(JSON.parse(run('{"n":4111111111111111,"m":12}', [5, 9], [card]))).toEqual({ n: '[REDACTED:SECRET]', m: 12 });
  });
});
