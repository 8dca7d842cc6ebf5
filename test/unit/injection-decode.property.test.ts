/**
 * findEncodedRuns rejects most base64 and hex runs (long identifiers, hashes) by decoding their first bytes in place
 * and finding a control byte. Here that in-place decoding is held to Buffer's own decoder, the reference it replaced.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base64PrefixBinary, hexPrefixBinary } from '../../src/detect/injection/decode.js';

const binary = (bytes: Uint8Array): boolean => bytes.some((b) => (b < 32 && b !== 9 && b !== 10 && b !== 13) || b === 0x7f);
const B64_DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_';
/** Mostly printable bytes, so that both answers occur often. */
const someBytes = fc.uint8Array({ minLength: 24, maxLength: 48 }).chain((raw) =>
  fc.boolean().map((text) => (text ? raw.map((b) => 32 + (b % 95)) : raw)),
);

describe('in-place prefix decoding of encoded runs', () => {
  it('base64 (standard, URL-safe, or any digits): the first 18 bytes as Buffer decodes them', () => {
    const run = fc.oneof(
      someBytes.map((b) => Buffer.from(b).toString('base64').replace(/=+$/, '')),
      someBytes.map((b) => Buffer.from(b).toString('base64url')),
      fc.array(fc.constantFrom(...B64_DIGITS), { minLength: 25, maxLength: 64 }).map((a) => a.join('')),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 8 }), run, (before, body) => {
        fc.pre(body.length > 24);
        const text = `${before}${body} tail`;
        expect(base64PrefixBinary(text, before.length)).toBe(binary(Buffer.from(body.slice(0, 24), 'base64')));
      }),
      { numRuns: 2000 },
    );
  });

  it('hex (either case): the first 8 bytes as Buffer decodes them', () => {
    const run = someBytes.chain((b) => fc.boolean().map((upper) => (upper ? Buffer.from(b).toString('hex').toUpperCase() : Buffer.from(b).toString('hex'))));
    fc.assert(
      fc.property(fc.string({ maxLength: 8 }), run, (before, body) => {
        const text = `${before}${body}`;
        expect(hexPrefixBinary(text, before.length)).toBe(binary(Buffer.from(body.slice(0, 16), 'hex')));
      }),
      { numRuns: 2000 },
    );
  });
});
