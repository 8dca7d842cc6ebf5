import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Detector, DetectorMatch } from '../../src/detect/types.js';
import { compose, guardStage, translateGuardStage, translateStage, type ReplyHandler } from '../../src/gateway/reply/stages.js';
import { PolicyChain } from '../../src/policy/engine.js';
import type { DetectionRule, PolicyInstance } from '../../src/policy/types.js';
import { translatorFor } from '../../src/protocol/translate/index.js';
import { writeFrame, type StreamTranslator } from '../../src/protocol/translate/stream-frames.js';
import { ReplyBudget } from '../../src/stream/budget.js';
import { StreamGuard } from '../../src/stream/guard.js';

type Obj = Record<string, unknown>;
const now = () => 1_700_000_000;
const ev = (type: string, obj: Obj) => `event: ${type}\ndata: ${JSON.stringify({ type, ...obj })}\n\n`;
const data = (obj: unknown) => `data: ${JSON.stringify(obj)}\n\n`;

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
const text = fc
  .array(fc.oneof(fc.stringMatching(/^[a-z ,.\n]{0,16}$/), secret, fc.constantFrom('a@b.com', 'flagme', 'STOPWORD1', '"', '\\', '\u0000', '😀', '\ud800'), fc.string({ maxLength: 6 })), { minLength: 1, maxLength: 6 })
  .map((p) => p.join(' '));
const split = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 });
const cuts = fc.array(fc.nat(), { maxLength: 6 });

function pieces(s: string, fractions: number[]): string[] {
  const points = [...new Set(fractions.map((f) => Math.floor(f * s.length)))].filter((p) => p > 0 && p < s.length).sort((a, b) => a - b);
  const out: string[] = [];
  let at = 0;
  for (const p of points) {
    out.push(s.slice(at, p));
    at = p;
  }
  out.push(s.slice(at));
  return out.filter((p) => p !== '');
}

/** An Anthropic stream: text blocks and tool calls, in pieces; sometimes an id or model missing, or an error event. */
const anthropicStream = fc
  .record({
    blocks: fc.array(fc.oneof(fc.record({ kind: fc.constant('text' as const), text, split }), fc.record({ kind: fc.constant('tool' as const), args: text.map((t) => JSON.stringify({ q: t })), split, name: fc.constantFrom('Bash', 'flagme', 'a@b.com') })), { maxLength: 4 }),
    missingId: fc.boolean(),
    error: fc.boolean(),
    // A model name a rule finds: the chunks' envelope is not clean.
    model: fc.constantFrom('claude-x', 'claude-x', 'a@b.com', 'flagme'),
  })
  .map(({ blocks, missingId, error, model }) => {
    let s = ev('message_start', { message: { ...(missingId ? {} : { id: 'msg_1' }), type: 'message', role: 'assistant', model, content: [], usage: { input_tokens: 3, output_tokens: 1 } } });
    blocks.forEach((b, index) => {
      if (b.kind === 'text') {
        s += ev('content_block_start', { index, content_block: { type: 'text', text: '' } });
        for (const p of pieces(b.text, b.split)) s += ev('content_block_delta', { index, delta: { type: 'text_delta', text: p } });
      } else {
        s += ev('content_block_start', { index, content_block: { type: 'tool_use', id: `toolu_${index}`, name: b.name, input: {} } });
        for (const p of pieces(b.args, b.split)) s += ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: p } });
      }
      s += ev('content_block_stop', { index });
    });
    if (error) return s + ev('error', { error: { type: 'overloaded_error', message: model === 'flagme' ? 'busy, flagme' : 'busy' } });
    return s + ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 9 } }) + ev('message_stop', {});
  });

/** A chat stream: text pieces and tool-call argument pieces, a finish reason, usage. */
const chatStream = fc
  .record({ content: text, contentSplit: split, args: fc.option(text.map((t) => JSON.stringify({ q: t }))), argsSplit: split, error: fc.boolean() })
  .map(({ content, contentSplit, args, argsSplit, error }) => {
    const env = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 5, model: 'gpt-4o', system_fingerprint: 'fp' };
    const chunk = (delta: Obj, finish: string | null = null) => data({ ...env, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
    let s = chunk({ role: 'assistant', content: '' });
    for (const p of pieces(content, contentSplit)) s += chunk({ content: p });
    if (args !== null) {
      s += chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'Bash', arguments: '' } }] });
      for (const p of pieces(args, argsSplit)) s += chunk({ tool_calls: [{ index: 0, function: { arguments: p } }] });
    }
    if (error) return s + data({ error: { message: 'busy', type: 'server_error' } });
    s += chunk({}, args !== null ? 'tool_calls' : 'stop');
    s += data({ ...env, choices: [], usage: { prompt_tokens: 3, completion_tokens: 9, total_tokens: 12 } });
    return s + 'data: [DONE]\n\n';
  });

