import { gzipSync } from 'node:zlib';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';

/** Unlocks /health's details (in flight, targets), which need an operator token. */
const OPERATOR = 'metrics-token-for-tests-0123456789';
const asOperator = { headers: { authorization: `Bearer ${OPERATOR}` } };

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ maxBodyBytes: 256 * 1024, gateway: { metricsToken: OPERATOR } });
});
afterAll(() => stack.close());
beforeEach(() => stack.fake.reset());

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await request(`${stack.gateway.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test', ...headers },
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
  const text = await res.body.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

describe('pass-through fidelity', () => {
  it('forwards a Claude Code style body byte for byte, unknown fields and system-in-messages included', async () => {
    const body = JSON.stringify({
      model: 'claude-opus-5-5',
      max_tokens: 128000,
      system: [{ type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1' }, { type: 'text', text: 'You are Claude', cache_control: { type: 'ephemeral' } }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'hi' }] },
        { role: 'system', content: 'environment block' },
      ],
      tools: [{ name: 'DeferredToolPlaceholder', input_schema: { type: 'object' }, defer_loading: true }],
      thinking: { type: 'adaptive', display: 'omitted' },
      context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] },
      output_config: { effort: 'medium' },
      metadata: { user_id: '{"device_id":"d","session_id":"s"}' },
      stream: true,
    });
    const res = await post('/v1/messages?beta=true', body, {
      'x-api-key': 'sk-ant-x',
      authorization: '',
      'anthropic-version': '2023-06-01',
      'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14',
      'x-claude-code-session-id': 'abc',
      'accept-encoding': 'gzip, deflate, br, zstd',
    });
    expect(res.status).toBe(200);
    expect(res.text).toContain('event: message_start');
    const seen = stack.fake.requests.at(-1)!;
    expect(seen.rawBody).toBe(body);
    expect(seen.query).toEqual({ beta: 'true' });
    expect(seen.headers['anthropic-beta']).toBe('claude-code-20250219,interleaved-thinking-2025-05-14');
    expect(seen.headers['x-claude-code-session-id']).toBe('abc');
    expect(seen.headers['accept-encoding']).toBe('gzip, deflate, br');
  });

  it('drops hop-by-hop headers and those named in Connection', async () => {
    // node:http, because undici manages the Connection header itself
    const { request: httpRequest } = await import('node:http');
    const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(`${stack.gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: 'Bearer k',
          connection: 'keep-alive, x-hop',
          'x-hop': '1',
          'proxy-authorization': 'Basic abc',
          'x-keeptrusts-debug': '1',
          'x-custom': 'kept',
        },
      });
      req.on('response', (res) => res.resume().on('end', resolve));
      req.on('error', reject);
      req.end(body);
    });
    const h = stack.fake.requests.at(-1)!.headers;
    expect(h['x-hop']).toBeUndefined();
    expect(h['proxy-authorization']).toBeUndefined();
    expect(h['x-keeptrusts-debug']).toBeUndefined();
    expect(h['x-custom']).toBe('kept');
  });

  it('decodes a compressed upstream body for the client', async () => {
    stack.fake.setFault({ kind: 'gzip' }, { times: 1 });
    const res = await post('/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.json.choices[0].message.content).toBe('Hello from fake upstream!');
  });

  it('accepts a gzip-compressed request body', async () => {
    const res = await post('/v1/chat/completions', gzipSync(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'ECHOTEST zipped' }] })), {
      'content-encoding': 'gzip',
    });
    expect(res.status).toBe(200);
    expect(res.json.choices[0].message.content).toBe('ECHOTEST zipped');
  });

  it('decides streaming from the body, not from Accept', async () => {
    const res = await post('/v1/chat/completions', { model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hi' }] }, { accept: 'application/json' });
    expect(res.headers['content-type']).toMatch(/text\/event-stream/);
    expect(res.text.trim().endsWith('data: [DONE]')).toBe(true);
  });

  it('tags every response with a request id, honouring the client one', async () => {
    const res = await post('/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }, { 'x-request-id': 'my-req-1' });
    expect(res.headers['x-keeptrusts-request-id']).toBe('my-req-1');
    expect(res.headers['x-keeptrusts-verdict']).toBe('allow');
    const other = await post('/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }, { 'x-request-id': 'bad id with spaces' });
    expect(other.headers['x-keeptrusts-request-id']).toMatch(/^req_[0-9a-f]{24}$/);
  });

  it('ends a cut-off stream with a protocol error frame the SDKs raise', async () => {
    // Cut after the first text delta: a stream that breaks before its first token is retried instead (resilient-routing.test.ts).
    stack.fake.setFault({ kind: 'cut', afterFrames: 4 }, { times: 1 });
    const res = await post('/v1/messages', { model: 'm', max_tokens: 9, stream: true, messages: [{ role: 'user', content: 'hi' }] }, { 'anthropic-version': '2023-06-01' });
    expect(res.text).toContain('event: message_start');
    expect(res.text.trimEnd()).toMatch(/event: error\ndata: \{"type":"error","error":\{"type":"api_error"/);
  });
});

describe('errors in the client API shape', () => {
  it('400 for malformed JSON: OpenAI shape on OpenAI routes, Anthropic shape on /v1/messages', async () => {
    const o = await post('/v1/chat/completions', '{"model": "gpt-4o", ');
    expect(o.status).toBe(400);
    expect(o.json.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_request', param: null });
    expect(o.json.error.message).toMatch(/not valid JSON/);
    const a = await post('/v1/messages', '[1,2]');
    expect(a.status).toBe(400);
    expect(a.json).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: 'the request body must be a JSON object' } });
  });

  it('400 for a wrongly typed field', async () => {
    const r = await post('/v1/chat/completions', { model: 'gpt-4o', messages: 'hi' });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ param: 'messages', message: '"messages" must be an array' });
  });

  it('401 when neither the target nor the client has a key', async () => {
    const res = await request(`${stack.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.statusCode).toBe(401);
    expect(((await res.body.json()) as any).error).toMatchObject({ type: 'authentication_error', code: 'missing_api_key' });
    expect(stack.fake.requests).toHaveLength(0);
  });

  it('404 for an unknown route, in the Anthropic shape when the client is Anthropic', async () => {
    const res = await request(`${stack.gateway.url}/v1/embeddingz`, { headers: { 'anthropic-version': '2023-06-01' } });
    expect(res.statusCode).toBe(404);
    expect(await res.body.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
  });

  it('405 for a GET on an inference route', async () => {
    const res = await request(`${stack.gateway.url}/v1/chat/completions`);
    expect(res.statusCode).toBe(405);
    await res.body.dump();
  });

  it('413 for a body over --max-body-bytes, before reading it all', async () => {
    const big = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(300 * 1024) }] });
    const r = await post('/v1/chat/completions', big);
    expect(r.status).toBe(413);
    expect(r.json.error).toMatchObject({ type: 'request_too_large', code: 'request_too_large' });
    expect(stack.fake.requests).toHaveLength(0);
  });

  it('accepts a 200 KB coding-agent first turn', async () => {
    const r = await post('/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(200 * 1024) }] });
    expect(r.status).toBe(200);
  });

  it('passes upstream 4xx bodies through unchanged', async () => {
    stack.fake.setFault({ kind: 'status', status: 400, body: { error: { message: 'bad thing', type: 'invalid_request_error', code: 'x', param: 'y' } } }, { times: 1 });
    const r = await post('/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ error: { message: 'bad thing', type: 'invalid_request_error', code: 'x', param: 'y' } });
  });

  it('unknown HEAD / probe is answered (Claude Code connectivity check)', async () => {
    const res = await request(`${stack.gateway.url}/`, { method: 'HEAD' });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
  });
});

describe('upstream failures', () => {
  it('502 when the upstream is unreachable', async () => {
    const local = await startStack({
      config: `pack: {name: m, version: "1"}
providers:
  targets: [{id: dead, provider: openai-compatible, base_url: "http://127.0.0.1:9/v1"}]
`,
    });
    try {
      const res = await request(`${local.gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'x', messages: [] }),
      });
      expect(res.statusCode).toBe(502);
      const json = (await res.body.json()) as any;
      expect(json.error).toMatchObject({ type: 'upstream_error', code: 'upstream_unreachable' });
      expect(json.error.message).toMatch(/target "dead": upstream unreachable \(ECONNREFUSED\)/);
    } finally {
      await local.close();
    }
  });

  it('504 when the upstream does not answer within timeout_ms', async () => {
    const local = await startStack({
      config: `pack: {name: m, version: "1"}
providers:
  targets: [{id: slow, provider: anthropic, base_url: "FAKE_URL", timeout_ms: 300}]
`,
    });
    local.fake.setFault({ kind: 'hang' });
    try {
      const res = await request(`${local.gateway.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': 'k', 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'x', max_tokens: 5, messages: [] }),
      });
      expect(res.statusCode).toBe(504);
      expect(await res.body.json()).toMatchObject({ type: 'error', error: { type: 'api_error', code: 'upstream_timeout' } });
    } finally {
      await local.close();
    }
  });

  it('falls back to the next target on a retriable status, under strategy fallback', async () => {
    const local = await startStack({
      config: `pack: {name: m, version: "1"}
providers:
  strategy: fallback
  retry: {max_retries: 0}
  targets:
    - {id: first, provider: openai-compatible, model: gpt-4o, base_url: "FAKE_URL/first/v1"}
    - {id: second, provider: openai-compatible, model: gpt-4o, base_url: "FAKE_URL/second/v1"}
`,
    });
    local.fake.setFault({ kind: 'status', status: 500 }, { times: 1 });
    try {
      const res = await request(`${local.gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(res.statusCode).toBe(200);
      await res.body.dump();
      expect(local.fake.requests.map((r) => r.path)).toEqual(['/first/v1/chat/completions', '/second/v1/chat/completions']);
    } finally {
      await local.close();
    }
  });

  it('a client that disconnects releases its slot and aborts the upstream call', async () => {
    stack.fake.setFault({ kind: 'hang' }, { times: 1 });
    const ac = new AbortController();
    const pending = request(`${stack.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
      signal: ac.signal,
    }).catch(() => undefined);
    for (let i = 0; i < 50 && stack.fake.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    const health = async () => ((await (await request(`${stack.gateway.url}/health`, asOperator)).body.json()) as any).in_flight as number;
    expect(await health()).toBe(1);
    ac.abort();
    await pending;
    let inFlight = 1;
    for (let i = 0; i < 50 && inFlight !== 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      inFlight = await health();
    }
    expect(inFlight).toBe(0);
  });
});

describe('a client that leaves mid-stream', () => {
  it('does not disturb the gateway, with or without output policies', async () => {
    for (const config of [undefined, 'policies:\n  chain: [pii-detector]\n']) {
      const local = await startStack({
        gateway: { metricsToken: OPERATOR },
        ...(config ? { config: (await import('../helpers/stack.js')).DEFAULT_STACK_CONFIG.replace('policies:\n  chain: []\n', config) } : {}),
      });
      local.fake.setReplyText('word '.repeat(400));
      local.fake.setFault({ kind: 'slow', chunkDelayMs: 5 });
      try {
        for (const [path, body] of [
          ['/v1/chat/completions', { model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }],
          ['/v1/messages', { model: 'm', max_tokens: 9, stream: true, messages: [{ role: 'user', content: 'hi' }] }],
          ['/v1/responses', { model: 'm', stream: true, input: 'hi' }],
        ] as const) {
          const ac = new AbortController();
          const res = await request(`${local.gateway.url}${path}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: 'Bearer k', 'x-api-key': 'k', 'anthropic-version': '2023-06-01' },
            body: JSON.stringify(body),
            signal: ac.signal,
          });
          expect(res.statusCode).toBe(200);
          for await (const _chunk of res.body) break;
          ac.abort();
        }
        await new Promise((r) => setTimeout(r, 100));
        const health = (await (await request(`${local.gateway.url}/health`, asOperator)).body.json()) as { in_flight: number };
        expect(health.in_flight).toBe(0);
      } finally {
        await local.close();
      }
    }
  });
});

