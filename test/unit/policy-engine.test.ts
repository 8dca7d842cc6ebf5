import { describe, expect, it } from 'vitest';
import type { Detector } from '../../src/detect/types.js';
import { PolicyChain } from '../../src/policy/engine.js';
import type { DetectionRule, PolicyInstance } from '../../src/policy/types.js';
import { requestSegments } from '../../src/protocol/families.js';

const finds = (needle: string, type = 'X'): Detector => ({
  maxMatchLength: needle.length,
  scan: (t) => {
    const out = [];
    for (let i = t.indexOf(needle); i >= 0; i = t.indexOf(needle, i + 1)) out.push({ type, rule: type.toLowerCase(), start: i, end: i + needle.length });
    return out;
  },
});
const throwing: Detector = {
  maxMatchLength: 1,
  scan: () => {
    throw new TypeError('boom with sk-live-secret in message');
  },
};
const rule = (detector: Detector, action: DetectionRule['action']): DetectionRule => ({ name: 'r', detector, action, phases: ['input'], marker: (m) => `[${m.type}]` });
const policy = (kind: string, ...rules: DetectionRule[]): PolicyInstance => ({ kind, rules });
const segs = requestSegments('chat', { messages: [{ role: 'user', content: 'alpha beta gamma' }] });

describe('policy chain', () => {
  it('runs policies in order, merges redactions, and keeps per-policy verdicts, findings and durations', () => {
    const chain = new PolicyChain([policy('a', rule(finds('alpha', 'A'), 'redact')), policy('b', rule(finds('gamma', 'G'), 'flag')), policy('c', rule(finds('beta', 'B'), 'redact'))], 'block');
    const out = chain.run('input', segs);
    expect(out.verdict).toBe('redact');
    expect(out.results.map((r) => [r.kind, r.verdict, r.findings.map((f) => f.type)])).toEqual([
      ['a', 'redact', ['A']],
      ['b', 'flag', ['G']],
      ['c', 'redact', ['B']],
    ]);
    expect(out.results.every((r) => r.durationUs >= 0)).toBe(true);
    expect(out.edits.map((e) => e.replacement)).toEqual(['[A]', '[B]']);
    expect(JSON.stringify(out.results)).not.toContain('alpha'); // findings carry no values
  });

  it('redacts every one of 200,000 matches in one segment (edits are not spread into one call)', () => {
    const text = 'x@y '.repeat(200_000);
    const chain = new PolicyChain([policy('a', rule(finds('x@y', 'E'), 'redact'))], 'block');
    const out = chain.run('input', requestSegments('chat', { messages: [{ role: 'user', content: text }] }));
    expect(out.verdict).toBe('redact');
    expect(out.edits).toHaveLength(200_000);
  });

  it('stops at a block and names the policy; later policies do not run', () => {
    const chain = new PolicyChain([policy('a', rule(finds('beta'), 'block')), policy('b', rule(finds('alpha'), 'redact'))], 'block');
    const out = chain.run('input', segs);
    expect(out.stoppedBy).toMatchObject({ kind: 'a', verdict: 'block', message: 'a blocked the request: found X' });
    // The finding the refusal names: the blocking rule's match, with its place (segment and span), never its text.
    expect(out.stoppedBy!.finding).toEqual(out.results[0]!.findings[0]);
    expect(out.results.map((r) => r.kind)).toEqual(['a']);
  });

  it('escalate stops the chain too', () => {
    const out = new PolicyChain([policy('h', rule(finds('gamma'), 'escalate'))], 'block').run('input', segs);
    expect(out.stoppedBy?.verdict).toBe('escalate');
    expect(out.stoppedBy?.finding).toBeDefined();
  });

  it('a policy that throws blocks under fail-mode block, and is skipped under allow; the error is a class name only', () => {
    const blocked = new PolicyChain([policy('bad', rule(throwing, 'redact')), policy('b', rule(finds('alpha'), 'redact'))], 'block').run('input', segs);
    expect(blocked.failed).toEqual({ kind: 'bad' });
    expect(blocked.results[0]).toMatchObject({ kind: 'bad', verdict: 'block', error: 'TypeError' });
    const allowed = new PolicyChain([policy('bad', rule(throwing, 'redact')), policy('b', rule(finds('alpha'), 'redact'))], 'allow').run('input', segs);
    expect(allowed.failed).toBeUndefined();
    expect(allowed.results.map((r) => [r.kind, r.verdict, r.error])).toEqual([
      ['bad', 'allow', 'TypeError'],
      ['b', 'redact', undefined],
    ]);
    expect(JSON.stringify(allowed)).not.toContain('sk-live-secret');
  });
});

describe('policies that judge a whole reply', () => {
  it('run on the output phase of a non-streamed reply, with the request as context, and carry a score and reasons', async () => {
    const { replyView, responseSegments } = await import('../../src/protocol/families.js');
    const judge: PolicyInstance = {
      kind: 'judge',
      rules: [],
      assessReply: (reply, request) => ({
        verdict: reply.finishReason === 'length' ? 'flag' : 'allow',
        findings: [],
        score: request.length > 0 ? 0.4 : 1,
        reasons: reply.toolCalls.map((t) => t.name),
      }),
    };
    const chain = new PolicyChain([judge], 'block');
    expect(chain.hasPhase('output')).toBe(true);
    expect(chain.assessesReplies).toBe(true);
    const body = { content: [{ type: 'text', text: 'partial' }, { type: 'tool_use', name: 'Edit', input: { file_path: 'a.ts' } }], stop_reason: 'max_tokens' };
    const out = chain.run('output', responseSegments('messages', body), { view: replyView('messages', body), request: segs });
    expect(out.verdict).toBe('flag');
    expect(out.results[0]).toMatchObject({ kind: 'judge', verdict: 'flag', score: 0.4, reasons: ['Edit'] });
    // Without a reply view (streams), judging policies do not run.
    expect(chain.run('output', responseSegments('messages', body)).results).toEqual([]);
  });

  it('replyView normalises text, tool calls and finish reasons across families', async () => {
    const { replyView } = await import('../../src/protocol/families.js');
    expect(replyView('chat', { choices: [{ message: { content: 'hi', tool_calls: [{ function: { name: 'f', arguments: '{"a":1}' } }] }, finish_reason: 'length' }] })).toEqual({
      text: 'hi',
      toolCalls: [{ name: 'f', input: { a: 1 } }],
      finishReason: 'length',
    });
    expect(replyView('responses', { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, output: [{ type: 'message', content: [{ type: 'output_text', text: 'x' }] }] })).toEqual({ text: 'x', toolCalls: [], finishReason: 'length' });
    expect(replyView('messages', { content: [{ type: 'text', text: 'done' }], stop_reason: 'end_turn' }).finishReason).toBe('stop');
  });
});
