import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Detector, DetectorMatch } from '../../src/detect/types.js';
import { PolicyChain } from '../../src/policy/engine.js';
import type { DetectionRule, PolicyInstance } from '../../src/policy/types.js';
import type { Family } from '../../src/providers/targets.js';
import { ReplyBudget } from '../../src/stream/budget.js';
import { StreamGuard } from '../../src/stream/guard.js';

/**
 * Text a window holds back does not go out as frames with empty deltas (issue 17): a frame whose pieces were
 * all held is dropped when it carries nothing else, and kept when it carries something a client reads (a role,
 * a block start, a finish reason, a tool call's id and name, usage). The text the client assembles is the same.
 */

const email: Detector = {
  maxMatchLength: 64,
  scan(text: string): DetectorMatch[] {
    return [...text.matchAll(/\b[a-z]{1,12}@[a-z]{2,12}\.com\b/g)].map((m) => ({ type: 'EMAIL', rule: 'email', start: m.index, end: m.index + m[0].length }));
  },
};
const rules: DetectionRule[] = [{ name: 'e', detector: email, action: 'redact', phases: ['output'], marker: () => '[EMAIL]' }];
const chain = new PolicyChain([{ kind: 'pii', rules } satisfies PolicyInstance], 'block');

type Frame = { event?: string; data: Record<string, unknown> };

/** A stream of one family: a start frame that carries a role or a block, the pieces, then an end with a reason and usage. */
function frames(family: Family, pieces: string[], tool: boolean): Frame[] {
  if (family === 'chat') {
    const chunk = (delta: Record<string, unknown>, finish: string | null = null, extra: Record<string, unknown> = {}) => ({
      data: { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra },
    });
    return [
      chunk({ role: 'assistant', content: '' }),
      ...pieces.map((p) => chunk({ content: p })),
      ...(tool ? [chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'edit', arguments: '' } }] }), chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a":1}' } }] })] : []),
      chunk({}, tool ? 'tool_calls' : 'stop'),
      { data: { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } } },
    ];
  }
  if (family === 'messages') {
    const ev = (event: string, data: Record<string, unknown>): Frame => ({ event, data: { type: event, ...data } });
    return [
      ev('message_start', { message: { id: 'm', role: 'assistant', content: [], usage: { input_tokens: 1, output_tokens: 0 } } }),
      ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
      ...pieces.map((p) => ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: p } })),
      ev('content_block_stop', { index: 0 }),
      ev('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 2 } }),
      ev('message_stop', {}),
    ];
  }
  const ev = (event: string, data: Record<string, unknown>): Frame => ({ event, data: { type: event, ...data } });
  const full = pieces.join('');
  return [
    ev('response.created', { response: { id: 'r', status: 'in_progress', output: [] } }),
    ...pieces.map((p, i) => ev('response.output_text.delta', { sequence_number: i + 1, item_id: 'msg', output_index: 0, content_index: 0, delta: p, logprobs: [] })),
    ev('response.output_text.done', { item_id: 'msg', output_index: 0, content_index: 0, text: full }),
    ev('response.completed', { response: { id: 'r', status: 'completed', output: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: full }] }], usage: { input_tokens: 1, output_tokens: 2 } } }),
  ];
}

const wire = (fs: Frame[]) => fs.map((f) => `${f.event ? `event: ${f.event}\n` : ''}data: ${JSON.stringify(f.data)}\n\n`).join('');

function parse(out: string): Frame[] {
  return out
    .split('\n\n')
    .filter((f) => f.includes('data: '))
    .map((f) => {
      const event = f.split('\n').find((l) => l.startsWith('event: '))?.slice(7);
      return { ...(event ? { event } : {}), data: JSON.parse(f.split('\n').find((l) => l.startsWith('data: '))!.slice(6)) as Record<string, unknown> };
    });
}

/** The text pieces a frame carries, and whether it carries anything besides them. */
function piecesOf(family: Family, f: Frame): { text: string[]; more: boolean } {
  const d = f.data;
  if (family === 'chat') {
    const choices = d.choices as Array<{ delta: Record<string, unknown>; finish_reason: unknown }>;
    if (d.usage != null || choices.length === 0) return { text: [], more: true };
    const delta = choices[0]!.delta;
    const more = choices[0]!.finish_reason !== null || Object.keys(delta).some((k) => k !== 'content');
    return { text: typeof delta.content === 'string' ? [delta.content] : [], more };
  }
  if (family === 'messages') {
    if (d.type !== 'content_block_delta') return { text: [], more: true };
    return { text: [String((d.delta as { text: string }).text)], more: false };
  }
  if (d.type !== 'response.output_text.delta') return { text: [], more: true };
  return { text: [String(d.delta)], more: false };
}

const text = fc
  .array(fc.oneof(fc.stringMatching(/^[a-z ,.]{0,30}$/), fc.tuple(fc.stringMatching(/^[a-z]{1,8}$/), fc.stringMatching(/^[a-z]{2,8}$/)).map(([u, h]) => ` ${u}@${h}.com `)), { minLength: 1, maxLength: 8 })
  .map((parts) => parts.join(''));

function splitAt(s: string, cuts: number[]): string[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * s.length)))].sort((a, b) => a - b);
  const out: string[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(s.slice(prev, p));
    prev = p;
  }
  out.push(s.slice(prev));
  return out.filter((p) => p !== '');
}

describe('StreamGuard drops frames that would only carry held-back (empty) text', () => {
  for (const family of ['chat', 'messages', 'responses'] as const) {
    it(family, () => {
      fc.assert(
        fc.property(text, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 30 }), fc.boolean(), (reply, cuts, tool) => {
          const pieces = splitAt(reply, cuts);
          const sent = frames(family, pieces, tool && family === 'chat');
          const guard = new StreamGuard(family, chain, new ReplyBudget(1 << 24));
          const out = parse(guard.push(wire(sent)) + guard.end());
          const expected = reply.replace(/\b[a-z]{1,12}@[a-z]{2,12}\.com\b/g, '[EMAIL]');
          let assembled = '';
          for (const f of out) {
            const { text: got, more } = piecesOf(family, f);
            assembled += got.join('');
            // A frame with only pieces has text in them; an empty piece is only ever beside something else.
            if (!more) expect(got.join(''), JSON.stringify(f.data)).not.toBe('');
          }
          expect(assembled).toBe(expected);
          // Everything a client reads besides text still arrives: the role or block start, the end, usage, tool calls.
          const kept = (pred: (f: Frame) => boolean) => out.filter(pred).length === sent.filter(pred).length;
          if (family === 'chat') {
            expect(kept((f) => 'role' in ((f.data.choices as Array<{ delta: object }>)[0]?.delta ?? {}))).toBe(true);
            expect(kept((f) => (f.data.choices as Array<{ finish_reason: unknown }>)[0]?.finish_reason != null)).toBe(true);
            expect(kept((f) => f.data.usage != null)).toBe(true);
            expect(kept((f) => JSON.stringify(f.data).includes('"id":"call_1"'))).toBe(true);
          } else {
            for (const type of ['message_start', 'content_block_start', 'content_block_stop', 'message_delta', 'message_stop', 'response.created', 'response.output_text.done', 'response.completed']) {
              expect(kept((f) => f.data.type === type), type).toBe(true);
            }
          }
        }),
        { numRuns: 200 },
      );
    });
  }
});
