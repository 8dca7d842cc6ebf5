import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { documentSchema } from '../../src/config/schema.js';
import { errorBody, GatewayError, sendError, type GatewayErrorType } from '../../src/gateway/errors.js';
import { budgetNotice, duration, finalRefusal, policyNotice, quotableFor, streamNotice } from '../../src/gateway/refusal.js';
import { buildChain } from '../../src/policy/build.js';
import { requestView } from '../../src/protocol/families.js';
import { fileOfText } from '../../src/protocol/locate.js';
import { StreamEnding, streamedMessage, type RefusalNotice } from '../../src/protocol/refusal.js';
import type { Family } from '../../src/providers/targets.js';
import { formatUsd } from '../../src/usage/money.js';

const GH = 'ghp_R8x2Lk9QvT4mZ7wN1pYc6Hd3Jf5Bs0Ga2Ue8';
const EMAIL = 'dana.whitfield@northwind-labs.com';
/** Words that make litellm (Aider) retry an error, or Aider offer to open a link. */
const RETRY_WORDS = /\b429\b|rate[\s_-]*limit|overloaded|content filtering|context (?:length|limit|window)|too long|https?:\/\//i;
const ANTHROPIC_TYPES = ['invalid_request_error', 'authentication_error', 'billing_error', 'permission_error', 'not_found_error', 'request_too_large', 'rate_limit_error', 'api_error', 'overloaded_error'];

const chain = buildChain(
  documentSchema().parse({
    pack: { name: 't', version: '1' },
    policies: { chain: ['pii-detector', 'code-sanitizer', 'dlp-filter'] },
    policy: { 'code-sanitizer': { block_on_match: true } },
    providers: { targets: [{ id: 'a', provider: 'openai' }] },
  }),
  'block',
  { markerSalt: 'x' },
);

const positives = readFileSync(new URL('../corpus/secrets/positives.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((l) => (JSON.parse(l) as { secret: string }).secret)
  .slice(0, 60);

describe('error bodies', () => {
  const types: GatewayErrorType[] = ['invalid_request_error', 'authentication_error', 'permission_error', 'not_found_error', 'request_too_large', 'rate_limit_error', 'upstream_error', 'timeout_error', 'overloaded_error', 'api_error'];

  it('every gateway error type reaches Anthropic clients as a type they know (an unknown one was shown as a connection error)', () => {
    for (const type of types) {
      const body = errorBody('anthropic', new GatewayError(500, type, 'm'), 'req') as { error: { type: string } };
      expect(ANTHROPIC_TYPES).toContain(body.error.type);
    }
  });

  it('x-should-retry: false on every final answer: 4xx but 408 and 429, and whatever is marked final', () => {
    fc.assert(
      fc.property(fc.integer({ min: 400, max: 599 }), fc.option(fc.boolean(), { nil: undefined }), (status, final) => {
        const headers: Record<string, unknown> = {};
        const res = { headersSent: false, setHeader: () => undefined, writeHead: (_s: number, h: Record<string, unknown>) => Object.assign(headers, h), end: () => undefined, destroy: () => undefined };
        sendError(res as never, 'openai', new GatewayError(status, 'api_error', 'm', final === undefined ? {} : { final }), 'req');
        const expected = final ?? (status < 500 && status !== 408 && status !== 429);
        expect(headers['x-should-retry']).toBe(expected ? 'false' : undefined);
      }),
    );
  });

  it('a refusal is a 400 invalid_request_error in both shapes, its details beside the code, never replacing a standard member', () => {
    const notice: RefusalNotice = { code: 'input_blocked', message: 'm', details: { policy: 'p', rule: 'r', message: 'sneaky', type: 'x' } };
    const err = finalRefusal(notice, 'block');
    expect([err.status, err.type, err.final]).toEqual([400, 'invalid_request_error', true]);
    expect(errorBody('openai', err, 'req')).toEqual({ error: { message: 'm', type: 'invalid_request_error', code: 'input_blocked', param: null, policy: 'p', rule: 'r' } });
    expect(errorBody('anthropic', err, 'req')).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: 'm', code: 'input_blocked', policy: 'p', rule: 'r' }, request_id: 'req' });
  });
});

