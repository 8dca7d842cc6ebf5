import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DecisionEvent } from '../../src/audit/event.js';
import { startStack, type Stack } from '../helpers/stack.js';

/**
 * The openai package's Responses API (what Codex speaks) through the real gateway to a target of another
 * format: a gateway whose only target speaks Anthropic Messages, and one whose only target speaks OpenAI chat
 * (format: chat). Input policies read the client's request, output policies the reply before it is written back.
 */
const STRIPE = 'sk_live_51Hc8YzKq2Lm4Np6Rs8Tu0Vw2Xy4Za6Bc8De0Fg2Hi4Jk6Lm8No';
const GITHUB = ['ghp', 'Zr4Kp8Wm2Qx6Tn0Vb3Hy7Lc1Jd5Fs9Ga4Ue2'].join('_');
const REPLY = 'Hello from fake upstream!';

const TARGETS = {
  anthropic: { target: '{id: claude, provider: anthropic, base_url: "FAKE_URL", model: claude-sonnet-4-20250514, aliases: {gpt-5: claude-sonnet-4-20250514}}', path: '/v1/messages', pair: 'responses->messages', provider: 'anthropic' },
  chat: { target: '{id: local, provider: openai-compatible, format: chat, base_url: "FAKE_URL/v1", model: llama-3, aliases: {gpt-5: llama-3}}', path: '/v1/chat/completions', pair: 'responses->chat', provider: 'openai-compatible' },
} as const;

const tools: OpenAI.Responses.Tool[] = [{ type: 'function', name: 'exec_command', description: 'run a command', strict: false, parameters: { type: 'object', properties: { cmd: { type: 'string' } }, required: ['cmd'] } }];

