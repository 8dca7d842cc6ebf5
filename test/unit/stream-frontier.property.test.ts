import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { documentSchema } from '../../src/config/schema.js';
import { buildChain } from '../../src/policy/build.js';
import { writeBack } from '../../src/protocol/content.js';
import { responseSegments } from '../../src/protocol/families.js';
import { ReplyBudget } from '../../src/stream/budget.js';
import { StreamGuard } from '../../src/stream/guard.js';

/**
 * StreamGuard releases text up to where a match with whitespace could still begin (Detector.openFrom) instead of
 * holding a fixed window. Streamed delta by delta, in any split, the client must get exactly the non-streamed
 * redaction: no part of a value that later completes may have gone out before it was matched.
 */
const config = documentSchema().parse({
  pack: { name: 't', version: '1' },
  policies: { chain: ['pii-detector', 'code-sanitizer', 'dlp-filter'] },
  policy: { 'pii-detector': { pci_mode: true, healthcare_mode: true } },
  providers: { targets: [{ id: 'a', provider: 'openai' }] },
});
const chain = buildChain(config, 'block', { markerSalt: 'x' });

const positives = readFileSync(new URL('../corpus/secrets/positives.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((l) => (JSON.parse(l) as { text: string }).text)
  .filter((_, i) => i % 7 === 0);

/** Values with whitespace inside, or decided by text after them: what a frontier could get wrong. */
const spaced = [
  'call me on +44 20 7946 0958 tomorrow',
  'the office line is 415 555 0132 (office) or 415-555-0199 ext. 204',
  '07700 900123 mobile',
  'card 4539 1488 0343 6467 exp 04/29',
  'cvv 123 and then the card is 4539 1488 0343 6467',
  'SSN: 512 44 7193',
  'social security number is 512-44-7193.',
  'IBAN GB82 WEST 1234 5698 7654 32 for the transfer',
  'pay DE89 3704 0044 0532 0130 00 now',
  'MRN: AB-1234567 and NPI 1234567893',
  'const token = "ghp_A1b2C3d4E5f6G7" +\n  "h8I9j0K1l2M3n4O5p6Q7r8";',
  "key = 'AKIAIOSFODNN7' + 'EXAMPLE'",
  'apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: correct horse battery staple\n  user: admin\n',
  'apiVersion: v1\nstringData:\n  password: correct horse battery staple\nkind: Secret\n',
  '{"data": {"token": "c2VjcmV0IHZhbHVlIGhlcmU="}, "kind": "Secret"}',
  'mail dana.whitfield@northwind-labs.com or 10.0.12.7',
  'tel5551234567 or +1 (415) 555-0132 x204, phone number is 020 7946 0958',
  'security code 737 for 4539 1488 0343 6467',
  '{"kind": "Secret", "stringData": {"password":\n  "correct horse battery staple"}}',
  'card no. 4539-1488-0343-6467 and iban de89 3704 0044 0532 0130 00',
];
const filler = fc.stringMatching(/^[a-z0-9 ,.:'"()+\-\n]{0,60}$/);
const piece = fc.oneof(fc.constantFrom(...spaced), fc.constantFrom(...positives));

function frames(chunks: string[]): string[] {
  return [
    ...chunks.map((c) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: c }, finish_reason: null }] })}\n\n`),
    'data: [DONE]\n\n',
  ];
}

function contentOf(released: string): string {
  let s = '';
  for (const line of released.split('\n')) {
    if (!line.startsWith('data: {')) continue;
    s += JSON.parse(line.slice(6)).choices?.[0]?.delta?.content ?? '';
  }
  return s;
}

function nonStreamed(text: string): string {
  const body = { choices: [{ index: 0, message: { role: 'assistant', content: text } }] };
  const segs = responseSegments('chat', body);
  writeBack(body, segs, chain.run('output', segs).edits);
  return body.choices[0]!.message.content;
}

describe('StreamGuard frontier: released text is the non-streamed redaction for any split', () => {
  it('delta by delta, with values that contain whitespace or depend on text after them', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(filler, piece), { minLength: 1, maxLength: 4 }), fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 60 }), (parts, sizes) => {
        const text = parts.map(([f, p]) => `${f} ${p} `).join('');
        const chunks: string[] = [];
        for (let pos = 0, k = 0; pos < text.length; k++) {
          const n = sizes[k % sizes.length]!;
          chunks.push(text.slice(pos, pos + n));
          pos += n;
        }
        const guard = new StreamGuard('chat', chain, new ReplyBudget(1 << 26));
        let released = '';
        const expected = nonStreamed(text);
        for (const f of frames(chunks)) {
          released += contentOf(guard.push(f));
          // At every moment the client holds a prefix of the final redaction: nothing sent is ever taken back.
          expect(expected.startsWith(released)).toBe(true);
        }
        released += contentOf(guard.end());
        expect(released).toBe(expected);
      }),
      { numRuns: 400 },
    );
  }, 120_000);

  it('holds back little of plain prose: the first text goes out within 64 characters', () => {
    const guard = new StreamGuard('chat', chain, new ReplyBudget(1 << 26));
    const prose = 'The handler reads the request, checks that the caller may see the record, and returns it as JSON. '.repeat(5);
    let sent = 0;
    let first = -1;
    for (let i = 0; i < prose.length; i += 4) {
      sent += Math.min(4, prose.length - i);
      if (contentOf(guard.push(frames([prose.slice(i, i + 4)])[0]!)).length > 0 && first < 0) first = sent;
    }
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThanOrEqual(64);
  });
});
