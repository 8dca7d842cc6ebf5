import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Detector, DetectorMatch } from '../../src/detect/types.js';
import { PolicyChain } from '../../src/policy/engine.js';
import type { DetectionRule, PolicyInstance } from '../../src/policy/types.js';
import { RepeatedChunks } from '../../src/protocol/quick-json.js';
import { ReplyBudget } from '../../src/stream/budget.js';
import { StreamGuard } from '../../src/stream/guard.js';

type Obj = Record<string, unknown>;

/** JSON.parse's reading, or 'throws'. */
function parsed(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return 'throws';
  }
}

/** Strings with what JSON treats specially: quotes, backslashes, control characters, lone surrogates, astral characters. */
const tricky = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: 'binary' }),
  fc.constantFrom('', '"', '\\', '\\"', '\u0000', '\n', '\u2028', '\ud800', '\udc00x', '😀', '</script>', '"}]}', '","content":"x', '\\u0022'),
);
const plainValue = fc.oneof(tricky, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), fc.constant(-0));
const memberName = fc.oneof(fc.constantFrom('id', 'object', 'created', 'model', 'system_fingerprint', 'service_tier', 'usage', 'obfuscation', '__proto__', '1', 'choices', 'content', 'delta'), tricky);

/** A chat chunk: the usual envelope, sometimes with extra members (plain or not), and a content delta. */
const chunk = fc
  .record({
    id: tricky,
    created: fc.oneof(fc.nat(), plainValue),
    model: tricky,
    extra: fc.array(fc.tuple(memberName, fc.oneof(plainValue, fc.constant({ a: 1 }), fc.constant([1]))), { maxLength: 3 }),
    choiceExtra: fc.array(fc.tuple(memberName, plainValue), { maxLength: 2 }),
    content: tricky,
  })
  .map(({ id, created, model, extra, choiceExtra, content }) => {
    const o: Obj = { id, object: 'chat.completion.chunk', created, model };
    for (const [k, v] of extra) if (k !== 'choices') o[k] = v;
    const ch: Obj = { index: 0 };
    for (const [k, v] of choiceExtra) if (k !== 'delta') ch[k] = v;
    ch.delta = { content };
    ch.logprobs = null;
    ch.finish_reason = null;
    o.choices = [ch];
    return o;
  });

