import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecisionContext, type AuditSettings } from '../../src/audit/context.js';
import { digestOf, worthCaching } from '../../src/policy/scan-cache.js';
import type { Finding } from '../../src/policy/types.js';
import type { Segment } from '../../src/protocol/content.js';
import { auditSettings } from '../helpers/events.js';

const base = auditSettings({ captureMaxBytes: 1_000_000 });

/** What the engine gives the audit trail: findings, redaction edits for them, and digests of long segments. */
function outcomeFor(segments: readonly Segment[], findings: readonly Finding[], withDigests: boolean) {
  const digests = new Map<number, string>();
  if (withDigests) for (const s of segments) if (worthCaching(s.text)) digests.set(s.id, digestOf(s.text));
  return {
    verdict: findings.length > 0 ? ('redact' as const) : ('allow' as const),
    results: [{ kind: 'pii-detector', phase: 'input' as const, verdict: findings.length > 0 ? ('redact' as const) : ('allow' as const), findings: [...findings], durationUs: 1 }],
    edits: findings.map((f) => ({ segment: f.segment, start: f.start, end: f.end, replacement: `[${f.type}]` })),
    digests,
  };
}

function captured(settings: AuditSettings, segments: readonly Segment[], findings: readonly Finding[], withDigests: boolean) {
  const ctx = new DecisionContext(settings, 'req', 'chat', {});
  const outcome = outcomeFor(segments, findings, withDigests);
  ctx.setRequest(segments, outcome as never);
  ctx.addOutcome('input', outcome as never, segments);
  const event = ctx.build();
  return { capture: event.capture, redactions: event.redactions, blobs: [...ctx.blobs] };
}

const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ minLength: 500, maxLength: 1500 }), fc.constantFrom('x'.repeat(600), 'y'.repeat(2000)));

const scenario = fc.array(text, { minLength: 1, maxLength: 4 }).chain((texts) => {
  const segments: Segment[] = texts.map((t, id) => ({ id, source: 'user', turn: id, path: ['messages', id, 'content'], text: t }));
  const finding = fc
    .nat({ max: segments.length - 1 })
    .chain((segment) => {
      const len = segments[segment]!.text.length;
      return fc.record({
        segment: fc.constant(segment),
        start: fc.nat({ max: len }),
        width: fc.nat({ max: 30 }),
        type: fc.constantFrom('EMAIL', 'SECRET', 'PHONE'),
      });
    })
    .map(({ segment, start, width, type }): Finding => ({ type, rule: type.toLowerCase(), source: 'user', segment, start, end: Math.min(start + width, segments[segment]!.text.length) }));
  return fc.tuple(fc.constant(segments), fc.array(finding, { maxLength: 5 }), fc.array(finding, { maxLength: 5 }));
});

describe('capture memo', () => {
  it('gives the capture and value hashes that hashing afresh gives, whatever was remembered before', () => {
    fc.assert(
      fc.property(scenario, ([segments, first, second]) => {
        // One gateway's settings object (one memo) sees the same conversation with two sets of findings, and
        // the first again; each result must equal a cold computation without digests (nothing remembered).
        const shared = { ...base };
        // The same places one character longer: a memo keyed on less than the whole span would mix them up.
        const longer = first.map((f) => ({ ...f, end: Math.min(f.end + 1, segments[f.segment]!.text.length) }));
        for (const findings of [first, second, longer, first, second]) {
          expect(captured(shared, segments, findings, true)).toEqual(captured({ ...base }, segments, findings, false));
        }
      }),
      { numRuns: 150 },
    );
  });

  it('keeps value hashes apart between gateways with different salts', () => {
    const segments: Segment[] = [{ id: 0, source: 'user', turn: 0, path: ['messages', 0, 'content'], text: `${'a'.repeat(600)}dana@example.com` }];
    const findings: Finding[] = [{ type: 'EMAIL', rule: 'email', source: 'user', segment: 0, start: 600, end: 616 }];
    const one = captured({ ...base, salt: 'one' }, segments, findings, true);
    const two = captured({ ...base, salt: 'two' }, segments, findings, true);
    expect(one.redactions[0]!.locations[0]!.value_hash).not.toBe(two.redactions[0]!.locations[0]!.value_hash);
    expect(captured({ ...base, salt: 'one' }, segments, findings, true)).toEqual(one);
  });
});
