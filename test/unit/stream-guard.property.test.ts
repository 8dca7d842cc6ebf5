import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Detector, DetectorMatch } from '../../src/detect/types.js';
import { PolicyChain } from '../../src/policy/engine.js';
import type { DetectionRule, PolicyInstance } from '../../src/policy/types.js';
import { writeBack } from '../../src/protocol/content.js';
import { responseSegments } from '../../src/protocol/families.js';
import type { Family } from '../../src/providers/targets.js';
import { ReplyBudget } from '../../src/stream/budget.js';
import { StreamGuard } from '../../src/stream/guard.js';

const budget = () => new ReplyBudget(64 * 1024 * 1024);

/** Stand-in detectors with the shapes real ones have: a prefixed token, an email, and a multi-line key block. */
function regexDetector(type: string, re: RegExp, maxMatchLength: number, maxSpacedMatchLength?: number): Detector {
  return {
    maxMatchLength,
    ...(maxSpacedMatchLength !== undefined ? { maxSpacedMatchLength } : {}),
    scan(text: string): DetectorMatch[] {
      return [...text.matchAll(re)].map((m) => ({ type, rule: type.toLowerCase(), start: m.index, end: m.index + m[0].length }));
    },
  };
}
const rules: DetectionRule[] = [
  { name: 's', detector: regexDetector('SECRET', /\bsk-[A-Za-z0-9]{20,48}\b/g, 52, 8), action: 'redact', phases: ['output'], marker: (m) => `[REDACTED:${m.type}]` },
  { name: 'e', detector: regexDetector('EMAIL', /\b[a-z0-9.]{1,20}@[a-z0-9-]{1,20}\.(?:com|org|io)\b/g, 64), action: 'redact', phases: ['output'], marker: (m) => `[REDACTED:${m.type}]` },
  { name: 'k', detector: regexDetector('KEY', /-----BEGIN RSA PRIVATE KEY-----[\s\S]{1,3000}?-----END RSA PRIVATE KEY-----/g, 3100, 16), action: 'redact', phases: ['output'], marker: () => '[REDACTED:KEY]' },
];
const chain = new PolicyChain([{ kind: 'test', rules } satisfies PolicyInstance], 'block');

const secret = fc.stringMatching(/^[A-Za-z0-9]{24,40}$/).map((s) => `sk-${s}`);
const email = fc.tuple(fc.stringMatching(/^[a-z]{1,8}$/), fc.stringMatching(/^[a-z]{2,8}$/)).map(([u, d]) => `${u}@${d}.com`);
const pem = fc.stringMatching(/^[A-Za-z0-9+/]{200,600}$/).map((b) => `-----BEGIN RSA PRIVATE KEY-----\n${b.replace(/(.{64})/g, '$1\n')}\n-----END RSA PRIVATE KEY-----`);
const filler = fc.stringMatching(/^[a-z ,.\n]{0,80}$/);
const reply = fc.array(fc.tuple(filler, fc.oneof(secret, email, pem, fc.constant(''))), { minLength: 1, maxLength: 6 }).map((parts) => ({
  text: parts.map(([f, s]) => `${f} ${s}`).join(' '),
  planted: parts.map(([, s]) => s).filter((s) => s.length > 0),
}));

/** Split `text` at the given fractions into 1..n chunks. */
function split(text: string, cuts: number[]): string[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * text.length)))].sort((a, b) => a - b);
  const out: string[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(text.slice(prev, p));
    prev = p;
  }
  out.push(text.slice(prev));
  return out.filter((c, i) => c.length > 0 || i === 0);
}

