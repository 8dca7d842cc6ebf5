import fc from 'fast-check';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sdkSamples } from '../helpers/sdk-shapes.js';
import { startStack, type Stack } from '../helpers/stack.js';

/**
 * "Nothing leaves unscanned", tested against every field the official SDKs can send: request bodies are built
 * from the SDKs' own type declarations (every property, every union variant), a distinct GitHub token is put
 * in every string field, and the upstream must receive none of them, except in the fields the content view
 * leaves out on purpose (docs/policies.md, "What is scanned").
 */
const CONFIG = `pack: {name: coverage, version: "1"}
policies:
  chain: [code-sanitizer]
policy:
  code-sanitizer: {apply_to: input, dangerous_code: {enabled: false}}
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "FAKE_URL/v1"}
    - {id: a, provider: anthropic, base_url: "FAKE_URL"}
`;

/**
 * Fields that are opaque by design: ids (when they look like one), signatures, encrypted content (Anthropic's
 * redacted_thinking `data` too), and an MCP server's own credential.
 */
const OPAQUE = /(?:^|\.)(?:id|[a-z_]*_id|conversation|container|signature|encrypted_content|authorization_token)$|^messages\[\]\.content\[\]\.data$/;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ config: CONFIG });
});
afterAll(() => stack.close());
beforeEach(() => stack.fake.reset());

