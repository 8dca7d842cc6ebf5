/**
 * Streamed enforcement is linear in the reply, however the upstream chunks it. A TextWindow rescans its held text
 * on every delta, and StreamGuard searched its whole buffer for the end of a frame on every network read: 1 MB
 * without whitespace in 1-character deltas (the window holds a run without whitespace up to 16 KB) was 16 GB of
 * scanning per rule, and a 1 MB frame read a byte at a time was a terabyte of copying. CPU time is measured on
 * 256 KB and 1 MB: the budget is per MB, and 1 MB may cost at most 8× what 256 KB does (linear: 4×).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { documentSchema } from '../../src/config/schema.js';
import { buildChain } from '../../src/policy/build.js';
import { ReplyBudget } from '../../src/stream/budget.js';
import { StreamGuard } from '../../src/stream/guard.js';
import { TextWindow } from '../../src/stream/window.js';
import { cpuMs, repeatTo } from '../helpers/adversarial.js';

const MB = 1 << 20;
/**
 * CPU per MB of streamed reply for the whole output chain: each of its rules may reread the reply up to 32 times
 * (TextWindow's scan credit), so this is far above the per-detector budget; linear growth is the real check.
 */
const BUDGET_MS = 30_000;
const GROWTH = 8;
const SLACK_MS = 50;

/** The brief's chain for Aider (examples/aider-openai), with every output rule of every kind that has one. */
const config = documentSchema().parse(parse(readFileSync(fileURLToPath(new URL('../../examples/aider-openai/policy-config.yaml', import.meta.url)), 'utf8')));
const chain = buildChain(config, 'block', { markerSalt: 'linear' });
const outputRules = chain.rulesFor('output').map(({ policy, rule }) => ({ policy: policy.kind, rule }));

/** Stream `text` through a TextWindow in the pieces `cut` gives; returns what was released. */
function streamWindow(text: string, cut: (pos: number) => number): string {
  const w = new TextWindow(outputRules, () => undefined);
  const out: string[] = [];
  for (let pos = 0; pos < text.length; ) {
    const n = Math.max(1, cut(pos));
    out.push(w.push(text.slice(pos, pos + n)));
    pos += n;
  }
  out.push(w.flush());
  return out.join('');
}

/** CPU for 256 KB and 1 MB of `make(size)` through `run`; the least of two runs each when the first looks bad. */
function growth(make: (size: number) => string, run: (text: string) => unknown): { quarterMs: number; bigMs: number } {
  run(make(8192));
  const quarter = make(MB / 4);
  const big = make(MB);
  let quarterMs = cpuMs(() => run(quarter));
  if (quarterMs > BUDGET_MS) return { quarterMs, bigMs: NaN };
  let bigMs = cpuMs(() => run(big));
  if (bigMs > BUDGET_MS || bigMs > GROWTH * quarterMs + SLACK_MS) {
    quarterMs = Math.min(quarterMs, cpuMs(() => run(quarter)));
    bigMs = Math.min(bigMs, cpuMs(() => run(big)));
  }
  return { quarterMs, bigMs };
}

function expectLinear(g: { quarterMs: number; bigMs: number }): void {
  const msg = `256 KB ${g.quarterMs.toFixed(0)} ms, 1 MB ${Number.isNaN(g.bigMs) ? 'not run' : `${g.bigMs.toFixed(0)} ms`}`;
  expect(g.quarterMs <= BUDGET_MS / 4 + SLACK_MS && g.bigMs <= BUDGET_MS && g.bigMs <= GROWTH * g.quarterMs + SLACK_MS, msg).toBe(true);
}

