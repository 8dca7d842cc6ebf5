/**
 * Properties of the third-round secret classes that split or redact: a Kubernetes Secret value given as a block
 * scalar over any number of lines, among comment and blank lines, is reported as one span whose characters,
 * whitespace removed, are exactly the value (so redacting the span removes the value and nothing after it); and
 * the word-boundary test of context rules agrees with how the identifier was built from words.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSecretScanner } from '../../src/detect/secrets/index.js';
import { B62, prng } from '../helpers/prng.js';
import { endsInsideLaterWord } from '../../src/detect/secrets/rule.js';

const scanner = createSecretScanner();


describe('Kubernetes Secret block scalars', () => {
  it('one span per value, holding exactly the value, whatever the wrapping, comments and blank lines', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 5 }),
        fc.constantFrom('|', '>-', '|+', '>'),
        fc.array(fc.constantFrom('', '  # a comment', '  #'), { maxLength: 3 }),
        (seed, lines, indicator, between) => {
          const r = prng(seed);
          const value = Buffer.from(`k-${r(B62, 30)}`).toString('base64');
          const width = Math.ceil(value.length / lines);
          const wrapped: string[] = [];
          for (let i = 0; i < value.length; i += width) wrapped.push(`    ${value.slice(i, i + width)}`);
          const plain = Buffer.from(`p-${r(B62, 24)}`).toString('base64');
          const text = ['apiVersion: v1', 'kind: Secret', 'data:', ...between, `  conf: ${indicator}`, ...wrapped, ...between, `  other: ${plain}`, 'type: Opaque', ''].join('\n');
          const spans = scanner.scan(text);
          expect(spans.map((m) => text.slice(m.start, m.end).replace(/\s+/g, ''))).toEqual([value, plain]);
          // Redacting the spans leaves the rest of the manifest as it was.
          let redacted = text;
          for (const m of [...spans].reverse()) redacted = redacted.slice(0, m.start) + '[SECRET]' + redacted.slice(m.end);
          expect(redacted).toContain('type: Opaque');
          expect(redacted).not.toContain(value.slice(0, width));
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('a key name and the words of its identifier', () => {
  const word = fc.stringMatching(/^[a-z]{2,8}$/);
  const cap = (w: string): string => w[0]!.toUpperCase() + w.slice(1);

  it('a match ending at a word boundary, or inside the word it began with, is the name', () => {
    fc.assert(
      fc.property(fc.array(word, { minLength: 2, maxLength: 4 }), fc.integer({ min: 1, max: 3 }), (words, k) => {
        const n = Math.min(k, words.length - 1);
        const camel = words[0]! + words.slice(1).map(cap).join('');
        const keyLen = words.slice(0, n).join('').length;
        expect(endsInsideLaterWord(camel, 0, keyLen)).toBe(false);
        // Inside the first word (a longer lower-case word that starts with the name).
        expect(endsInsideLaterWord(camel, 0, Math.max(1, words[0]!.length - 1))).toBe(false);
      }),
    );
  });

  it('a match ending inside a later camelCase word (not before a plural s) is not', () => {
    fc.assert(
      fc.property(word, fc.stringMatching(/^[a-rt-z][a-z]{2,7}$/), (first, second) => {
        const camel = first + cap(second);
        // The match takes the second word's capital and stops before its next lower-case letter.
        expect(endsInsideLaterWord(camel, 0, first.length + 1)).toBe(true);
      }),
    );
  });
});
