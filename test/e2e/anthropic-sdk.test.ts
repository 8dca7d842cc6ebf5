import Anthropic from '@anthropic-ai/sdk';
import Anthropic0 from 'anthropic-sdk-0';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());
beforeEach(() => stack.fake.reset());

const MODEL = 'test-model-1';
const tools = [{ name: 'Bash', description: 'run a command', input_schema: { type: 'object' as const, properties: { command: { type: 'string' } } } }];

/** Both SDK generations: 1.x sends `Authorization: Bearer`, 0.x sends `x-api-key` and `?beta=true` for betas. */
const sdks = [
  { name: '@anthropic-ai/sdk 1.x', make: (baseURL: string) => new Anthropic({ baseURL, apiKey: 'sk-ant-client', maxRetries: 0 }) as unknown as Anthropic },
  { name: '@anthropic-ai/sdk 0.x', make: (baseURL: string) => new Anthropic0({ baseURL, apiKey: 'sk-ant-client', maxRetries: 0 }) as unknown as Anthropic },
];

for (const sdk of sdks) {
  describe(`${sdk.name} through the gateway`, () => {
    const client = () => sdk.make(stack.anthropicBase);

    it('message, plain; the client key reaches Anthropic as x-api-key', async () => {
      const msg = await client().messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'Say hello' }] });
      expect(msg.content[0]).toMatchObject({ type: 'text', text: 'Hello from fake upstream!' });
      const seen = stack.fake.requests.at(-1)!;
      expect(seen.path).toBe('/v1/messages');
      expect(seen.headers['x-api-key']).toBe('sk-ant-client');
      expect(seen.headers.authorization).toBeUndefined();
      expect(seen.headers['anthropic-version']).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    });

    it('message, streamed with event lines kept', async () => {
      const stream = client().messages.stream({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'Say hello' }] });
      const events: string[] = [];
      stream.on('streamEvent', (e) => events.push(e.type));
      const final = await stream.finalMessage();
      expect(final.content[0]).toMatchObject({ type: 'text', text: 'Hello from fake upstream!' });
      expect(events).toContain('message_start');
      expect(events.at(-1)).toBe('message_stop');
    });

    it('tool use, plain and streamed', async () => {
      const plain = await client().messages.create({ model: MODEL, max_tokens: 64, tools, messages: [{ role: 'user', content: 'TOOLTEST' }] });
      expect(plain.stop_reason).toBe('tool_use');
      expect(plain.content.find((b) => b.type === 'tool_use')).toMatchObject({ name: 'Bash', input: { command: 'echo hi' } });
      const streamed = await client().messages.stream({ model: MODEL, max_tokens: 64, tools, messages: [{ role: 'user', content: 'TOOLTEST' }] }).finalMessage();
      expect(streamed.content.find((b) => b.type === 'tool_use')).toMatchObject({ name: 'Bash', input: { command: 'echo hi' } });
    });

    it('count_tokens', async () => {
      const res = await client().messages.countTokens({ model: MODEL, messages: [{ role: 'user', content: 'Say hello' }] });
      expect(res.input_tokens).toBeGreaterThan(0);
      expect(stack.fake.requests.at(-1)!.path).toBe('/v1/messages/count_tokens');
    });

    it('beta messages keep anthropic-beta (and ?beta=true where the SDK adds it)', async () => {
      const msg = await client().beta.messages.create({ model: MODEL, max_tokens: 64, betas: ['context-management-2025-06-27'], messages: [{ role: 'user', content: 'hi' }] });
      expect(msg.content[0]).toMatchObject({ type: 'text' });
      const seen = stack.fake.requests.at(-1)!;
      expect(seen.headers['anthropic-beta']).toBe('context-management-2025-06-27');
      if (sdk.name.includes('0.x')) expect(seen.query.beta).toBe('true');
    });

    it('lists models in the Anthropic shape', async () => {
      const local = await startStack({
        config: `pack: {name: m, version: "1"}
providers:
  targets:
    - {id: b, provider: anthropic, model: claude-sonnet-4-20250514, aliases: {sonnet: claude-sonnet-4-20250514}, base_url: "FAKE_URL"}
`,
      });
      try {
        const ids: string[] = [];
        for await (const m of sdk.make(local.anthropicBase).models.list()) ids.push(m.id);
        expect(ids).toEqual(['claude-sonnet-4-20250514', 'sonnet']);
      } finally {
        await local.close();
      }
    });

    it('surfaces upstream overload (529) as the SDK error', async () => {
      // Twice: the gateway retries a target once by default.
      stack.fake.setFault({ kind: 'status', status: 529 }, { times: 2 });
      const err = await client().messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
      expect((err as { status?: number }).status).toBe(529);
      expect((err as Error).message).toMatch(/overloaded/);
    });
  });
}