describe('credentials', () => {
  it('uses the target key from secret_key_ref and never forwards the client key', async () => {
    const local = await startStack({
      env: { GATEWAY_OPENAI_KEY: 'sk-gateway-owned' },
      config: `pack: {name: m, version: "1"}
providers:
  targets:
    - id: a
      provider: azure-openai
      base_url: "FAKE_URL/openai/deployments/gpt4o?api-version=2024-10-21"
      secret_key_ref: {env: GATEWAY_OPENAI_KEY}
      headers: {x-team: core}
`,
    });
    try {
      const res = await request(`${local.gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer sk-client-should-not-leave', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(res.statusCode).toBe(200);
      await res.body.dump();
      const seen = local.fake.requests.at(-1)!;
      expect(seen.path).toBe('/openai/deployments/gpt4o/chat/completions');
      expect(seen.query['api-version']).toBe('2024-10-21');
      expect(seen.headers['api-key']).toBe('sk-gateway-owned');
      expect(seen.headers['x-team']).toBe('core');
      expect(JSON.stringify(seen.headers)).not.toContain('sk-client-should-not-leave');
    } finally {
      await local.close();
    }
  });

  it('refuses to start when the secret env var is missing, naming target and variable', async () => {
    await expect(
      startStack({
        config: `pack: {name: m, version: "1"}
providers:
  targets: [{id: prod-openai, provider: openai, secret_key_ref: {env: NOT_SET_ANYWHERE}}]
`,
      }),
    ).rejects.toThrow('target "prod-openai": environment variable NOT_SET_ANYWHERE (secret_key_ref.env) is not set or is empty');
  });
});

describe('health', () => {
  it('reports config, policies and targets to the operator, never keys', async () => {
    const res = await request(`${stack.gateway.url}/health`, asOperator);
    const h = (await res.body.json()) as any;
    expect(h).toMatchObject({ status: 'healthy', config: { name: 'e2e', version: '1.0.0' }, policies_loaded: [], strategy: 'single' });
    expect(h.targets.map((t: any) => t.id)).toEqual(['fake-openai', 'fake-anthropic']);
    expect(h.config.sha256).toMatch(/^[0-9a-f]{64}$/);
    for (const p of ['/healthz', '/readyz']) expect((await request(`${stack.gateway.url}${p}`)).statusCode).toBe(200);
  });
});
