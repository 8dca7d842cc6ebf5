import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mediaType, replyKind } from '../../src/gateway/reply/media.js';

describe('mediaType', () => {
  it('is the part before the first semicolon, trimmed and lowercased, for any header value', () => {
    const piece = fc.constantFrom('text/event-stream', 'Application/JSON', ';', ' ', '\t', 'charset=utf-8', 'x', '+json', '');
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.array(piece).map((p) => p.join(''))), (value) => {
        expect(mediaType(value)).toBe(value.split(';')[0]!.trim().toLowerCase());
        expect(mediaType([value, 'text/plain'])).toBe(mediaType(value));
      }),
      { numRuns: 500 },
    );
    expect(mediaType(undefined)).toBe('');
    expect(mediaType(42)).toBe('');
  });

  it('tells SSE, JSON and other replies apart', () => {
    expect(replyKind('text/event-stream')).toBe('sse');
    expect(replyKind(' Text/Event-Stream ; charset=utf-8')).toBe('sse');
    expect(replyKind('application/json')).toBe('json');
    expect(replyKind('application/problem+json; charset=utf-8')).toBe('json');
    expect(replyKind('text/plain')).toBe('other');
    expect(replyKind(undefined)).toBe('other');
  });
});