function sse(family: Family, chunks: string[]): string {
  if (family === 'chat') {
    const frames = [{ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }];
    for (const c of chunks) frames.push({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: c } as never, finish_reason: null }] });
    frames.push({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: {} as never, finish_reason: 'stop' as never }] });
    return frames.map((f) => `data: ${JSON.stringify(f)}\n\n`).join('') + 'data: [DONE]\n\n';
  }
  if (family === 'messages') {
    const ev = (name: string, data: unknown) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
    return (
      ev('message_start', { type: 'message_start', message: { id: 'm', content: [], usage: { input_tokens: 1 } } }) +
      ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }) +
      chunks.map((c) => ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: c } })).join('') +
      ev('content_block_stop', { type: 'content_block_stop', index: 0 }) +
      ev('message_stop', { type: 'message_stop' })
    );
  }
  const ev = (name: string, data: Record<string, unknown>) => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;
  const full = chunks.join('');
  return (
    chunks.map((c) => ev('response.output_text.delta', { output_index: 0, content_index: 0, delta: c })).join('') +
    ev('response.output_text.done', { output_index: 0, content_index: 0, text: full }) +
    ev('response.completed', { response: { output: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: full }] }] } })
  );
}

/** What a client assembles from the stream: the text deltas, plus the final text of Responses' done event. */
function clientText(family: Family, stream: string): { deltas: string; final?: string } {
  let deltas = '';
  let final: string | undefined;
  for (const frame of stream.split('\n\n')) {
    const data = frame.split('\n').find((l) => l.startsWith('data: '))?.slice(6);
    if (!data || data === '[DONE]') continue;
    const o = JSON.parse(data);
    if (family === 'chat') deltas += o.choices?.[0]?.delta?.content ?? '';
    else if (family === 'messages') deltas += o.delta?.text ?? '';
    else if (o.type === 'response.output_text.delta') deltas += o.delta;
    else if (o.type === 'response.completed') final = o.response.output[0].content[0].text;
  }
  return { deltas, ...(final !== undefined ? { final } : {}) };
}

function nonStreamed(family: Family, text: string): string {
  const body: Record<string, any> =
    family === 'chat'
      ? { choices: [{ index: 0, message: { role: 'assistant', content: text } }] }
      : family === 'messages'
        ? { content: [{ type: 'text', text }] }
        : { output: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text }] }] };
  const segs = responseSegments(family, body);
  writeBack(body, segs, chain.run('output', segs).edits);
  return family === 'chat' ? body.choices[0].message.content : family === 'messages' ? body.content[0].text : body.output[0].content[0].text;
}

const redactObject = (family: Family) => (body: Record<string, unknown>) => {
  const segs = responseSegments(family, body);
  writeBack(body, segs, chain.run('output', segs).edits);
};

describe('StreamGuard: any split of a reply gives the non-streamed redaction and leaks nothing', () => {
  for (const family of ['chat', 'messages', 'responses'] as const) {
    it(family, () => {
      fc.assert(
        fc.property(reply, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 7 }), { maxLength: 20 }), ({ text, planted }, cuts, byteCuts) => {
          // Keep-alive comments between frames must not release held text.
          const wire = sse(family, split(text, cuts)).replaceAll('\n\n', '\n\n: keep-alive\n\n');
          const guard = new StreamGuard(family, chain, budget());
          // Feed the wire bytes in arbitrary pieces too, so frames themselves arrive split.
          let out = '';
          let pos = 0;
          for (const n of byteCuts) {
            out += guard.push(wire.slice(pos, pos + n * 37));
            pos += n * 37;
          }
          out += guard.push(wire.slice(pos)) + guard.end();
          const expected = nonStreamed(family, text);
          const got = clientText(family, out);
          expect(got.deltas).toBe(expected);
          if (family === 'responses') expect(got.final).toBe(expected);
          for (const p of planted) expect(out).not.toContain(p);
        }),
        { numRuns: 300 },
      );
    });
  }

  it('holds back only a bounded window: plain text flows before the reply ends', () => {
    const guard = new StreamGuard('chat', chain, budget());
    const words = 'the quick brown fox jumps over the lazy dog '.repeat(40);
    const out = guard.push(sse('chat', [words]).split('data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}')[0]!);
    const released = clientText('chat', out).deltas;
    expect(released.length).toBeGreaterThan(words.length - 3200);
    expect(words.startsWith(released)).toBe(true);
  });

  it('ends a blocked stream with the protocol error frame and never releases the match', () => {
    const blocking = new PolicyChain([{ kind: 'code-sanitizer', rules: [{ ...rules[0]!, action: 'block' }] }], 'block');
    for (const family of ['chat', 'messages', 'responses'] as const) {
      const guard = new StreamGuard(family, blocking, budget());
      const key = 'sk-ABCDEFGHIJKLMNOPQRSTUVWX1234';
      const out = guard.push(sse(family, ['hello there, ', key.slice(0, 10), key.slice(10), ' bye'])) + guard.end();
      expect(out).not.toContain('ABCDEFGHIJ');
      expect(guard.blocked).toMatchObject({ policy: 'code-sanitizer', verdict: 'block', finding: { source: 'output_text' } });
      if (family === 'chat') expect(out).toMatch(/data: \{"error":\{"message":"code-sanitizer blocked the response \(output_blocked\) \[ended mid-stream/);
      else expect(out).toMatch(/event: error\ndata: /);
      // Anthropic: a new empty text block completes before the error (Claude Code would otherwise re-send the request).
      if (family === 'messages') expect(out).toMatch(/"content_block":\{"type":"text","text":""\}\}\n\nevent: content_block_stop\ndata: \{"type":"content_block_stop","index":1\}\n\nevent: error\n/);
      if (family === 'responses') expect(out).toMatch(/event: response\.failed\ndata: .*"code":"invalid_prompt"/);
      expect(out).not.toContain('[DONE]');
    }
  });
});

