import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/audit/canonical.js';
import type { DecisionEvent } from '../../src/audit/event.js';
import { eventJson, journalHeaderJson } from '../../src/audit/event-json.js';
import { indexedColumns } from '../../src/audit/store.js';
import { makeEvent } from '../helpers/events.js';

/** Text with everything JSON escapes or passes through: quotes, backslashes, controls, lone surrogates, emoji. */
const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ maxLength: 8 }),
  fc.constantFrom('', '"', '\\', '\u0000', '\n\t', '\u007f', '\u2028', '\ud800', '\udc00x', '😀', 'é', '</script>', 'x'.repeat(600), `${'y'.repeat(700)}"`),
);
const nullableText = fc.option(text, { nil: null });
const number = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(0, -0, 1e21, 1e-7, 0.1 + 0.2, Number.MAX_SAFE_INTEGER));
const nullableNumber = fc.option(number, { nil: null });
const source = fc.constantFrom('git', 'header', 'key', 'default', null);
const hex64 = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 });
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

const policy = fc.record({
  duration_us: fc.nat(),
  error: maybe(text),
  findings: fc.array(fc.record({ count: fc.nat(), rule: text, source: fc.constantFrom('user', 'system', 'tool_result'), type: text }), { maxLength: 3 }),
  kind: text,
  phase: fc.constantFrom('input', 'output'),
  reasons: maybe(fc.array(text, { maxLength: 3 })),
  score: maybe(number),
  streamed: maybe(fc.constant(true as const)),
  verdict: fc.constantFrom('allow', 'flag', 'redact', 'block', 'escalate'),
});

const capture = fc.option(
  fc.record({
    completion: fc.option(
      fc.record({
        finish_reason: nullableText,
        text,
        tool_calls: fc.array(fc.record({ input: fc.oneof(fc.jsonValue(), fc.constant(undefined)), name: text }), { maxLength: 2 }),
      }),
      { nil: null },
    ),
    mode: fc.constant('redacted' as const),
    request: fc.option(
      fc.array(
        fc.oneof(
          fc.record({ source: text, text, turn: fc.nat() }),
          fc.record({ chars: fc.nat(), sha256: hex64, source: text, turn: fc.nat() }),
        ),
        { maxLength: 3 },
      ),
      { nil: null },
    ),
    truncated: fc.boolean(),
  }),
  { nil: null },
);