/** Ways to write the same chunk, or a damaged one: whitespace, duplicate members, escapes, member order, cuts. */
const variant = fc.constantFrom('same', 'space', 'newline', 'duplicate', 'duplicateContent', 'escape', 'reorder', 'extra', 'cut', 'numberForm');
function write(o: Obj, how: string, content: string, at: number): string {
  const c = structuredClone(o);
  ((c.choices as Obj[])[0]!.delta as Obj).content = content;
  const text = JSON.stringify(c);
  switch (how) {
    case 'space':
      return text.replace(/,"/, ', "');
    case 'newline':
      return text.replace('{"', '{\n"');
    case 'duplicate':
      return text.replace('{"id":', '{"id":"other","id":');
    case 'duplicateContent':
      return text.replace('"delta":{"content":', '"delta":{"content":"x","content":');
    case 'escape':
      return text.replace('"model":"', '"model":"\\u0041');
    case 'reorder':
      return JSON.stringify({ choices: c.choices, ...c });
    case 'extra':
      return text.slice(0, -1) + ',"obfuscation":"abc"}';
    case 'cut':
      return text.slice(0, at % (text.length + 1)) + text.slice((at % (text.length + 1)) + 1);
    case 'numberForm':
      return text.replace(/"created":(\d+)/, '"created":$1.0');
    default:
      return text;
  }
}

describe('RepeatedChunks', () => {
  it('property: after any learnt frame, a read is exactly what JSON.parse gives, or left to it', () => {
    fc.assert(
      fc.property(chunk, variant, fc.array(fc.tuple(variant, tricky, fc.nat()), { minLength: 1, maxLength: 6 }), fc.nat(), (o, learnHow, later, at) => {
        const r = new RepeatedChunks();
        const first = write(o, learnHow, String(((o.choices as Obj[])[0]!.delta as Obj).content), at);
        const firstParsed = parsed(first);
        if (firstParsed !== 'throws') r.learn(first, firstParsed);
        for (const [how, content, cut] of later) {
          const data = write(o, how, content, cut);
          const quick = r.read(data);
          if (quick !== undefined) expect(quick).toStrictEqual(parsed(data));
          const full = parsed(data);
          if (quick === undefined && full !== 'throws') r.learn(data, full);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('property: any damage to a frame after the template is never read differently from JSON.parse', () => {
    const base = JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', system_fingerprint: 'fp', choices: [{ index: 0, delta: { content: 'Hello' }, logprobs: null, finish_reason: null }] });
    fc.assert(
      fc.property(fc.nat(base.length), fc.nat(6), fc.string({ maxLength: 4 }), (at, drop, insert) => {
        const r = new RepeatedChunks();
        r.learn(base, JSON.parse(base));
        const data = base.slice(0, at) + insert + base.slice(Math.min(base.length, at + drop));
        const quick = r.read(data);
        if (quick !== undefined) expect(quick).toStrictEqual(parsed(data));
      }),
      { numRuns: 3000 },
    );
  });

  it('reads the frames a provider repeats, and gives each its own objects', () => {
    const r = new RepeatedChunks();
    const frame = (content: string) => `{"id":"c1","object":"chat.completion.chunk","created":5,"model":"m","system_fingerprint":"fp","choices":[{"index":0,"delta":{"content":${JSON.stringify(content)}},"logprobs":null,"finish_reason":null}]}`;
    r.learn(frame('a'), JSON.parse(frame('a')));
    const one = r.read(frame('Hello, world'))!;
    expect(one).toStrictEqual(JSON.parse(frame('Hello, world')));
    ((one.choices as Obj[])[0]!.delta as Obj).content = 'changed';
    one.model = 'changed';
    expect(r.read(frame('again'))).toStrictEqual(JSON.parse(frame('again')));
    // An escape in the text: JSON.parse reads it.
    expect(r.read(frame('a"b'))).toBeUndefined();
    expect(r.read(frame('line\nbreak'))).toBeUndefined();
  });

  it('property: write gives exactly JSON.stringify, or declines', () => {
    fc.assert(
      fc.property(chunk, tricky, fc.option(fc.tuple(fc.constantFrom('model', 'created', 'choices', 'new', 'index', 'delta'), plainValue)), (o, content, change) => {
        const r = new RepeatedChunks();
        const text = JSON.stringify(o);
        r.learn(text, JSON.parse(text));
        const c = structuredClone(o);
        const ch = (c.choices as Obj[])[0]!;
        (ch.delta as Obj).content = content;
        if (change) {
          const [k, v] = change;
          if (k === 'index') ch.index = v;
          else if (k === 'delta') (ch.delta as Obj).extra = v;
          else c[k] = v;
        }
        const w = r.write(c);
        if (w !== undefined) expect(w).toBe(JSON.stringify(c));
      }),
      { numRuns: 2000 },
    );
  });
});

// ---- StreamGuard gives the same output, findings and verdict with and without the template ----

function regexDetector(type: string, re: RegExp, maxMatchLength: number): Detector {
  return {
    maxMatchLength,
    scan(text: string): DetectorMatch[] {
      return [...text.matchAll(re)].map((m) => ({ type, rule: type.toLowerCase(), start: m.index, end: m.index + m[0].length }));
    },
  };
}
const rules: DetectionRule[] = [
  { name: 's', detector: regexDetector('SECRET', /\bsk-[A-Za-z0-9]{20,48}\b/g, 52), action: 'redact', phases: ['output'], marker: (m) => `[REDACTED:${m.type}]` },
  { name: 'e', detector: regexDetector('EMAIL', /\b[a-z0-9.]{1,20}@[a-z0-9-]{1,20}\.(?:com|org|io)\b/g, 64), action: 'redact', phases: ['output'], marker: (m) => `[REDACTED:${m.type}]` },
  { name: 'f', detector: regexDetector('FLAGGED', /\bflagme\b/g, 6), action: 'flag', phases: ['output'], marker: () => '' },
  { name: 'b', detector: regexDetector('STOP', /\bSTOPWORD\d\b/g, 9), action: 'block', phases: ['output'], marker: () => '' },
];
const chain = new PolicyChain([{ kind: 'test', rules } satisfies PolicyInstance], 'block');

const secret = fc.stringMatching(/^[A-Za-z0-9]{24,40}$/).map((s) => `sk-${s}`);
const email = fc.tuple(fc.stringMatching(/^[a-z]{1,8}$/), fc.stringMatching(/^[a-z]{2,8}$/)).map(([u, d]) => `${u}@${d}.com`);
const piece = fc.oneof(fc.stringMatching(/^[a-z ,.\n]{0,12}$/), secret, email, fc.constantFrom('flagme', 'STOPWORD1', 'sk-', '"', '\\', '\u0000'), tricky);
/** An envelope value that a rule finds (so the envelope is not clean), or a clean one. */
const envValue = fc.oneof(fc.constantFrom('gpt-4o', 'fp_fake', 'flagme', 'a@b.com', 'sk-AAAAAAAAAAAAAAAAAAAAAAAA'), tricky);

function guarded(wire: string, cuts: number[], fast: boolean): { out: string; findings: unknown; verdict: string; blocked: unknown; reply: unknown } {
  const spies = fast
    ? []
    : [vi.spyOn(RepeatedChunks.prototype, 'read').mockReturnValue(undefined), vi.spyOn(RepeatedChunks.prototype, 'write').mockReturnValue(undefined), vi.spyOn(RepeatedChunks.prototype, 'learn').mockImplementation((_d, o) => o)];
  try {
    const guard = new StreamGuard('chat', chain, new ReplyBudget(64 * 1024 * 1024));
    const points = [...new Set(cuts.map((c) => Math.floor(c * wire.length)))].sort((a, b) => a - b);
    let out = '';
    let prev = 0;
    for (const p of [...points, wire.length]) {
      out += guard.push(wire.slice(prev, p));
      prev = p;
    }
    out += guard.end();
    return { out, findings: guard.found, verdict: guard.verdict, blocked: guard.blocked, reply: guard.reply() };
  } finally {
    for (const s of spies) s.mockRestore();
  }
}

describe('StreamGuard with repeated chat chunks read from a template', () => {
  afterEach(() => vi.restoreAllMocks());

  it('property: the same released text, findings, verdict and block as reading every frame with JSON.parse (secrets split across frames too)', () => {
    fc.assert(
      fc.property(
        fc.record({ id: envValue, model: envValue, fp: envValue }),
        fc.array(fc.tuple(piece, fc.constantFrom('same', 'same', 'same', 'space', 'extra', 'duplicate', 'escape', 'other model')), { minLength: 1, maxLength: 14 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 5 }),
        ({ id, model, fp }, pieces, cuts) => {
          const env = { id, object: 'chat.completion.chunk', created: 7, model, system_fingerprint: fp };
          const frames = [JSON.stringify({ ...env, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] })];
          for (const [text, how] of pieces) {
            const o: Obj = { ...env, choices: [{ index: 0, delta: { content: text }, logprobs: null, finish_reason: null }] };
            if (how === 'other model') o.model = 'other';
            frames.push(write(o, how === 'other model' ? 'same' : how, text, 0));
          }
          frames.push(JSON.stringify({ ...env, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] }));
          const wire = frames.map((f) => `data: ${f}\n\n`).join('') + 'data: [DONE]\n\n';
          expect(guarded(wire, cuts, true)).toStrictEqual(guarded(wire, cuts, false));
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('catches a secret split across repeated frames and redacts it', () => {
    const env = { id: 'c1', object: 'chat.completion.chunk', created: 7, model: 'gpt-4o', system_fingerprint: 'fp' };
    const key = 'sk-abcdefghijklmnopqrstuvwx1234';
    const pieces = ['Your key is ', key.slice(0, 5), key.slice(5, 17), key.slice(17), ' keep it safe.'];
    const wire =
      pieces.map((p) => `data: ${JSON.stringify({ ...env, choices: [{ index: 0, delta: { content: p }, logprobs: null, finish_reason: null }] })}\n\n`).join('') +
      `data: ${JSON.stringify({ ...env, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`;
    const read = vi.spyOn(RepeatedChunks.prototype, 'read');
    const fast = guarded(wire, [], true);
    // The frames after the first were read from the template.
    expect(read.mock.results.filter((r) => r.value !== undefined).length).toBe(pieces.length - 1);
    read.mockRestore();
    expect(fast).toStrictEqual(guarded(wire, [], false));
    expect(fast.out).not.toContain(key.slice(5, 17));
    expect(fast.out).toContain('[REDACTED:SECRET]');
  });
});
