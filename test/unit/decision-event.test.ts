import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/audit/canonical.js';
import { DecisionContext } from '../../src/audit/context.js';
import type { Segment } from '../../src/protocol/content.js';
import { usageFromBody } from '../../src/usage/meter.js';
import { costOf, priceFor } from '../../src/usage/pricing.js';
import { auditSettings } from '../helpers/events.js';

const settings = auditSettings({ hipaa: true });

describe('decision event', () => {
  it('is built in canonical key order, so the chain serializes it without reordering a copy', () => {
    const ctx = new DecisionContext(settings, 'req-1', 'chat', { 'user-agent': 'aider/0.86', 'x-keeptrusts-developer': 'dana' });
    const long = `${'const x = 1;\n'.repeat(100)}email me at dana@example.com`;
    const segments: Segment[] = [
      { id: 0, source: 'system', turn: 0, path: ['messages', 0, 'content'], text: 'You are a coding assistant.' },
      { id: 1, source: 'user', turn: 1, path: ['messages', 1, 'content'], text: long },
    ];
    const at = long.indexOf('dana@');
    const finding = { type: 'EMAIL', rule: 'email', source: 'user' as const, segment: 1, start: at, end: at + 16 };
    const outcome = {
      verdict: 'redact' as const,
      results: [
        { kind: 'pii-detector', phase: 'input' as const, verdict: 'redact' as const, findings: [finding], durationUs: 12.4 },
        { kind: 'prompt-injection', phase: 'input' as const, verdict: 'allow' as const, findings: [], durationUs: 3, error: 'TypeError' },
      ],
      edits: [{ segment: 1, start: at, end: at + 16, replacement: '[EMAIL]' }],
    };
    ctx.setRequest(segments, outcome as never);
    ctx.addOutcome('input', outcome as never, segments);
    ctx.addStreamFindings([{ policy: 'code-sanitizer', finding: { ...finding, type: 'SECRET', segment: -1 }, valueHash: '0123456789abcdef', action: 'redact' }], 'redact');
    ctx.addStreamAssessment([{ kind: 'quality-scorer', phase: 'output', verdict: 'flag', findings: [], durationUs: 40, score: 0.5, reasons: ['no-tests'] }]);
    ctx.setReply({ text: 'src/a.ts\n```\n<<<<<<< SEARCH\nold\n=======\nnew\n>>>>>>> REPLACE\n```\n', toolCalls: [{ name: 'edit', input: { b: 1, a: 2 } }], finishReason: 'stop' });
    ctx.addFlag('budget_soft_exceeded:developer/day');
    ctx.budgetAlerts.push({ scope: 'developer', value: 'dana', match: null, period: 'day', mode: 'soft', limitUsd: 1, threshold: 0.8, spentUsd: 0.81, periodStart: '', periodEnd: '' });
    ctx.target = { id: 'openai', model: 'gpt-4o', provider: 'openai' };
    ctx.usage = usageFromBody('messages', { usage: { input_tokens: 100, cache_read_input_tokens: 50, cache_creation_input_tokens: 20, cache_creation: { ephemeral_1h_input_tokens: 10 }, output_tokens: 30 } });
    ctx.cost = costOf(ctx.usage, priceFor('claude-sonnet-4'));
    ctx.status = 200;
    const event = ctx.build();
    expect(event.usage?.cache_write_1h_tokens).toBe(10);
    expect(event.cost?.priced).toBe(true);
    expect(event.redactions).toHaveLength(2);
    expect(event.proposed_edits).toHaveLength(1);
    expect(event.data_categories).toEqual(['EMAIL', 'SECRET']);
    // Equal only when every object already lists its keys sorted (tool-call inputs are the client's own JSON
    // and are the one part canonical JSON has to reorder).
    const { capture, ...rest } = event;
    expect(JSON.stringify(rest)).toBe(canonicalJson(rest));
    expect(JSON.stringify({ ...capture, completion: { ...capture!.completion, tool_calls: [] } })).toBe(canonicalJson({ ...capture, completion: { ...capture!.completion, tool_calls: [] } }));
  });

  it('groups redactions per phase, type, rule and source: 30,000 addresses make one group with a capped list, not 30,000 entries', () => {
    const ctx = new DecisionContext(settings, 'req-2', 'chat', {});
    const text = Array.from({ length: 30_000 }, (_, i) => `user${i}@example${i % 97}.com`).join(' ');
    const segments: Segment[] = [{ id: 0, source: 'user', turn: 0, path: ['messages', 0, 'content'], text }];
    const findings = [];
    for (let at = 0, i = 0; i < 30_000; i++) {
      const value = `user${i}@example${i % 97}.com`;
      findings.push({ type: 'EMAIL', rule: 'email', source: 'user' as const, segment: 0, start: at, end: at + value.length });
      at += value.length + 1;
    }
    const token = { type: 'SECRET', rule: 'github-pat', source: 'user' as const, segment: 0, start: 0, end: 4 };
    const outcome = {
      verdict: 'redact' as const,
      results: [
        { kind: 'pii-detector', phase: 'input' as const, verdict: 'redact' as const, findings, durationUs: 1 },
        { kind: 'code-sanitizer', phase: 'input' as const, verdict: 'redact' as const, findings: [token], durationUs: 1 },
      ],
      edits: [...findings, token].map((f) => ({ segment: 0, start: f.start, end: f.end, replacement: `[${f.type}]` })),
    };
    ctx.setRequest(segments, outcome as never);
    ctx.addOutcome('input', outcome as never, segments);
    const event = ctx.build();
    expect(event.redactions.map((r) => [r.type, r.count, r.locations.length])).toEqual([
      ['EMAIL', 30_000, 100],
      ['SECRET', 1, 1],
    ]);
    expect(event.redactions[0]!.locations[0]).toEqual({ end: 18, path: 'messages[0].content', start: 0, value_hash: expect.stringMatching(/^[0-9a-f]{16}$/) });
    // Locations as found, in order; their hashes tell values apart.
    expect(new Set(event.redactions[0]!.locations.map((l) => l.value_hash)).size).toBe(100);
    const bytes = Buffer.byteLength(canonicalJson(event));
    expect(bytes).toBeLessThan(96 * 1024);
  });
});