/** Every member of a DecisionEvent, each optional one present or absent, built in the order build() uses. */
const event: fc.Arbitrary<DecisionEvent> = fc
  .record({
    attempts: maybe(
      fc.array(
        fc.record(
          { latency_ms: number, outcome: fc.constantFrom('answered' as const, 'status' as const, 'reset' as const), status: fc.option(fc.integer({ min: 100, max: 599 }), { nil: null }), target: text, wait_ms: number },
          { requiredKeys: ['latency_ms', 'outcome', 'status', 'target'] },
        ),
        { maxLength: 3 },
      ),
    ),
    budget_alerts: maybe(fc.array(fc.record({ limit_usd: number, mode: text, period: text, scope: text, spent_usd: number, threshold: number, value: nullableText }), { maxLength: 2 })),
    capture,
    config: fc.record({ name: text, sha256: text, version: text }),
    cost: fc.option(fc.record({ currency: fc.constant('USD' as const), input: nullableNumber, output: nullableNumber, priced: fc.boolean(), total: nullableNumber }), { nil: null }),
    data_categories: maybe(fc.array(text, { maxLength: 3 })),
    error: fc.option(fc.record({ code: nullableText, message: text, type: text }), { nil: null }),
    flags: maybe(fc.array(text, { maxLength: 2 })),
    gateway_id: text,
    id: text,
    identity: fc.record({
      client: fc.constantFrom('aider', 'claude-code', 'other'),
      developer: nullableText,
      key_id: nullableText,
      repository: nullableText,
      source: maybe(fc.record({ developer: source, repository: source, team: source })),
      team: nullableText,
    }),
    latency: fc.record({ overhead_ms: nullableNumber, total_ms: number, ttft_ms: nullableNumber, upstream_ms: nullableNumber }),
    model_requested: nullableText,
    policies: fc.array(policy, { maxLength: 4 }),
    proposed_edits: fc.array(fc.record({ added: fc.nat(), diff: text, file: nullableText, format: text, removed: fc.nat() }), { maxLength: 2 }),
    reason_code: nullableText,
    redactions: fc.array(
      fc.record({
        count: fc.nat(),
        locations: fc.array(fc.record({ end: fc.nat(), path: nullableText, start: fc.nat(), value_hash: nullableText }), { maxLength: 3 }),
        phase: fc.constantFrom('input', 'output'),
        rule: text,
        source: fc.constantFrom('user', 'assistant'),
        type: text,
      }),
      { maxLength: 2 },
    ),
    request_id: text,
    restores: maybe(
      fc.record({
        issued: fc.array(fc.record({ count: fc.nat(), type: text }), { maxLength: 2 }),
        restored: fc.array(fc.record({ count: fc.nat(), type: text, where: text }), { maxLength: 2 }),
        unknown: fc.nat(),
        withheld: fc.array(fc.record({ count: fc.nat(), type: text, where: text }), { maxLength: 2 }),
      }),
    ),
    route: fc.constantFrom('chat', 'responses', 'messages', 'count_tokens'),
    status: fc.integer({ min: 0, max: 599 }),
    stream: fc.boolean(),
    target: fc.option(fc.record({ id: text, model: nullableText, provider: text }), { nil: null }),
    truncated: maybe(fc.record({ bytes: fc.nat(), dropped: fc.array(text, { maxLength: 4 }) })),
    ts: text,
    usage: fc.option(
      fc.record({
        cache_write_1h_tokens: maybe(fc.nat()),
        cache_write_tokens: fc.option(fc.nat(), { nil: null }),
        cached_input_tokens: fc.option(fc.nat(), { nil: null }),
        estimated: fc.boolean(),
        input_tokens: fc.option(fc.nat(), { nil: null }),
        output_tokens: fc.option(fc.nat(), { nil: null }),
        reasoning_tokens: fc.option(fc.nat(), { nil: null }),
      }),
      { nil: null },
    ),
    verdict: fc.constantFrom('allow', 'flag', 'redact', 'block', 'escalate'),
  })
  .map((e) => e as DecisionEvent);

describe('eventJson', () => {
  it('writes exactly the canonical JSON of any decision event', () => {
    fc.assert(
      fc.property(event, (e) => {
        expect(eventJson(e)).toBe(canonicalJson(e));
      }),
      { numRuns: 1500 },
    );
  });

  it('falls back to the generic path for members the schema does not expect, with the same bytes or error', () => {
    const odd = [
      makeEvent({ target: { id: 'o', provider: 'openai', model: undefined as unknown as null } }),
      makeEvent({ status: '200' as unknown as number }),
      makeEvent({ error: { code: 7 as unknown as string, message: 'm', type: 't' } }),
      makeEvent({ stream: undefined as unknown as boolean }),
    ];
    for (const e of odd) expect(eventJson(e)).toBe(canonicalJson(e));
    expect(() => eventJson(makeEvent({ latency: { total_ms: Number.NaN, upstream_ms: null, ttft_ms: null, overhead_ms: null } }))).toThrow(/NaN/);
  });

  it('writes the journal header that parses back to the columns and captured texts', () => {
    fc.assert(
      fc.property(event, fc.option(fc.dictionary(hex64, text, { minKeys: 1, maxKeys: 3 }), { nil: undefined }), (e, blobs) => {
        const c = indexedColumns({ ...e, ts: '2026-11-27T10:00:00.000001Z' });
        const header = journalHeaderJson(e.id, c, blobs ? new Map(Object.entries(blobs)) : undefined);
        // What the header was before it had a writer of its own, byte for byte (texts in capture order).
        expect(header).toBe(JSON.stringify({ id: e.id, c, ...(blobs ? { b: blobs } : {}) }));
        // No texts to carry, no member: the reader treats both alike.
        expect(journalHeaderJson(e.id, c, new Map())).toBe(journalHeaderJson(e.id, c, undefined));
      }),
      { numRuns: 300 },
    );
  });
});