/** A token the secret scanner finds: `ghp_` and 36 characters that encode `n`. */
function token(n: number): string {
  const digits = n.toString(36).padStart(6, '0');
  return `ghp_${digits}Qz8Lk2mV7xR4tY9wN3pB6cD1fH5jKq0s`.slice(0, 40);
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const res = await request(`${stack.gateway.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test', 'x-api-key': 'sk-test', 'anthropic-version': '2023-06-01', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.statusCode, text: await res.body.text() };
}

const FAMILIES = [
  { name: 'OpenAI chat completions', pkg: 'openai', file: 'resources/chat/completions/completions.d.ts', type: 'ChatCompletionCreateParamsBase', path: '/v1/chat/completions' },
  { name: 'OpenAI responses', pkg: 'openai', file: 'resources/responses/responses.d.ts', type: 'ResponseCreateParamsBase', path: '/v1/responses' },
  { name: 'Anthropic messages (beta, the superset)', pkg: '@anthropic-ai/sdk', file: 'resources/beta/messages/messages.d.ts', type: 'MessageCreateParamsBase', path: '/v1/messages' },
  { name: 'Anthropic messages', pkg: '@anthropic-ai/sdk', file: 'resources/messages/messages.d.ts', type: 'MessageCreateParamsBase', path: '/v1/messages' },
];

describe('every string field of every SDK request type is scanned before it leaves', () => {
  for (const f of FAMILIES) {
    it(f.name, { timeout: 120_000 }, async () => {
      const planted = new Map<string, string>();
      let n = 0;
      const samples = sdkSamples(f.pkg, f.file, f.type, {
        leaf: (path) => {
          const t = token(n++);
          planted.set(t, path);
          return t;
        },
      });
      expect(samples.length).toBeGreaterThan(5);
      expect(planted.size).toBeGreaterThan(50);
      for (const body of samples) {
        const res = await post(f.path, { ...body, stream: false });
        expect(res.status, `${f.name}: ${res.text.slice(0, 300)}`).toBe(200);
      }
      const forwarded = stack.fake.requests.map((r) => r.rawBody).join('\n');
      const leaked = [...planted].filter(([t, path]) => forwarded.includes(t) && !OPAQUE.test(path)).map(([, path]) => path);
      expect([...new Set(leaked)]).toEqual([]);
    });
  }
});

describe('what is scanned is exactly what is forwarded', () => {
  const GH = 'ghp_R8x2Lk9QvT4mZ7wN1pYc6Hd3Jf5Bs0Ga2Ue8';

  it('refuses duplicate member names at any depth, in the client shape, without quoting them', async () => {
    const dup = `{"model":"gpt-4o","messages":[{"role":"user","content":"${GH}"}],"messages":[{"role":"user","content":"hello"}]}`;
    const res = await post('/v1/chat/completions', dup);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text).error.message).toMatch(/member name twice/);
    const nested = `{"model":"claude","max_tokens":5,"messages":[{"role":"user","content":"x","content":"${GH}"}]}`;
    const a = await post('/v1/messages', nested);
    expect(a.status).toBe(400);
    expect(JSON.parse(a.text)).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    // Escaped names are the same name.
    const escaped = `{"model":"gpt-4o","messages":[],"m\\u0065ssages":[]}`;
    expect((await post('/v1/chat/completions', escaped)).status).toBe(400);
    expect(stack.fake.requests).toHaveLength(0);
    expect(res.text + a.text).not.toContain(GH);
  });

  it('tool-call arguments with duplicate names are forwarded as they were scanned', async () => {
    const args = `{"cmd":"echo ${GH}","cmd":"ls"}`;
    const res = await post('/v1/chat/completions', {
      model: 'gpt-4o',
      messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'sh', arguments: args } }] }, { role: 'tool', tool_call_id: 'c1', content: 'ok' }],
    });
    expect(res.status).toBe(200);
    const sent = stack.fake.requests[0]!.rawBody;
    expect(sent).not.toContain(GH);
    const forwardedArgs = (stack.fake.requests[0]!.body as any).messages[0].tool_calls[0].function.arguments as string;
    expect(JSON.parse(forwardedArgs)).toEqual({ cmd: 'ls' });
  });

  it('refuses bodies that are not UTF-8, start with a byte order mark, or nest too deep, with 400 (never 500)', async () => {
    const invalid = Buffer.concat([Buffer.from('{"model":"gpt-4o","messages":[{"role":"user","content":"gh'), Buffer.from([0xff, 0xfe]), Buffer.from('p_x"}]}')]);
    const r1 = await request(`${stack.gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer k' }, body: invalid });
    expect(r1.statusCode).toBe(400);
    expect(await r1.body.text()).toMatch(/UTF-8/);
    expect((await post('/v1/chat/completions', `\uFEFF{"model":"m","messages":[]}`)).status).toBe(400);
    const deep = `{"model":"m","messages":[{"role":"user","content":"x","metadata":${'['.repeat(5000)}${']'.repeat(5000)}}]}`;
    const r3 = await post('/v1/chat/completions', deep);
    expect(r3.status).toBe(400);
    expect(JSON.parse(r3.text).error.message).toMatch(/nested deeper/);
    expect(stack.fake.requests).toHaveLength(0);
  });

  it('a syntax error is reported by position, never by quoting the body', async () => {
    const res = await post('/v1/chat/completions', `{"model":"gpt-4o","messages":[{"content":"${GH}" oops}]}`);
    expect(res.status).toBe(400);
    expect(res.text).not.toContain('ghp_');
    expect(JSON.parse(res.text).error.message).toMatch(/at character \d+/);
  });

  it('property: any JSON body the gateway forwards parses to what its policies scanned (no member name twice)', async () => {
    const key = fc.constantFrom('a', 'b', 'model', 'messages', 'm\\u0065ssages', 'x');
    const doc = fc.array(fc.tuple(key, fc.oneof(fc.string(), fc.integer())), { maxLength: 6 });
    await fc.assert(
      fc.asyncProperty(doc, async (members) => {
        stack.fake.reset();
        const names = members.map(([k]) => JSON.parse(`"${k}"`) as string);
        const text = `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"metadata":{${members.map(([k, v]) => `"${k}":${JSON.stringify(v)}`).join(',')}}}`;
        const res = await post('/v1/chat/completions', text);
        if (new Set(names).size !== names.length) {
          expect(res.status).toBe(400);
          expect(stack.fake.requests).toHaveLength(0);
        } else {
          expect(res.status).toBe(200);
          expect(JSON.parse(stack.fake.requests[0]!.rawBody)).toEqual(JSON.parse(text));
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe('a token in odd places stays out of the record', () => {
  const GH = 'ghp_R8x2Lk9QvT4mZ7wN1pYc6Hd3Jf5Bs0Ga2Ue8';

  it('a token in the model name is redacted before it leaves, and never becomes a metric label', async () => {
    const res = await post('/v1/chat/completions', { model: `gpt-4o-${GH}`, messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(200);
    expect(stack.fake.requests[0]!.rawBody).not.toContain(GH);
    const metrics = await (await request(`${stack.gateway.url}/metrics`)).body.text();
    expect(metrics).not.toContain(GH);
  });
});

describe('the permanent record holds no value the policies found', () => {
  const GH = 'ghp_R8x2Lk9QvT4mZ7wN1pYc6Hd3Jf5Bs0Ga2Ue8';
  let audited: Stack;
  let dataDir: string;

  beforeAll(async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    dataDir = mkdtempSync(join(tmpdir(), 'kt-coverage-'));
    audited = await startStack({
      config: CONFIG.replace('chain: [code-sanitizer]', 'chain: [code-sanitizer, audit-logger]').replace('code-sanitizer: {apply_to: input, dangerous_code: {enabled: false}}', 'code-sanitizer: {apply_to: both}\n  audit-logger: {capture: redacted}'),
      audit: { dataDir },
    });
  });
  afterAll(() => audited?.close());

  async function storedText(): Promise<string> {
    const { SqliteEventStore } = await import('../../src/audit/sqlite-store.js');
    const { join } = await import('node:path');
    await audited.trail!.recorder.caughtUp();
    const store = new SqliteEventStore(join(dataDir, 'events.db'), { readonly: true });
    try {
      const events = await store.query({ order: 'asc', limit: 1000 });
      const hashes = events.flatMap((e) => (e.event.capture?.request ?? []).flatMap((r) => ('sha256' in r && typeof r.sha256 === 'string' ? [r.sha256] : [])));
      const blobs = await store.getBlobs(hashes);
      return JSON.stringify(events) + JSON.stringify([...blobs.values()]);
    } finally {
      await store.close();
    }
  }

  it('object-valued tool arguments in a reply, a token in the model name, a syntax error around a token', async () => {
    audited.fake.setFault({ kind: 'raw', headers: { 'content-type': 'application/json' }, chunks: [JSON.stringify({ id: 'x', object: 'chat.completion', choices: [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'sh', arguments: { cmd: `export T=${GH}` } } }] } }] })] }, { times: 1 });
    const send = (path: string, body: string) =>
      request(`${audited.gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer k' }, body }).then(async (r) => ({ status: r.statusCode, text: await r.body.text() }));
    const reply = await send('/v1/chat/completions', JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'run it' }] }));
    expect(reply.status).toBe(200);
    expect(reply.text).not.toContain(GH);
    expect((await send('/v1/chat/completions', JSON.stringify({ model: `gpt-${GH}`, messages: [{ role: 'user', content: 'hi' }] }))).status).toBe(200);
    expect((await send('/v1/chat/completions', `{"model":"gpt-4o","messages":[{"content":"${GH}" ,,]}`)).status).toBe(400);
    const stored = await storedText();
    expect(stored).toContain('[REDACTED:');
    expect(stored).not.toContain(GH);
    expect(stored).not.toContain(GH.slice(0, 10));
  });
});