describe('StreamGuard with the real detectors and corpus secrets', () => {
  it('streamed output equals the non-streamed redaction for any split, and leaks no secret that redaction removes', async () => {
    const { readFileSync } = await import('node:fs');
    const { buildChain } = await import('../../src/policy/build.js');
    const { documentSchema } = await import('../../src/config/schema.js');
    const positives = readFileSync(new URL('../corpus/secrets/positives.jsonl', import.meta.url), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { text: string; secret: string });
    const config = documentSchema().parse({
      pack: { name: 't', version: '1' },
      policies: { chain: ['pii-detector', 'code-sanitizer', 'dlp-filter'] },
      policy: { 'dlp-filter': { sensitivity_level: 'restricted', blocked_terms: ['project nightingale'] } },
      providers: { targets: [{ id: 'a', provider: 'openai' }] },
    });
    const real = buildChain(config, 'block', { markerSalt: 'x' });
    const redactWith = (family: Family) => (body: Record<string, unknown>) => {
      const segs = responseSegments(family, body);
      writeBack(body, segs, real.run('output', segs).edits);
    };
    const piece = fc.oneof(
      fc.constantFrom(...positives),
      fc.constantFrom(
        { text: 'write to dana.whitfield@northwind-labs.com today', secret: 'dana.whitfield@northwind-labs.com' },
        { text: 'card 4539 1488 0343 6467 exp 04/29', secret: '4539 1488 0343 6467' },
        { text: 'SSN: 512-44-7193', secret: '512-44-7193' },
        { text: 'this is INTERNAL ONLY, about Project Nightingale', secret: 'Project Nightingale' },
      ),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(filler, piece), { minLength: 1, maxLength: 4 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 30 }), fc.constantFrom(...(['chat', 'messages', 'responses'] as const)), (parts, cuts, family) => {
        const text = parts.map(([f, p]) => `${f}\n${p.text}\n`).join('');
        const wire = sse(family, split(text, cuts));
        const guard = new StreamGuard(family, real, budget());
        const out = guard.push(wire) + guard.end();
        const body: Record<string, any> = family === 'chat' ? { choices: [{ index: 0, message: { content: text } }] } : family === 'messages' ? { content: [{ type: 'text', text }] } : { output: [{ type: 'message', content: [{ type: 'output_text', text }] }] };
        redactWith(family)(body);
        const expected = family === 'chat' ? body.choices[0].message.content : family === 'messages' ? body.content[0].text : body.output[0].content[0].text;
        expect(clientText(family, out).deltas).toBe(expected);
        for (const [, p] of parts) if (!expected.includes(p.secret)) expect(out).not.toContain(p.secret);
      }),
      { numRuns: 400 },
    );
  });
});
