/**
 * A token hidden by an encoding is still a token: split by zero-width characters or soft hyphens, in full-width
 * letters and digits, base64 / hex / percent-encoded, or split into concatenated string literals. Planted in
 * ordinary text under a random encoding, it is found, and once the reported spans of the ORIGINAL text are
 * replaced, no decoding of the result (computed here independently of the scanner) contains the token, while the
 * text around it is untouched.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSecretScanner } from '../../src/detect/secrets/index.js';
import { B62, prng } from '../helpers/prng.js';

const scanner = createSecretScanner();

const TOKENS: Array<(r: ReturnType<typeof prng>) => string> = [
  (r) => `ghp_${r(B62, 36)}`,
  (r) => `AKIA${r('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16)}`,
  (r) => `xoxb-${r('0123456789', 11)}-${r('0123456789', 12)}-${r(B62, 24)}`,
  (r) => `sk_live_${r(B62, 32)}`,
  (r) => `glpat-${r(B62, 20)}`,
];

const INVISIBLE = ['\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad'];
type Encoding = (token: string, r: ReturnType<typeof prng>) => string;
const ENCODINGS: Record<string, Encoding> = {
  invisible: (t, r) => {
    // One to four invisible characters at inner positions.
    const cuts = new Set<number>();
    const k = 1 + (r('0123', 1).charCodeAt(0) - 48);
    for (let i = 0; i < k; i++) cuts.add(1 + (r(B62, 1).charCodeAt(0) % (t.length - 1)));
    let out = '';
    for (let i = 0; i < t.length; i++) out += (cuts.has(i) ? INVISIBLE[r(B62, 1).charCodeAt(0) % INVISIBLE.length]! : '') + t[i]!;
    return out;
  },
  fullWidth: (t) => t.replace(/[A-Za-z0-9]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0)),
  base64: (t) => Buffer.from(t).toString('base64'),
  base64url: (t) => Buffer.from(t).toString('base64url'),
  hex: (t) => Buffer.from(t).toString('hex'),
  percent: (t) => [...t].map((c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')).join(''),
  joined: (t, r) => {
    const cut = 6 + (r(B62, 1).charCodeAt(0) % (t.length - 10));
    const op = [' + ', ' . ', ' ', ' +\n    '][r('0123', 1).charCodeAt(0) - 48]!;
    return `${t.slice(0, cut)}"${op}"${t.slice(cut)}`;
  },
};
const CONTEXTS: Array<[string, string]> = [
  ['config_value: ', '\n'],
  ['  "blob": "', '",\n'],
  ['const x = "', '";\n'],
  ['<value>', '</value>\n'],
  ['export SETTING=', '\n'],
];

/** Independent decodings of a whole text: what a reader of the redacted text could recover. */
function decodings(s: string): string[] {
  const unicode = s.normalize('NFKC').replace(/[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]/g, '');
  const percent = unicode.replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  const joined = percent.replace(/["'][ \t]*(?:\+|\.)?[ \t]*(?:\r?\n[ \t]*)?["']/g, '');
  const runs = joined.match(/[A-Za-z0-9+/=_-]{8,}/g) ?? [];
  const b64 = runs.map((x) => Buffer.from(x, 'base64').toString('latin1')).join(' ');
  const hex = (joined.match(/(?:[0-9A-Fa-f]{2}){4,}/g) ?? []).map((x) => Buffer.from(x, 'hex').toString('latin1')).join(' ');
  return [s, unicode, percent, joined, b64, hex];
}

function redact(text: string): string {
  const ms = scanner.scan(text).sort((a, b) => b.start - a.start);
  let out = text;
  for (const m of ms) out = out.slice(0, m.start) + '[REDACTED]' + out.slice(m.end);
  return out;
}

describe('secrets hidden by an encoding', () => {
  it('are found, and the redacted text holds the token in no decoding while its context is untouched', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.constantFrom(...TOKENS.keys()),
        fc.constantFrom(...Object.keys(ENCODINGS)),
        fc.constantFrom(...CONTEXTS.keys()),
        fc.constantFrom('', 'Some notes about the deploy.\n', 'x'.repeat(700) + '\n'),
        (seed, ti, enc, ci, lead) => {
          const r = prng(seed);
          const token = TOKENS[ti]!(r);
          const encoded = ENCODINGS[enc]!(token, r);
          const [before, after] = CONTEXTS[ci]!;
          const prefix = `${lead}${before}`;
          const text = `${prefix}${encoded}${after}`;
          expect(scanner.scan(text).length, `${enc}: ${JSON.stringify(text)}`).toBeGreaterThan(0);
          const redacted = redact(text);
          for (const d of decodings(redacted)) expect(d.includes(token), `${enc} leaves the token in ${JSON.stringify(d)}`).toBe(false);
          expect(redacted.startsWith(lead + before.slice(0, -1))).toBe(true);
          expect(redacted.endsWith(after.slice(1))).toBe(true);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('encoded text that is not a token is left alone', () => {
    const texts = [
      `data: ${Buffer.from('hello, this is ordinary configuration text').toString('base64')}`,
      `hash: ${'9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'}`,
      `const greeting = "Hello" + "World";`,
      'path: src%2Fdetect%2Fsecrets%2Fviews.ts',
      'ｈｅｌｌｏ ｗｏｒｌｄ in full width\u200b',
    ];
    for (const t of texts) expect(scanner.scan(t), t).toEqual([]);
  });
});