/** Replies without whitespace (held whole up to the token limit) and with it, in the shapes detectors work hardest on. */
const RUNS: Array<[string, string]> = [
  ['letters', 'a'],
  ['base64', 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk'],
  ['percent-encoded', '%41'],
  ['e-mail near-misses', 'a@b.c'],
  ['secret prefixes', 'ghp_AKIA'],
  ['key block openers', '-----BEGIN RSA PRIVATE KEY-----'],
  ['words', 'lorem ipsum '],
];

describe('TextWindow is linear in the reply for any chunking', () => {
  it.each(RUNS)('%s in 1-character deltas', (_name, unit) => {
    expectLinear(growth((size) => repeatTo(unit, size), (text) => streamWindow(text, () => 1)));
  }, 600_000);

  it('random deltas of 1–64 characters, in linear time', () => {
    fc.assert(
      fc.property(fc.constantFrom(...RUNS.map(([, u]) => u)), fc.integer({ min: 1, max: 0x7fffffff }), (unit, seed) => {
        let s = seed;
        const cut = (): number => 1 + ((s = (s * 1103515245 + 12345) & 0x7fffffff) % 64);
        expectLinear(growth((size) => repeatTo(unit, size), (text) => streamWindow(text, cut)));
      }),
      { numRuns: 3 },
    );
  }, 600_000);

  it('releases what one whole-text pass releases, delta by delta or in random pieces (scans are rationed, not skipped)', () => {
    const secret = fc.stringMatching(/^[A-Za-z0-9]{36}$/).map((s) => `ghp_${s}`);
    const email = fc.tuple(fc.stringMatching(/^[a-z]{2,8}$/), fc.stringMatching(/^[a-z]{3,8}$/)).map(([u, d]) => `${u}@${d}.com`);
    const pem = fc.stringMatching(/^[A-Za-z0-9+/]{200,900}$/).map((b) => `-----BEGIN RSA PRIVATE KEY-----\n${b.replace(/(.{64})/g, '$1\n')}\n-----END RSA PRIVATE KEY-----`);
    const filler = fc.stringMatching(/^[a-z ,.\n]{0,400}$/);
    const reply = fc.array(fc.tuple(filler, fc.oneof(secret, email, pem, fc.stringMatching(/^[A-Za-z0-9]{0,3000}$/))), { minLength: 1, maxLength: 8 }).map((parts) => parts.map(([f, v]) => `${f} ${v}`).join(' '));
    fc.assert(
      fc.property(reply, fc.integer({ min: 1, max: 0x7fffffff }), (text, seed) => {
        let s = seed;
        const whole = streamWindow(text, () => text.length);
        expect(streamWindow(text, () => 1)).toBe(whole);
        expect(streamWindow(text, () => 1 + ((s = (s * 1103515245 + 12345) & 0x7fffffff) % 64))).toBe(whole);
      }),
      { numRuns: 60 },
    );
  }, 600_000);
});

describe('StreamGuard is linear in the reply for any network chunking', () => {
  /** An OpenAI chat stream carrying `text` in deltas of `delta` characters. */
  function sse(text: string, delta: number): string {
    const frames: string[] = [];
    for (let i = 0; i < text.length; i += delta) {
      frames.push(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: text.slice(i, i + delta) }, finish_reason: null }] })}\n\n`);
    }
    frames.push(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`);
    return frames.join('');
  }

  function guardRun(wire: string, read: (pos: number) => number): string {
    const g = new StreamGuard('chat', chain, new ReplyBudget(64 * 1024 * 1024));
    const out: string[] = [];
    for (let pos = 0; pos < wire.length; ) {
      const n = Math.max(1, read(pos));
      out.push(g.push(wire.slice(pos, pos + n)));
      pos += n;
    }
    out.push(g.end());
    return out.join('');
  }

  it('one frame carrying the whole reply, read a byte at a time', () => {
    // The frame's size is what grows: the wire is measured by its text, not its JSON framing.
    expectLinear(growth((size) => sse(repeatTo('a', size), size), (wire) => guardRun(wire, () => 1)));
  }, 600_000);

  it('16-character deltas read in random pieces of 1–4096 bytes', () => {
    let s = 7;
    const read = (): number => 1 + ((s = (s * 1103515245 + 12345) & 0x7fffffff) % 4096);
    expectLinear(growth((size) => sse(repeatTo('QUJDREVGR0hJSktMTU5P', size), 16), (wire) => guardRun(wire, read)));
  }, 600_000);
});
