import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { quickTextDelta, writeTextDelta } from '../../src/protocol/quick-json.js';

/** JSON.parse's reading, or 'throws'. */
function parsed(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return 'throws';
  }
}

describe('quickTextDelta', () => {
  const frame = (index: number, text: string) => JSON.stringify({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } });

  it('property: an Anthropic text delta, any text and index: exactly what JSON.parse gives, or left to it', () => {
    fc.assert(
      fc.property(fc.nat(2 ** 31), fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' })), (index, text) => {
        const data = frame(index, text);
        const quick = quickTextDelta(data);
        if (quick !== undefined) expect(quick).toStrictEqual(JSON.parse(data));
        // Plain text (no escapes) and a small index always take the quick path.
        if (!/["\\\u0000-\u001f]/.test(text) && index < 1e8) expect(quick).toBeDefined();
      }),
      { numRuns: 2000 },
    );
  });

  it('property: any damage to such a frame is never read differently from JSON.parse, nor read when JSON.parse throws', () => {
    const base = frame(3, 'Hello, world');
    fc.assert(
      fc.property(fc.nat(base.length), fc.nat(6), fc.string({ maxLength: 4 }), (at, drop, insert) => {
        const data = base.slice(0, at) + insert + base.slice(Math.min(base.length, at + drop));
        const quick = quickTextDelta(data);
        if (quick !== undefined) expect(quick).toStrictEqual(parsed(data));
      }),
      { numRuns: 3000 },
    );
    for (const data of ['{"type":"content_block_delta","index":01,"delta":{"type":"text_delta","text":"x"}}', '{"type":"content_block_delta","index":-1,"delta":{"type":"text_delta","text":"x"}}', `${base} `, base.replace('"}}', '"} }')]) {
      const quick = quickTextDelta(data);
      if (quick !== undefined) expect(quick).toStrictEqual(parsed(data));
    }
  });

  it('property: writeTextDelta gives exactly JSON.stringify of the frame, or declines', () => {
    const anyValue = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.integer(), fc.double(), fc.constant(-0), fc.constant(null), fc.constant(undefined), fc.constant({}));
    fc.assert(
      fc.property(
        fc.oneof(fc.nat(2 ** 31), anyValue),
        fc.oneof(fc.string(), fc.string({ unit: 'binary' }), anyValue),
        fc.constantFrom('content_block_delta', 'content_block_start'),
        fc.constantFrom('text_delta', 'input_json_delta'),
        fc.constantFrom('plain', 'reordered', 'extra', 'deltaExtra', 'deltaReordered'),
        (index, text, type, deltaType, how) => {
          const delta: Record<string, unknown> = how === 'deltaReordered' ? { text, type: deltaType } : { type: deltaType, text };
          if (how === 'deltaExtra') delta.citations = null;
          const frame: Record<string, unknown> = how === 'reordered' ? { index, type, delta } : { type, index, delta };
          if (how === 'extra') frame.usage = null;
          const written = writeTextDelta(frame);
          if (written !== undefined) expect(written).toBe(JSON.stringify(frame));
          if (how === 'plain' && type === 'content_block_delta' && deltaType === 'text_delta' && typeof index === 'number' && typeof text === 'string') expect(written).toBeDefined();
        },
      ),
      { numRuns: 3000 },
    );
  });
});