function chunked(textIn: string, at: number[]): string[] {
  const points = [...new Set(at.map((c) => c % (textIn.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(textIn.slice(prev, p));
    prev = p;
  }
  out.push(textIn.slice(prev));
  return out;
}

const clientBody = { model: 'm', stream: true, stream_options: { include_usage: true }, messages: [] };

/** The translator's text, written by itself (push, end) or from its frames (pushFrames, endFrames). */
function translated(t: StreamTranslator, parts: string[], asFrames: boolean): string {
  if (!asFrames) return parts.map((p) => t.push(p)).join('') + t.end();
  let out = '';
  for (const p of parts) for (const f of t.pushFrames!(p)) out += writeFrame(f);
  for (const f of t.endFrames!()) out += writeFrame(f);
  return out;
}

/** The stream through the relay's stages: translate then guard (text between them), or the two in one (objects). */
function relayed(client: 'chat' | 'messages', target: 'anthropic' | 'openai', parts: string[], objects: boolean) {
  let out = '';
  let state = 'open';
  const sink: ReplyHandler = {
    onStart() {},
    onData: (c) => ((out += String(c)), true),
    onEnd: () => void (state = 'complete'),
    onBlocked: (c) => void ((out += String(c)), (state = 'blocked')),
    onError() {},
  };
  const t = translatorFor(client, target)!.stream(clientBody, { maxFrame: 1 << 20, now });
  const guard = new StreamGuard(client, chain, new ReplyBudget(1 << 26));
  const h = compose(objects ? [translateGuardStage(t as Required<StreamTranslator>, guard)] : [translateStage(t), guardStage(guard)], sink);
  let error = '';
  try {
    for (const p of parts) if (state === 'open') h.onData(p);
    if (state === 'open') h.onEnd();
  } catch (err) {
    error = String(err);
  }
  return { out, state, error, found: guard.found, verdict: guard.verdict, blocked: guard.blocked, reply: guard.reply() };
}

describe('translators hand StreamGuard their frames as objects', () => {
  it('property: Anthropic → chat: the frames, written, are the translator\'s text byte for byte, for any chunking', () => {
    fc.assert(
      fc.property(anthropicStream, cuts, (s, at) => {
        const parts = chunked(s, at);
        const t = () => translatorFor('chat', 'anthropic')!.stream(clientBody, { now });
        expect(translated(t(), parts, true)).toBe(translated(t(), parts, false));
      }),
      { numRuns: 800 },
    );
  });

  it('property: chat → Anthropic: the same', () => {
    fc.assert(
      fc.property(chatStream, cuts, (s, at) => {
        const parts = chunked(s, at);
        const t = () => translatorFor('messages', 'openai')!.stream(clientBody, { now });
        expect(translated(t(), parts, true)).toBe(translated(t(), parts, false));
      }),
      { numRuns: 800 },
    );
  });

  it('property: through the guard, the client gets the same bytes, findings, verdict and block as with text between the stages', () => {
    fc.assert(
      fc.property(fc.oneof(anthropicStream.map((s) => ['chat', 'anthropic', s] as const), chatStream.map((s) => ['messages', 'openai', s] as const)), cuts, ([client, target, s], at) => {
        const parts = chunked(s, at);
        expect(relayed(client, target, parts, true)).toStrictEqual(relayed(client, target, parts, false));
      }),
      { numRuns: 800 },
    );
  });

  it('a secret split across translated frames is redacted, and a blocked word ends the stream with nothing of it', () => {
    const key = 'sk-abcdefghijklmnopqrstuvwx1234';
    const stream = (words: string[]) =>
      ev('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-x', content: [], usage: { input_tokens: 3, output_tokens: 1 } } }) +
      ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) +
      words.map((w) => ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: w } })).join('') +
      ev('content_block_stop', { index: 0 }) +
      ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 9 } }) +
      ev('message_stop', {});
    const redacted = relayed('chat', 'anthropic', [stream(['Your key is ', key.slice(0, 6), key.slice(6, 19), key.slice(19), ' ok.'])], true);
    expect(redacted.out).toContain('[REDACTED:SECRET]');
    expect(redacted.out).not.toContain(key.slice(6, 19));
    expect(redacted.state).toBe('complete');
    const blocked = relayed('chat', 'anthropic', [stream(['fine ', 'STOP', 'WORD1 more'])], true);
    expect(blocked.state).toBe('blocked');
    expect(blocked.out).not.toContain('STOPWORD1');
    expect(blocked).toStrictEqual(relayed('chat', 'anthropic', [stream(['fine ', 'STOP', 'WORD1 more'])], false));
  });
});
