import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';

/**
 * `GET /v1/models` as the troubleshooting step curls it: what the targets serve, in the shape of the client that
 * asks. Pass-through targets (the quickstart's and the demo's name no model) list what their upstream says it
 * serves, or the price list's models of their provider when there is no key to ask with.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const example = (name: string) => readFileSync(`${ROOT}examples/${name}/policy-config.yaml`, 'utf8');

async function list(base: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await request(`${base}/v1/models`, { headers });
  return { status: res.statusCode, body: await res.body.json() };
}

describe('the demo config (the fake provider behind pass-through targets)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ config: example('demo').replaceAll('http://127.0.0.1:41099', 'FAKE_URL') });
  });
  afterAll(() => stack.close());

  it('an OpenAI client gets the OpenAI list of what the OpenAI-format upstream serves', async () => {
    const { status, body } = await list(stack.gateway.url, { authorization: 'Bearer anything' });
    expect(status).toBe(200);
    expect(body.object).toBe('list');
    // Its own API's models first, then those of the Anthropic target, reachable through translation.
    expect(body.data.map((m: { id: string }) => m.id)).toEqual(['gpt-4o', 'gpt-4o-mini', 'o3-mini', 'claude-sonnet-4-20250514', 'claude-opus-4-1-20250805', 'claude-3-5-haiku-20241022']);
    expect(body.data[0]).toMatchObject({ object: 'model', owned_by: 'openai-compatible' });
    const asked = stack.fake.requests.filter((r) => r.family === 'models');
    expect(asked).toHaveLength(2);
    expect(asked[0]!.headers.authorization).toBe('Bearer anything');
    expect(asked[1]!.headers).toMatchObject({ 'x-api-key': 'anything', 'anthropic-version': '2023-06-01' });
  });

  it('an Anthropic client (anthropic-version) gets the Anthropic list, Anthropic models first', async () => {
    const { status, body } = await list(stack.gateway.url, { 'x-api-key': 'anything', 'anthropic-version': '2023-06-01' });
    expect(status).toBe(200);
    expect(body).toMatchObject({ has_more: false, first_id: 'claude-sonnet-4-20250514' });
    expect(body.data.map((m: { id: string }) => m.id).slice(0, 3)).toEqual(['claude-sonnet-4-20250514', 'claude-opus-4-1-20250805', 'claude-3-5-haiku-20241022']);
    expect(body.data[0]).toMatchObject({ type: 'model', display_name: 'claude-sonnet-4-20250514' });
  });
});

describe('the quickstart config (real providers, the client key forwarded)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ config: example('quickstart') });
  });
  afterAll(() => stack.close());

  // No key in these requests, so the gateway cannot ask the providers (and the test never reaches them).
  it('without a key to ask with, lists the price list models of each provider: never empty', async () => {
    const openai = await list(stack.gateway.url);
    const ids = openai.body.data.map((m: { id: string }) => m.id) as string[];
    expect(ids).toContain('gpt-4o');
    expect(ids).toContain('gpt-4o-mini');
    // Claude models are reachable through translation, and listed after the OpenAI ones.
    expect(ids.findIndex((id) => id.startsWith('claude'))).toBeGreaterThan(ids.lastIndexOf('gpt-4o-mini'));

    const anthropic = await list(stack.gateway.url, { 'anthropic-version': '2023-06-01' });
    const claude = anthropic.body.data.map((m: { id: string }) => m.id) as string[];
    expect(claude).toContain('claude-3-5-haiku');
    expect(claude[0]!.startsWith('claude')).toBe(true);

    const one = await request(`${stack.gateway.url}/v1/models/gpt-4o`);
    expect(one.statusCode).toBe(200);
    expect(await one.body.json()).toMatchObject({ id: 'gpt-4o', object: 'model', owned_by: 'openai' });
  });
});

describe('named models', () => {
  it('lists model, models and aliases of the targets; an unreachable upstream is never asked for named targets', async () => {
    const stack = await startStack({
      config: `pack: {name: m, version: "1"}
providers:
  targets:
    - {id: a, provider: openai-compatible, model: gpt-4o, models: [gpt-4o-mini], aliases: {smart: gpt-4o}, base_url: "http://127.0.0.1:9/v1"}
    - {id: b, provider: anthropic, model: claude-sonnet-4-20250514, base_url: "http://127.0.0.1:9"}
`,
    });
    try {
      expect((await list(stack.gateway.url, { authorization: 'Bearer k' })).body.data.map((m: { id: string }) => m.id)).toEqual(['gpt-4o', 'gpt-4o-mini', 'smart', 'claude-sonnet-4-20250514']);
      expect((await list(stack.gateway.url, { 'anthropic-version': '2023-06-01' })).body.data.map((m: { id: string }) => m.id)).toEqual(['claude-sonnet-4-20250514', 'gpt-4o', 'gpt-4o-mini', 'smart']);
    } finally {
      await stack.close();
    }
  });
});