describe('refusal messages never quote what they refuse', () => {
  /** Names a client chooses for the parts of a conversation, some of them holding secrets or odd text. */
  const name = fc.oneof(
    fc.constantFrom('Read', 'Bash', 'exec_command', 'src/app.ts', 'toolu_01ABC', 'call_9', 'rate limit', 'v 429 x', 'a\nb', 'quote"d', GH, `src/${GH}.ts`, EMAIL, `config/${EMAIL}`, 'https://x.example/a'),
    fc.constantFrom(...positives),
    fc.string({ maxLength: 40 }),
  );
  const secret = fc.constantFrom(GH, ...positives);

  function body(family: Family, id: string, tool: string, path: string, header: string, planted: string): Record<string, unknown> {
    // Always one token the chain blocks, beside the planted value (which some rules only redact).
    const result = `${header}\n\`\`\`\nconst key = "${planted}";\nconst gh = "${GH}";\n\`\`\`\n`;
    if (family === 'messages') {
      return {
        model: 'm',
        messages: [
          { role: 'user', content: 'read it' },
          { role: 'assistant', content: [{ type: 'tool_use', id, name: tool, input: { file_path: path } }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content: result }] },
        ],
      };
    }
    if (family === 'chat') {
      return {
        model: 'm',
        messages: [
          { role: 'user', content: 'read it' },
          { role: 'assistant', content: null, tool_calls: [{ id, type: 'function', function: { name: tool, arguments: JSON.stringify({ path }) } }] },
          { role: 'tool', tool_call_id: id, content: result },
        ],
      };
    }
    return {
      model: 'm',
      input: [
        { role: 'user', content: 'read it' },
        { type: 'function_call', call_id: id, name: tool, arguments: JSON.stringify({ path }) },
        { type: 'function_call_output', call_id: id, output: result },
      ],
    };
  }

  /** Every value a rule of the chain matches in these texts. */
  const detected = (texts: readonly string[]) => {
    const rules = [...chain.rulesFor('input'), ...chain.rulesFor('output')];
    return texts.flatMap((t) => rules.flatMap(({ rule }) => rule.detector.scan(t).map((m) => t.slice(m.start, m.end))));
  };

  it('whatever names the client chose, the notice holds nothing a detector finds, no line break, nothing litellm would retry', () => {
    fc.assert(
      fc.property(fc.constantFrom<Family>('chat', 'messages', 'responses'), name, name, name, name, secret, (family, id, tool, path, header, planted) => {
        const b = body(family, id, tool, path, header, planted);
        const { segments } = requestView(family, b);
        const outcome = chain.run('input', segments);
        expect(outcome.stoppedBy).toBeDefined();
        const notice = policyNotice({ phase: 'input', stop: outcome.stoppedBy!, chain, body: b, segments, findings: outcome.results.flatMap((r) => r.findings), ref: { eventId: 'evt_01TEST', requestId: 'req_1' } });
        const all = `${notice.message} ${Object.values(notice.details).join(' ')}`;
        // What the chain finds, in the segments or in a name the message could quote, is never in it.
        for (const value of detected([...segments.map((x) => x.text), id, tool, path, header])) expect(all).not.toContain(value);
        expect(all).not.toContain(GH);
        expect(all).not.toMatch(/[\n\r"]/);
        expect(all).not.toMatch(RETRY_WORDS);
        expect(notice.message).toContain('event evt_01TEST');
        expect(notice.details.location).toBeDefined();
      }),
      { numRuns: 300 },
    );
  });

  it('names the call, the tool and the file when they are plain', () => {
    const b = body('messages', 'toolu_01ABC', 'Read', 'src/app.ts', 'src/app.ts', GH);
    const { segments } = requestView('messages', b);
    const outcome = chain.run('input', segments);
    const notice = policyNotice({ phase: 'input', stop: outcome.stoppedBy!, chain, body: b, segments, findings: outcome.results.flatMap((r) => r.findings), ref: { eventId: undefined, requestId: 'req_7' } });
    expect(notice.details).toEqual({ policy: 'code-sanitizer', rule: 'github-pat', location: 'the result of tool call toolu_01ABC (Read) in turn 3, file src/app.ts', request_id: 'req_7' });
    expect(notice.message).toBe(
      'keeptrusts blocked this request; it was not sent to the model. code-sanitizer found SECRET (rule github-pat) in the result of tool call toolu_01ABC (Read) in turn 3, file src/app.ts. Remove that from the conversation and try again, or ask your keeptrusts admin about request req_7.',
    );
  });

  it('a streamed block names the part of the reply and the event', () => {
    const n = streamNotice({ policy: 'code-sanitizer', verdict: 'block', finding: { type: 'SECRET', rule: 'stripe-secret-key', source: 'output_tool_call' } }, { eventId: 'evt_X', requestId: 'r' });
    expect(n.message).toBe("keeptrusts withheld the model's reply. code-sanitizer found SECRET (rule stripe-secret-key) in the arguments of the reply's tool call. Ask again in other words, or ask your keeptrusts admin about event evt_X.");
    expect(streamedMessage(n)).toContain("Client error '400 Bad Request', invalid_request_error, output_blocked");
  });

  it("Aider's fenced files: the path line before the fence, only for positions inside the block", () => {
    const text = 'I have *added these files to the chat*\n\nsrc/m.py\n```\nx = 1\nKEY = 2\n```\n\nREADME.md\n````\nhello\n```\nstill inside\n````\nafter\n';
    const yes = () => true;
    expect(fileOfText(text, text.indexOf('KEY'), yes)).toBe('src/m.py');
    expect(fileOfText(text, text.indexOf('still inside'), yes)).toBe('README.md');
    expect(fileOfText(text, text.indexOf('src/m.py'), yes)).toBeUndefined();
    expect(fileOfText(text, text.indexOf('after'), yes)).toBeUndefined();
    expect(fileOfText(text, text.indexOf('KEY'), () => false)).toBeUndefined();
    expect(fileOfText('plain text KEY', 11, yes)).toBeUndefined();
  });
});

describe('stream endings', () => {
  const notice: RefusalNotice = { code: 'output_blocked', message: 'no', details: { policy: 'p' } };
  const frames = (text: string) =>
    text
      .trim()
      .split('\n\n')
      .map((f) => {
        const event = /^event: (.*)$/m.exec(f)?.[1];
        return { event, data: JSON.parse(/^data: (.*)$/m.exec(f)![1]!) as Record<string, any> };
      });

  it('Anthropic: whatever the client received, one message_start ahead, a new empty text block completed before the error, and no open block closed', () => {
    const op = fc.oneof(fc.constant('text' as const), fc.constant('tool' as const), fc.constant('stop' as const), fc.constant('delta' as const));
    fc.assert(
      fc.property(fc.boolean(), fc.array(op, { maxLength: 12 }), (started, ops) => {
        const ending = new StreamEnding('messages');
        const sent: Array<{ type: string; index?: number; content_block?: { type: string } }> = [];
        const open: number[] = [];
        let next = 0;
        const send = (f: { type: string; index?: number; content_block?: { type: string } }) => {
          sent.push(f);
          ending.observe(f as Record<string, unknown>, f.type);
        };
        if (started) send({ type: 'message_start' });
        for (const o of ops) {
          if (!started) break;
          if (o === 'text' || o === 'tool') {
            open.push(next);
            send({ type: 'content_block_start', index: next++, content_block: { type: o === 'tool' ? 'tool_use' : 'text' } });
          } else if (o === 'stop' && open.length > 0) send({ type: 'content_block_stop', index: open.shift()! });
          else if (o === 'delta' && open.length > 0) send({ type: 'content_block_delta', index: open[0]! });
        }
        const added = frames(ending.refusal(notice)).map((f) => f.data as { type: string; index?: number; content_block?: { type: string; text?: string } });
        const all = [...sent, ...added];
        expect(all.filter((f) => f.type === 'message_start')).toHaveLength(1);
        expect(all[0]!.type).toBe('message_start');
        expect(added.slice(-3).map((f) => f.type)).toEqual(['content_block_start', 'content_block_stop', 'error']);
        const [start, stop] = added.slice(-3);
        expect(start!.content_block).toEqual({ type: 'text', text: '' });
        expect(start!.index).toBe(next);
        expect(stop!.index).toBe(next);
        // A block the client had open (a tool call above all) is never completed by the refusal.
        for (const i of open) expect(added.some((f) => f.type === 'content_block_stop' && f.index === i)).toBe(false);
      }),
    );
  });

  it('Responses: the error and response.failed continue the sequence numbers and keep the response id', () => {
    const ending = new StreamEnding('responses');
    ending.observe({ type: 'response.created', sequence_number: 0, response: { id: 'resp_9', object: 'response', status: 'in_progress', output: [] } }, undefined);
    ending.observe({ type: 'response.output_text.delta', sequence_number: 4, delta: 'x' }, undefined);
    const [error, failed] = frames(ending.refusal(notice));
    expect(error).toMatchObject({ event: 'error', data: { type: 'error', code: 'output_blocked', message: 'no', sequence_number: 5, policy: 'p' } });
    expect(failed).toMatchObject({ event: 'response.failed', data: { sequence_number: 6, response: { id: 'resp_9', status: 'failed', error: { code: 'invalid_prompt', message: 'no', refusal_code: 'output_blocked' } } } });
  });

  it('Chat: one chunk holding the error, with the stream trailer', () => {
    const [chunk] = frames(new StreamEnding('chat').refusal(notice));
    expect(chunk!.data).toEqual({ error: { message: streamedMessage(notice), type: 'invalid_request_error', code: 'output_blocked', param: null, policy: 'p' } });
  });
});

describe('amounts and durations', () => {
  it('formatUsd: exact to the micro-dollar, at least two decimals, never $0.00 for a non-zero amount', () => {
    expect([20, 0.25, 0.001, 1.2345, 0.000001, 0, 0.1].map(formatUsd)).toEqual(['$20.00', '$0.25', '$0.001', '$1.2345', '$0.000001', '$0.00', '$0.10']);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000_000 }), (micros) => {
        const text = formatUsd(micros / 1e6);
        expect(text).toMatch(/^\$\d+\.\d{2,6}$/);
        expect(Math.round(Number(text.slice(1)) * 1e6)).toBe(micros);
      }),
    );
  });

  it('duration', () => {
    expect([0, 42, 60, 3599, 3600, 79_106, 86_400, 2 * 86_400 + 7200].map(duration)).toEqual(['0 s', '42 s', '1 min', '59 min', '1 h', '21 h 58 min', '1 d', '2 d 2 h']);
  });

  it('a budget notice says how much, when, how long, and which event', () => {
    const n = budgetNotice(
      { ok: false, status: 429, code: 'budget_exceeded', limit: 'budget', scope: 'team', value: 'core', retryAfterSec: 79_106, message: 'team "core" has used its daily budget of $0.001; it resets at 2026-12-08T00:00:00Z' },
      { eventId: 'evt_1', requestId: 'r' },
    );
    expect(n.message).toBe(
      'keeptrusts stopped this request; it was not sent to the model. team "core" has used its daily budget of $0.001; it resets at 2026-12-08T00:00:00Z (in 21 h 58 min). Ask your keeptrusts admin to raise the budget, or try again after the reset; event evt_1.',
    );
    expect(n.details).toEqual({ limit: 'budget', scope: 'team', event_id: 'evt_1' });
  });
});

describe('quotable names', () => {
  it('refuses what a detector of the chain finds, line breaks, quotes and retry words', () => {
    const quotable = quotableFor(chain);
    expect(['src/app.ts', 'Read', 'toolu_01ABC', 'my file.txt'].every(quotable)).toBe(true);
    expect([GH, `src/${GH}.ts`, EMAIL, 'a\nb', 'a"b', 'rate limit', 'file-429.ts x 429', ''].some(quotable)).toBe(false);
  });
});