for (const [format, spec] of Object.entries(TARGETS)) {
  describe(`responses.create against a gateway whose only target speaks ${format === 'anthropic' ? 'Anthropic Messages' : 'OpenAI chat'}`, () => {
    let stack: Stack;
    beforeAll(async () => {
      stack = await startStack({
        config: `pack: {name: responses-${format}, version: "1"}\npolicies: {chain: [code-sanitizer, audit-logger]}\nproviders:\n  targets:\n    - ${spec.target}\n`,
        audit: { dataDir: mkdtempSync(join(tmpdir(), 'kt-responses-')) },
        fake: { toolName: 'exec_command', toolInput: { cmd: 'ls' } },
      });
    });
    afterAll(() => stack.close());
    beforeEach(() => stack.fake.reset());

    const openai = (requestId?: string) => new OpenAI({ baseURL: stack.openaiBase, apiKey: 'sk-client', maxRetries: 0, ...(requestId ? { defaultHeaders: { 'x-request-id': requestId } } : {}) });
    async function eventFor(requestId: string): Promise<DecisionEvent> {
      await stack.trail!.recorder.caughtUp();
      const rows = await stack.trail!.store.query({ limit: 100 });
      const e = rows.find((r) => r.event.request_id === requestId)?.event;
      if (!e) throw new Error(`no event for ${requestId}`);
      return e;
    }

    it('plain: the reply, its usage and the decision event (translation pair, usage in the upstream\'s counts)', async () => {
      stack.fake.setUsage({ cachedTokens: 40 });
      const res = await openai(`r-plain-${format}`).responses.create({ model: 'gpt-5', instructions: 'Be brief.', input: 'Say hello', store: false });
      expect(res.output_text).toBe(REPLY);
      expect(res.status).toBe('completed');
      expect(res.usage?.input_tokens_details.cached_tokens).toBe(40);
      const seen = stack.fake.requests.at(-1)!;
      expect(seen.path).toBe(spec.path);
      const e = await eventFor(`r-plain-${format}`);
      expect(e.route).toBe('responses');
      expect(e.target).toMatchObject({ id: format === 'anthropic' ? 'claude' : 'local', provider: spec.provider, translation: spec.pair });
      expect(e.usage).toMatchObject({ cached_input_tokens: 40, output_tokens: res.usage!.output_tokens, estimated: false });
    });

    it('streamed: the SDK assembles the events; response.completed carries usage', async () => {
      const stream = await openai().responses.create({ model: 'gpt-5', input: 'Say hello', stream: true });
      let text = '';
      let completed: OpenAI.Responses.Response | undefined;
      const types: string[] = [];
      for await (const event of stream) {
        types.push(event.type);
        if (event.type === 'response.output_text.delta') text += event.delta;
        if (event.type === 'response.completed') completed = event.response;
      }
      expect(text).toBe(REPLY);
      expect(types[0]).toBe('response.created');
      expect(types.at(-1)).toBe('response.completed');
      expect(completed!.usage!.output_tokens).toBeGreaterThan(0);
      expect(stack.fake.requests.at(-1)!.body).toMatchObject({ stream: true });
    });

    it('a tool loop, plain and streamed: the call keeps its call_id and the output pairs with it upstream', async () => {
      const first = await openai().responses.create({ model: 'gpt-5', input: 'TOOLTEST list files', tools });
      const call = first.output.find((i) => i.type === 'function_call')!;
      expect(call).toMatchObject({ type: 'function_call', name: 'exec_command', arguments: '{"cmd":"ls"}' });
      const stream = openai().responses.stream({ model: 'gpt-5', input: 'TOOLTEST list files', tools });
      const final = await stream.finalResponse();
      const streamedCall = final.output.find((i) => i.type === 'function_call');
      expect(streamedCall).toMatchObject({ type: 'function_call', name: 'exec_command', arguments: '{"cmd":"ls"}' });
      if (call.type !== 'function_call') throw new Error('no call');
      const second = await openai().responses.create({
        model: 'gpt-5',
        tools,
        input: [{ role: 'user', content: 'TOOLTEST list files' }, call, { type: 'function_call_output', call_id: call.call_id, output: 'a.txt' }],
      });
      expect(second.output_text).toBe(REPLY);
      const sent = JSON.stringify(stack.fake.requests.at(-1)!.body);
      expect(sent).toContain(call.call_id);
      expect(sent).toContain('a.txt');
    });

    it('Codex\'s namespace tools: flat on the target, the call comes back namespaced (plain and streamed), and goes up flat again', async () => {
      const nsTools = [
        ...tools,
        { type: 'namespace', name: 'multi_agent_v1', description: 'Tools for sub-agents.', tools: [{ type: 'function', name: 'spawn_agent', description: 'Spawn one.', strict: false, parameters: { type: 'object', properties: { message: { type: 'string' } } } }] },
      ] as unknown as OpenAI.Responses.Tool[];
      const flatNames = (body: unknown): string[] => ((body as { tools?: Array<{ name?: string; function?: { name: string } }> }).tools ?? []).map((t) => t.name ?? t.function!.name);
      // Like a model: call the tool the target offered, under the name it was offered; answer once its result is in.
      stack.fake.setResponder((req) => {
        if (req.rawBody.includes('agent-2')) return { text: 'spawned' };
        const name = flatNames(req.body).find((n) => n.endsWith('spawn_agent'));
        return name ? { tool: { name, input: { message: 'audit' } } } : undefined;
      });
      const first = await openai().responses.create({ model: 'gpt-5', input: 'delegate the audit', tools: nsTools });
      expect(flatNames(stack.fake.requests.at(-1)!.body)).toEqual(['exec_command', 'multi_agent_v1__spawn_agent']);
      const call = first.output.find((i) => i.type === 'function_call')!;
      expect(call).toMatchObject({ type: 'function_call', name: 'spawn_agent', namespace: 'multi_agent_v1', arguments: '{"message":"audit"}' });
      const stream = await openai().responses.create({ model: 'gpt-5', input: 'delegate the audit', tools: nsTools, stream: true });
      const done: unknown[] = [];
      for await (const event of stream) if (event.type === 'response.output_item.done' || event.type === 'response.output_item.added') done.push(event.item);
      expect(done).toEqual([expect.objectContaining({ name: 'spawn_agent', namespace: 'multi_agent_v1' }), expect.objectContaining({ name: 'spawn_agent', namespace: 'multi_agent_v1', status: 'completed' })]);
      if (call.type !== 'function_call') throw new Error('no call');
      const second = await openai().responses.create({
        model: 'gpt-5',
        tools: nsTools,
        input: [{ role: 'user', content: 'delegate the audit' }, call, { type: 'function_call_output', call_id: call.call_id, output: '{"agent_id":"agent-2"}' }],
      });
      expect(second.output_text).toBe('spawned');
      const sent = JSON.stringify(stack.fake.requests.at(-1)!.body);
      expect(sent).toContain('"multi_agent_v1__spawn_agent"');
      expect(sent).not.toContain('"namespace"');
    });

    it('input policies read the client\'s request: a token in a function_call_output is redacted before it goes upstream', async () => {
      await openai().responses.create({ model: 'gpt-5', tools, input: [{ role: 'user', content: 'run it' }, { type: 'function_call', call_id: 'call_7', name: 'exec_command', arguments: '{"cmd":"env"}' }, { type: 'function_call_output', call_id: 'call_7', output: `GITHUB_TOKEN=${GITHUB}` }] });
      const sent = JSON.stringify(stack.fake.requests.at(-1)!.body);
      expect(sent).not.toContain(GITHUB.slice(4));
      expect(sent).toContain('[REDACTED');
    });

    it('output policies read the reply before it is written back: a secret from the upstream is redacted, plain and in the Responses stream', async () => {
      stack.fake.setReplyText(`Use ${STRIPE} for payments.`);
      const plain = await openai().responses.create({ model: 'gpt-5', input: 'key?' });
      expect(plain.output_text).not.toContain(STRIPE);
      expect(plain.output_text).toContain('[REDACTED');
      const stream = await openai().responses.create({ model: 'gpt-5', input: 'key?', stream: true });
      let text = '';
      let done = '';
      for await (const event of stream) {
        if (event.type === 'response.output_text.delta') text += event.delta;
        if (event.type === 'response.completed') done = JSON.stringify(event.response);
      }
      expect(text).not.toContain(STRIPE);
      expect(text).toContain('[REDACTED');
      expect(done).not.toContain(STRIPE);
    });

    it('what the target cannot say is a 400 naming the member, and nothing goes upstream', async () => {
      const before = stack.fake.requests.length;
      const err = await openai()
        .responses.create({ model: 'gpt-5', input: 'hi', tools: [...tools, { type: 'web_search' }] })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      const bad = err as InstanceType<typeof OpenAI.BadRequestError>;
      expect(bad.code).toBe('untranslatable_field');
      expect(bad.param).toBe('tools[1].type');
      expect(stack.fake.requests.length).toBe(before);
    });

    it('/v1/models lists the models of the target reachable through translation', async () => {
      const ids = [];
      for await (const m of openai().models.list()) ids.push(m.id);
      expect(ids).toEqual(expect.arrayContaining(format === 'anthropic' ? ['claude-sonnet-4-20250514', 'gpt-5'] : ['llama-3', 'gpt-5']));
    });
  });
}

