/**
 * The request guard through HTTP, on the gateway (with its console mounted) and on the control plane: what a
 * web page can make a browser send is refused before anything reads it, and every real client still works.
 * The headers of the attacks are the ones Chromium sends (test/browser/request-guard.test.ts drives a real one).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import AnthropicV0 from 'anthropic-sdk-0';
import OpenAI from 'openai';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openEventStore } from '../../src/audit/open.js';
import type { EventStore } from '../../src/audit/store.js';
import { startControlPlane, type RunningControlPlane } from '../../src/server/app.js';
import { createLocalConsole, type LocalConsole } from '../../src/server/local-console.js';
import { openTokenStore, type TokenStore } from '../../src/server/tokens.js';
import { DEFAULT_STACK_CONFIG, startStack, type Stack } from '../helpers/stack.js';
import { pino } from 'pino';

const silent = pino({ level: 'silent' });
const dirs: string[] = [];
const tempDir = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), `kt-guard-${prefix}-`));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The set-up: the gateway holds the provider key, so a forged request would spend it. */
const KEYED_CONFIG = `pack: {name: guard-e2e, version: "1.0.0"}
policies:
  chain: [audit-logger]
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "FAKE_URL/v1", secret_key_ref: {env: GW_OPENAI_KEY}}
    - {id: a, provider: anthropic, base_url: "FAKE_URL", secret_key_ref: {env: GW_ANTHROPIC_KEY}}
`;
const CHAT = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
const MESSAGES = JSON.stringify({ model: 'claude-x', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
/** What Chromium sent for `fetch(gateway, {method: 'POST', mode: 'no-cors', headers: {'Content-Type': 'text/plain'}, body})` from another site. */
const NO_CORS_ATTACK = {
  origin: 'http://attacker.example:36413',
  'sec-fetch-site': 'cross-site',
  'sec-fetch-mode': 'no-cors',
  'sec-fetch-dest': 'empty',
  referer: 'http://attacker.example:36413/',
  'content-type': 'text/plain',
};

async function call(base: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const res = await request(`${base}${path}`, { method: (init.method ?? 'GET') as 'GET', headers: init.headers ?? {}, ...(init.body !== undefined ? { body: init.body } : {}) });
  const text = await res.body.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

describe('the gateway (loopback listener, gateway-held keys, audit trail and console on)', () => {
  let stack: Stack;
  let consoleStore: EventStore;
  let local: LocalConsole;
  let base: string;
  let port: number;
  const logs: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    consoleStore = await openEventStore({ dataDir: tempDir('console'), writerThread: false });
    local = createLocalConsole({ store: consoleStore, logger: silent, token: 'ktgw_consoletokenconsoletokenconsoletok' });
    stack = await startStack({
      config: KEYED_CONFIG,
      env: { GW_OPENAI_KEY: 'sk-gateway-owned', GW_ANTHROPIC_KEY: 'sk-ant-gateway-owned' },
      audit: { dataDir: tempDir('audit') },
      gateway: { console: local },
      onLog: (r) => logs.push(r),
    });
    base = stack.gateway.url;
    port = stack.gateway.port;
  });
  afterAll(async () => {
    await stack.close();
    await consoleStore.close();
  });
  beforeEach(() => stack.fake.reset());

  /** Decision events in the store, once the ingest thread has caught up with the journal. */
  const recorded = async () => {
    await stack.trail!.recorder.caughtUp();
    return (await stack.trail!.store.query({ order: 'asc', limit: 1000 })).length;
  };

  it('refuses the no-cors text/plain POST from another site: 403 in each API shape, nothing upstream, no CORS header', async () => {
    const before = await recorded();
    const chat = await call(base, '/v1/chat/completions', { method: 'POST', headers: NO_CORS_ATTACK, body: CHAT });
    expect(chat.status).toBe(403);
    expect(chat.json.error).toMatchObject({ type: 'permission_error', code: 'origin_not_allowed' });
    expect(chat.json.error.message).toContain('--allowed-origins http://attacker.example:36413');
    expect(chat.headers['access-control-allow-origin']).toBeUndefined();
    const messages = await call(base, '/v1/messages?beta=true', { method: 'POST', headers: NO_CORS_ATTACK, body: MESSAGES });
    expect(messages.status).toBe(403);
    expect(messages.json).toMatchObject({ type: 'error', error: { type: 'permission_error', code: 'origin_not_allowed' } });
    expect(stack.fake.requests).toEqual([]);
    // Refusals are counted, not recorded: nothing reached a policy (docs/architecture.md).
    expect(await recorded()).toBe(before);
  });

  it('refuses every body a page can send without a preflight, and a missing content type, with 415', async () => {
    for (const contentType of ['text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined]) {
      const res = await call(base, '/v1/chat/completions', { method: 'POST', headers: contentType ? { 'content-type': contentType } : {}, body: CHAT });
      expect(res.status, String(contentType)).toBe(415);
      expect(res.json.error).toMatchObject({ type: 'invalid_request_error', code: 'unsupported_content_type' });
      expect(res.json.error.message).toContain("-H 'content-type: application/json'");
    }
    const anthropic = await call(base, '/v1/messages', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: MESSAGES });
    expect(anthropic.status).toBe(415);
    expect(anthropic.json).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', code: 'unsupported_content_type' } });
    expect(stack.fake.requests).toEqual([]);
  });

  it('refuses a foreign Host name (DNS rebinding) on every route, the console included, before anything upstream', async () => {
    const rebound = { host: `attacker.example:${port}` };
    for (const [method, path, body] of [
      ['POST', '/v1/chat/completions', CHAT],
      ['POST', '/v1/messages', MESSAGES],
      ['GET', '/v1/models', undefined],
      ['GET', '/health', undefined],
      ['GET', '/metrics', undefined],
      ['GET', '/console/', undefined],
      ['GET', '/v1/events', undefined],
    ] as const) {
      const headers: Record<string, string> = { ...rebound, 'content-type': 'application/json', authorization: `Bearer ${local.token}` };
      if (method === 'POST') headers.origin = `http://attacker.example:${port}`;
      const res = await call(base, path, { method, headers, ...(body ? { body } : {}) });
      expect(res.status, path).toBe(403);
      expect(res.json.error.code, path).toBe('host_not_allowed');
      expect(res.json.error.message).toContain('--allowed-hosts attacker.example');
    }
    expect(stack.fake.requests).toEqual([]);
  });

  it('counts refusals by reason in /metrics and warns once per reason', async () => {
    await call(base, '/v1/chat/completions', { method: 'POST', headers: NO_CORS_ATTACK, body: CHAT });
    const metrics = await call(base, '/metrics');
    expect(metrics.status).toBe(200); // loopback listener, no metrics token configured: open
    expect(metrics.text).toMatch(/keeptrusts_refused_requests_total\{reason="origin"\} [1-9]/);
    expect(metrics.text).toMatch(/keeptrusts_refused_requests_total\{reason="host"\} [1-9]/);
    expect(metrics.text).toMatch(/keeptrusts_refused_requests_total\{reason="content_type"\} [1-9]/);
    const warned = logs.filter((l) => l.level === 40 && typeof l.msg === 'string' && l.msg.startsWith('refused a request'));
    expect(warned.map((l) => l.reason).sort()).toEqual(['content_type', 'host', 'origin']);
    expect(JSON.stringify(logs)).not.toContain('attacker.example');
  });

  it('the real SDKs, Claude Code style requests and curl with JSON pass untouched', async () => {
    const before = await recorded();
    const openai = new OpenAI({ baseURL: stack.openaiBase, apiKey: 'unused', maxRetries: 0 });
    expect((await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] })).choices[0]!.message.content).toBe('Hello from fake upstream!');
    expect(Array.isArray((await openai.models.list()).data)).toBe(true);
    const anthropic = new Anthropic({ baseURL: stack.anthropicBase, apiKey: 'unused', maxRetries: 0 });
    expect((await anthropic.messages.create({ model: 'claude-x', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] })).content[0]).toMatchObject({ type: 'text' });
    const v0 = new AnthropicV0({ baseURL: stack.anthropicBase, apiKey: 'unused', maxRetries: 0 });
    expect((await v0.beta.messages.create({ model: 'claude-x', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }], betas: ['x-2025-01-01'] })).content[0]).toMatchObject({ type: 'text' });
    // Claude Code sends this header (its SDK's browser switch) but no Origin: it is not a browser.
    const claudeCode = await call(base, '/v1/messages?beta=true', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'unused', 'anthropic-version': '2023-06-01', 'anthropic-dangerous-direct-browser-access': 'true', 'user-agent': 'claude-cli/2.1.332 (external, sdk-cli)' },
      body: MESSAGES,
    });
    expect(claudeCode.status).toBe(200);
    // Claude Code 2.1.197's probe, and curl with the header the docs now show.
    expect((await call(base, '/', { method: 'HEAD', headers: { 'user-agent': 'Bun/1.4.0' } })).status).toBe(200);
    const curl = await call(base, '/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'curl/7.88.1', accept: '*/*' }, body: CHAT });
    expect(curl.status).toBe(200);
    expect(curl.headers['access-control-allow-origin']).toBeUndefined();
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `app.localhost:${port}`]) expect((await call(base, '/v1/models', { headers: { host } })).status, host).toBe(200);
    const keyOf = (r: (typeof stack.fake.requests)[number]) => r.headers.authorization ?? r.headers['x-api-key'];
    const inferences = stack.fake.requests.filter((r) => r.method === 'POST');
    expect(inferences.map(keyOf)).toEqual(['Bearer sk-gateway-owned', 'sk-ant-gateway-owned', 'sk-ant-gateway-owned', 'sk-ant-gateway-owned', 'Bearer sk-gateway-owned']);
    // /v1/models asks each target's upstream for its list, with the gateway's key (both per listing: an OpenAI
    // client reaches the Anthropic target through translation).
    const listings = stack.fake.requests.filter((r) => r.method === 'GET');
    // Asked at once, so in either order.
    expect(listings.map((r) => `${r.path} ${keyOf(r)}`).sort()).toEqual([...Array(4).fill('/v1/models Bearer sk-gateway-owned'), ...Array(4).fill('/v1/models sk-ant-gateway-owned')]);
    expect((await recorded()) - before).toBe(5);
  });

  it("the console: its own page's requests pass, a link from another site opens it, another site's fetch does not", async () => {
    const own = { origin: `http://127.0.0.1:${port}`, 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors' };
    expect((await call(base, '/v1/stats', { headers: own })).status).toBe(401); // through the guard, to the token check
    expect((await call(base, '/v1/stats', { headers: { ...own, authorization: `Bearer ${local.token}` } })).status).toBe(200);
    const link = await call(base, '/console/', { headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' } });
    expect(link.status).not.toBe(403);
    const foreign = await call(base, '/v1/stats', { headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site', authorization: `Bearer ${local.token}` } });
    expect(foreign.status).toBe(403);
    expect(foreign.json.error.code).toBe('origin_not_allowed');
    // <img src="http://127.0.0.1:41002/metrics"> on another site: no Origin, but Sec-Fetch-Site says where it came from.
    expect((await call(base, '/metrics', { headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'image' } })).status).toBe(403);
  });

  it('/health: liveness for anyone, the details for the console token, 401 for a wrong token; /healthz and /readyz open', async () => {
    const open = await call(base, '/health');
    expect(open.status).toBe(200);
    expect(open.json).toEqual({ status: 'healthy', version: expect.any(String) });
    const detailed = await call(base, '/health', { headers: { authorization: `Bearer ${local.token}` } });
    expect(detailed.json).toMatchObject({ config: { name: 'guard-e2e', files: [expect.any(String)] }, targets: [{ id: 'o', credential: 'gateway' }, { id: 'a' }], audit: { gateway_id: 'test-gateway' } });
    expect(detailed.text).not.toContain('sk-gateway-owned');
    const wrong = await call(base, '/health', { headers: { authorization: 'Bearer ktgw_notthetoken' } });
    expect(wrong.status).toBe(401);
    expect(wrong.json.error).toMatchObject({ type: 'authentication_error', code: 'invalid_operator_token' });
    expect((await call(base, '/health', { headers: { authorization: 'Bearer x', 'anthropic-version': '2023-06-01' } })).json).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    expect((await call(base, '/healthz')).status).toBe(200);
    expect((await call(base, '/readyz')).status).toBe(200);
  });
});

describe('allowed origins (a browser app calling the gateway on purpose)', () => {
  let stack: Stack;
  let upstream: Server;
  const APP = 'https://app.example.com';

  beforeAll(async () => {
    // An upstream that grants CORS to everyone, as public APIs do: the gateway alone decides who may read.
    upstream = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const body = JSON.stringify({ id: 'c1', object: 'chat.completion', model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }] });
        res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*', 'access-control-allow-credentials': 'true' });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    stack = await startStack({
      config: `pack: {name: cors, version: "1"}
providers:
  targets:
    - {id: cors, provider: openai-compatible, base_url: "${upstreamUrl}/v1"}
`,
      gateway: { access: { allowedOrigins: [APP] }, metricsToken: 'metrics-token-0123456789abcdef' },
    });
  });
  afterAll(async () => {
    await stack.close();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  });

  it('answers its preflight, echoing the asked headers, and grants it the response with the ids exposed', async () => {
    const pre = await call(stack.gateway.url, '/v1/chat/completions', {
      method: 'OPTIONS',
      headers: { origin: APP, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,x-stainless-os,anthropic-dangerous-direct-browser-access', 'sec-fetch-mode': 'cors', 'sec-fetch-site': 'cross-site' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers).toMatchObject({ 'access-control-allow-origin': APP, 'access-control-allow-methods': 'GET, HEAD, POST', 'access-control-allow-headers': 'authorization,content-type,x-stainless-os,anthropic-dangerous-direct-browser-access' });
    const res = await call(stack.gateway.url, '/v1/chat/completions', { method: 'POST', headers: { origin: APP, 'sec-fetch-site': 'cross-site', 'content-type': 'application/json', authorization: 'Bearer k' }, body: CHAT });
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(APP);
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    expect(String(res.headers['access-control-expose-headers'])).toContain('x-keeptrusts-request-id');
  });

  it("drops the upstream's own CORS grant for everyone else", async () => {
    const res = await call(stack.gateway.url, '/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer k' }, body: CHAT });
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it('refuses the preflight of any other origin, and a header list that is not one', async () => {
    const other = await call(stack.gateway.url, '/v1/chat/completions', { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(other.status).toBe(403);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    const odd = await call(stack.gateway.url, '/v1/chat/completions', { method: 'OPTIONS', headers: { origin: APP, 'access-control-request-method': 'POST', 'access-control-request-headers': 'a b, "c"' } });
    expect(odd.status).toBe(204);
    expect(odd.headers['access-control-allow-headers']).toBeUndefined();
  });

  it('with a metrics token configured, /metrics and /health details need it even on loopback', async () => {
    expect((await call(stack.gateway.url, '/metrics')).status).toBe(401);
    expect((await call(stack.gateway.url, '/metrics', { headers: { authorization: 'Bearer metrics-token-0123456789abcdef' } })).status).toBe(200);
    expect(Object.keys((await call(stack.gateway.url, '/health')).json)).toEqual(['status', 'version']);
    expect((await call(stack.gateway.url, '/health', { headers: { authorization: 'Bearer metrics-token-0123456789abcdef' } })).json.targets).toHaveLength(1);
  });
});

describe('host names on team gateways', () => {
  it('a loopback listener with --allowed-hosts serves those names and no other', async () => {
    const stack = await startStack({ gateway: { access: { allowedHosts: ['gw.corp.example', '.team.example'] } } });
    try {
      const at = (host: string) => call(stack.gateway.url, '/v1/models', { headers: { host } });
      for (const host of ['gw.corp.example', `gw.corp.example:${stack.gateway.port}`, 'alice.team.example', 'localhost']) expect((await at(host)).status, host).toBe(200);
      for (const host of ['team.example', 'gw.corp.example.attacker.example', 'attacker.example']) expect((await at(host)).status, host).toBe(403);
    } finally {
      await stack.close();
    }
  });

  it('a wildcard listener without a list serves any name, but a page under a rebound name is not its own origin; /metrics needs a token', async () => {
    const local = createLocalConsole({ store: await openEventStore({ dataDir: tempDir('wild'), writerThread: false }), logger: silent, token: 'ktgw_wildcardconsoletokenwildcardcons' });
    const stack = await startStack({ host: '0.0.0.0', gateway: { console: local } });
    const base = `http://127.0.0.1:${stack.gateway.port}`;
    try {
      expect((await call(base, '/v1/models', { headers: { host: 'gateway.anything.example' } })).status).toBe(200);
      const rebound = await call(base, '/v1/chat/completions', {
        method: 'POST',
        headers: { host: `attacker.example:${stack.gateway.port}`, origin: `http://attacker.example:${stack.gateway.port}`, 'content-type': 'application/json' },
        body: CHAT,
      });
      expect(rebound.status).toBe(403);
      expect(rebound.json.error.code).toBe('origin_not_allowed');
      expect(stack.fake.requests).toEqual([]);
      const metrics = await call(base, '/metrics');
      expect(metrics.status).toBe(401);
      expect(metrics.json.error.code).toBe('missing_operator_token');
      expect((await call(base, '/metrics', { headers: { authorization: `Bearer ${local.token}` } })).status).toBe(200);
    } finally {
      await stack.close();
    }
  });

  it('a wildcard listener with neither console nor metrics token serves /metrics to nobody, and says how to change that', async () => {
    const stack = await startStack({ host: '0.0.0.0', config: DEFAULT_STACK_CONFIG });
    try {
      const res = await call(`http://127.0.0.1:${stack.gateway.port}`, '/metrics');
      expect(res.status).toBe(403);
      expect(res.json.error).toMatchObject({ code: 'metrics_token_required' });
      expect(res.json.error.message).toContain('--metrics-token');
    } finally {
      await stack.close();
    }
  });
});

describe('kt server (the control plane and its console)', () => {
  let plane: RunningControlPlane;
  let store: EventStore;
  let tokens: TokenStore;
  let reader: string;
  let gateway: string;

  beforeAll(async () => {
    const dataDir = tempDir('cp');
    store = await openEventStore({ dataDir, writerThread: false });
    tokens = await openTokenStore({ dataDir });
    reader = (await tokens.create({ gateway: 'console-alice', role: 'reader' })).token;
    gateway = (await tokens.create({ gateway: 'gw-1', role: 'gateway' })).token;
    plane = await startControlPlane({ host: '127.0.0.1', port: 0, store, tokens, logger: silent, access: { allowedOrigins: ['https://dash.example.com'] } });
  });
  afterAll(async () => {
    await plane.close();
    await tokens.close();
    await store.close();
  });

  it('refuses a foreign Host and a foreign Origin in its own error shape, even with a valid token', async () => {
    const rebound = await call(plane.url, '/v1/events', { headers: { host: `attacker.example:${plane.port}`, authorization: `Bearer ${reader}` } });
    expect(rebound.status).toBe(403);
    expect(rebound.json.error).toMatchObject({ type: 'permission_error' });
    expect(rebound.json.error.message).toContain('--allowed-hosts');
    const foreign = await call(plane.url, '/v1/events', { headers: { origin: 'https://evil.example', authorization: `Bearer ${reader}` } });
    expect(foreign.status).toBe(403);
    expect((await call(plane.url, '/console/', { headers: { host: `attacker.example:${plane.port}` } })).status).toBe(403);
  });

  it('takes events only as JSON', async () => {
    const form = await call(plane.url, '/v1/events', { method: 'POST', headers: { authorization: `Bearer ${gateway}`, 'content-type': 'text/plain' }, body: '{"events":[]}' });
    expect(form.status).toBe(415);
    expect(form.json.error).toMatchObject({ type: 'invalid_request' });
    const json = await call(plane.url, '/v1/events', { method: 'POST', headers: { authorization: `Bearer ${gateway}`, 'content-type': 'application/json' }, body: '{"events":[]}' });
    expect(json.status).toBe(200);
    expect(json.json).toEqual({ inserted: 0, duplicates: 0 });
  });

  it('serves its console page and the page’s own calls, and an allowed dashboard origin with CORS', async () => {
    expect((await call(plane.url, '/console/', { headers: { 'sec-fetch-site': 'none', 'sec-fetch-mode': 'navigate' } })).status).not.toBe(403);
    const own = await call(plane.url, '/v1/stats', { headers: { origin: plane.url, 'sec-fetch-site': 'same-origin', authorization: `Bearer ${reader}` } });
    expect(own.status).toBe(200);
    expect(own.headers['access-control-allow-origin']).toBeUndefined();
    const dash = await call(plane.url, '/v1/stats', { headers: { origin: 'https://dash.example.com', 'sec-fetch-site': 'cross-site', authorization: `Bearer ${reader}` } });
    expect(dash.status).toBe(200);
    expect(dash.headers['access-control-allow-origin']).toBe('https://dash.example.com');
    expect((await call(plane.url, '/health')).json).toEqual({ status: 'ok', store: 'sqlite' });
  });
});
