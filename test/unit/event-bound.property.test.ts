import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/audit/canonical.js';
import type { DecisionEvent } from '../../src/audit/event.js';
import { boundEvent, recordBytes } from '../../src/audit/event-bound.js';
import { eventJson } from '../../src/audit/event-json.js';
import { MAX_RECORD_BYTES } from '../../src/audit/journal.js';
import { makeEvent, makePolicyResult } from '../helpers/events.js';

const STEPS = ['capture', 'lists', 'strings', 'detail'];

/** Text of a given length with the characters that cost most per unit in JSON and UTF-8. */
function textOf(length: number, kind: number): string {
  const unit = ['x', '\u0001', 'é', '€', '"', '😀'][kind % 6]!;
  return unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
}

/** Events whose size comes from any of the places a request or a reply can make large. */
const sizes = fc.record({
  kind: fc.nat(5),
  completion: fc.oneof(fc.constant(0), fc.nat(40_000)),
  segments: fc.nat(300),
  blob: fc.oneof(fc.constant(0), fc.nat(30_000)),
  groups: fc.nat(30),
  locations: fc.nat(200),
  edits: fc.nat(50),
  model: fc.oneof(fc.constant(6), fc.nat(50_000)),
  policies: fc.nat(12),
});

type Sizes = typeof sizes extends fc.Arbitrary<infer T> ? T : never;

function eventOf(s: Sizes): { event: DecisionEvent; blobs: Map<string, string> | undefined } {
  const blobs = s.blob > 0 ? new Map([['ab'.repeat(32), textOf(s.blob, s.kind)]]) : undefined;
  const event = makeEvent({
    model_requested: textOf(s.model, s.kind),
    policies: Array.from({ length: s.policies }, (_, i) => makePolicyResult(`policy-${i}`, 'redact', { findings: [{ type: 'EMAIL', rule: 'email', source: 'user', count: 3 }], reasons: ['r'] })),
    redactions: Array.from({ length: s.groups }, (_, g) => ({
      count: s.locations + 7,
      locations: Array.from({ length: s.locations }, (_, i) => ({ end: i + 5, path: `messages[${g}].content`, start: i, value_hash: '0123456789abcdef' })),
      phase: 'input' as const,
      rule: `rule-${g}`,
      source: 'user' as const,
      type: 'EMAIL',
    })),
    proposed_edits: Array.from({ length: s.edits }, (_, i) => ({ added: 1, diff: textOf(200, s.kind), file: `src/f${i}.ts`, format: 'search-replace', removed: 1 })),
    capture: {
      mode: 'redacted',
      request: [
        ...Array.from({ length: s.segments }, (_, i) => ({ source: 'user', text: '', turn: i })),
        ...(blobs ? [{ chars: s.blob, sha256: 'ab'.repeat(32), source: 'tool_result', turn: 0 }] : []),
      ],
      completion: { text: textOf(s.completion, s.kind + 1), tool_calls: [{ name: 'edit', input: { path: textOf(s.completion % 5000, s.kind) } }], finish_reason: 'stop' },
      truncated: false,
    },
  });
  return { event, blobs };
}

describe('boundEvent', () => {
  it('keeps every event within the bound, as canonical JSON, and cuts only what it must, in order, saying so', () => {
    // A small bound, so that ordinary sizes cross it; the code path is the same for MAX_RECORD_BYTES.
    const limit = 24 * 1024;
    fc.assert(
      fc.property(sizes, (s) => {
        const { event, blobs } = eventOf(s);
        const before = recordBytes(event, eventJson(event), blobs);
        const r = boundEvent(event, blobs, limit);
        expect(r.body).toBe(canonicalJson(r.event));
        expect(recordBytes(r.event, r.body, r.blobs)).toBeLessThanOrEqual(limit);
        if (before <= limit) {
          expect(r.event).toBe(event);
          expect(r.blobs).toBe(blobs);
          return;
        }
        const t = r.event.truncated!;
        expect(t.bytes).toBe(before);
        expect(STEPS.slice(0, t.dropped.length)).toEqual(t.dropped);
        // Each step was needed: the steps before the last one taken still left it over the bound.
        expect(t.dropped.length).toBeGreaterThan(0);
        if (t.dropped.includes('capture')) {
          expect(r.blobs).toBeUndefined();
          expect(r.event.capture).toMatchObject({ request: null, completion: null, truncated: true });
        }
        // What stays whatever was cut: the decision itself.
        expect(r.event).toMatchObject({ id: event.id, verdict: event.verdict, status: event.status, ts: event.ts, request_id: event.request_id });
        expect(r.event.policies.map((p) => p.kind)).toEqual(event.policies.map((p) => p.kind));
        if (!t.dropped.includes('detail')) expect(r.event.redactions.map((g) => g.count)).toEqual(event.redactions.map((g) => g.count));
      }),
      { numRuns: 300 },
    );
  });

  it('an event far below the bound is returned as it came, with its canonical body', () => {
    const event = makeEvent();
    const r = boundEvent(event, undefined);
    expect(r.event).toBe(event);
    expect(r.body).toBe(canonicalJson(event));
  });

  it('holds at the real bound for inputs far above it (a 12 MiB model name, a capture that is 36 MB as JSON)', () => {
    const event = makeEvent({
      model_requested: 'm'.repeat(12 * 1024 * 1024),
      capture: { mode: 'redacted', request: null, completion: { text: '\u0001'.repeat(6 * 1024 * 1024), tool_calls: [], finish_reason: 'stop' }, truncated: false },
    });
    const r = boundEvent(event, undefined);
    expect(recordBytes(r.event, r.body, r.blobs)).toBeLessThanOrEqual(MAX_RECORD_BYTES);
    expect(r.event.truncated!.dropped).toEqual(['capture', 'lists', 'strings']);
    expect(r.event.model_requested).toHaveLength(1024 + '…[truncated]'.length);
  });
});