describe('a Responses stream from an Anthropic target blocked mid-stream by an output policy', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      config: `pack: {name: responses-block, version: "1"}\npolicies: {chain: [code-sanitizer, audit-logger]}\npolicy:\n  code-sanitizer: {block_on_match: true}\nproviders:\n  targets:\n    - ${TARGETS.anthropic.target}\n`,
      audit: { dataDir: mkdtempSync(join(tmpdir(), 'kt-responses-block-')) },
    });
  });
  afterAll(() => stack.close());

  it('ends in the Responses shape (an error event, then response.failed), with no byte of the secret', async () => {
    stack.fake.setReplyText(`Here it is: ${STRIPE} and more text after it so the stream has begun.`);
    const res = await fetch(`${stack.openaiBase}/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-client' },
      body: JSON.stringify({ model: 'gpt-5', input: 'key?', stream: true }),
    });
    const body = await res.text();
    expect(body).not.toContain(STRIPE.slice(8));
    const types = [...body.matchAll(/^event: (.+)$/gm)].map((m) => m[1]);
    expect(types.slice(-2)).toEqual(['error', 'response.failed']);
    expect(body).toContain('"code":"output_blocked"');
    // What an openai SDK caller iterating the stream sees: the error event with the refusal's code, then the failed response.
    const stream = await new OpenAI({ baseURL: stack.openaiBase, apiKey: 'sk-client', maxRetries: 0 }).responses.create({ model: 'gpt-5', input: 'key?', stream: true });
    const seen: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of stream) seen.push(event);
    expect(seen.at(-2)).toMatchObject({ type: 'error', code: 'output_blocked' });
    expect(seen.at(-1)).toMatchObject({ type: 'response.failed', response: { status: 'failed' } });
    expect(JSON.stringify(seen)).not.toContain(STRIPE.slice(8));
  });
});
