import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';
import { startHttpReceiver, until, type HttpReceiver } from '../helpers/siem-receivers.js';

/** Secrets planted everywhere a request can carry them: none may become a span attribute. */
const GH = 'ghp_R8x2Lk9QvT4mZ7wN1pYc6Hd3Jf5Bs0Ga2Ue8';
const CLIENT_KEY = 'sk-client-4f9d2c7be1a04b6e9f3d';
const PROVIDER_KEY = 'sk-provider-7c1e5a9d3b2f48e6a0c4';
const COLLECTOR_KEY = 'otlp-collector-key-93be1d';
const PROMPT_WORDS = 'our unreleased falcon roadmap';

const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';

let otlp: HttpReceiver;
let stack: Stack;

type OtlpSpan = { traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; attributes: Array<{ key: string; value: Record<string, unknown> }>; status?: { code?: number } };

function spans(): OtlpSpan[] {
  return otlp.requests.flatMap((r) => JSON.parse(r.body).resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans as OtlpSpan[])));
}
const attr = (s: OtlpSpan, key: string) => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  // intValue is a number or (per the OTLP JSON mapping) a string, depending on the encoder.
  return v ? String(Object.values(v)[0]) : undefined;
};

async function chat(content: string, headers: Record<string, string> = {}): Promise<Response> {
  const res = await fetch(`${stack.openaiBase}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}`, 'x-api-key': CLIENT_KEY, ...headers },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content }] }),
  });
  await res.text();
  return res;
}

beforeAll(async () => {
  otlp = await startHttpReceiver();
  stack = await startStack({
    config: `pack: {name: traces, version: "1"}
policies:
  chain: [pii-detector, code-sanitizer, audit-logger]
policy:
  audit-logger: {capture: redacted}
providers:
  retry: {max_retries: 1, initial_backoff_ms: 1, max_backoff_ms: 1}
  targets:
    - {id: o, provider: openai, base_url: "FAKE_URL/v1", secret_key_ref: {env: PROVIDER_KEY}}
telemetry:
  traces: {enabled: true, url: "${otlp.url}/v1/traces", headers_env: OTLP_HEADERS, service_name: kt-test}
`,
    audit: { dataDir: mkdtempSync(join(tmpdir(), 'kt-traces-')) },
    env: { PROVIDER_KEY, OTLP_HEADERS: `x-api-key=${COLLECTOR_KEY}` },
  });
  stack.fake.setReplyText(`Noted ${PROMPT_WORDS}; token ${GH}.`);
});

afterAll(async () => {
  await stack?.close();
  await otlp?.close();
});

describe('OpenTelemetry traces', () => {
  it("continues the client's traceparent, spans the request, each policy, each upstream try and the store, and sends the try's span upstream", async () => {
    stack.fake.setFault({ kind: 'status', status: 503 }, { times: 1 });
    const res = await chat(`Plan ${PROMPT_WORDS}. token ${GH}`, { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`, tracestate: 'vendor=abc' });
    expect(res.status).toBe(200);
    const eventId = res.headers.get('x-keeptrusts-event-id')!;
    await until(() => spans().some((s) => s.name === 'POST chat'), 'the request span at the collector');

    const all = spans().filter((s) => s.traceId === CLIENT_TRACE);
    const root = all.find((s) => s.name === 'POST chat')!;
    expect(root.parentSpanId).toBe(CLIENT_SPAN);
    expect(root.kind).toBe(2); // SERVER
    expect(attr(root, 'keeptrusts.event_id')).toBe(eventId);
    expect(attr(root, 'keeptrusts.verdict')).toBe('redact');
    expect(attr(root, 'http.response.status_code')).toBe('200');
    expect(attr(root, 'gen_ai.request.model')).toBe('gpt-4o');
    expect(Number(attr(root, 'gen_ai.usage.input_tokens'))).toBeGreaterThan(0);

    const children = all.filter((s) => s.parentSpanId === root.spanId);
    const policies = children.filter((s) => s.name.startsWith('policy '));
    expect(policies.map((s) => `${attr(s, 'keeptrusts.policy.phase')}:${attr(s, 'keeptrusts.policy.kind')}`)).toEqual(
      expect.arrayContaining(['input:pii-detector', 'input:code-sanitizer', 'output:pii-detector']),
    );
    expect(policies.find((s) => attr(s, 'keeptrusts.policy.kind') === 'code-sanitizer' && attr(s, 'keeptrusts.policy.phase') === 'input')).toBeDefined();
    const tries = children.filter((s) => s.name === 'upstream o');
    expect(tries.map((s) => [attr(s, 'keeptrusts.attempt'), attr(s, 'http.response.status_code'), attr(s, 'keeptrusts.attempt.outcome')])).toEqual([
      ['1', '503', 'status'],
      ['2', '200', 'answered'],
    ]);
    expect(tries[0]!.status?.code).toBe(2); // ERROR
    expect(children.filter((s) => s.name === 'store event').map((s) => attr(s, 'keeptrusts.event_id'))).toEqual([eventId]);

    // Each try went upstream under its own span, in the client's trace, with the client's tracestate.
    const upstream = stack.fake.requests.slice(-2);
    expect(upstream.map((r) => r.headers.traceparent)).toEqual(tries.map((t) => `00-${CLIENT_TRACE}-${t.spanId}-01`));
    expect(upstream.every((r) => r.headers.tracestate === 'vendor=abc')).toBe(true);
    expect(otlp.requests[0]!.headers['x-api-key']).toBe(COLLECTOR_KEY);
    const resource = JSON.parse(otlp.requests[0]!.body).resourceSpans[0].resource.attributes;
    expect(resource).toContainEqual({ key: 'service.name', value: { stringValue: 'kt-test' } });
  });

  it('starts a new trace without a traceparent, and ignores a malformed one', async () => {
    const before = spans().length;
    await chat('hello there', { traceparent: '00-zzzz-notatrace-01' });
    await until(() => spans().slice(before).some((s) => s.name === 'POST chat'), 'a second request span');
    const root = spans().slice(before).find((s) => s.name === 'POST chat')!;
    expect(root.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(root.traceId).not.toBe(CLIENT_TRACE);
    expect(root.parentSpanId ?? '').toBe('');
    expect(stack.fake.requests.at(-1)!.headers.traceparent).toMatch(new RegExp(`^00-${root.traceId}-[0-9a-f]{16}-01$`));
  });

  it('puts no content, key or secret in any span', async () => {
    await chat(`blocked? ${GH} ${PROMPT_WORDS}`, { 'x-keeptrusts-developer': 'dana' });
    await until(() => spans().filter((s) => s.name === 'POST chat').length >= 3, 'the third request span');
    const values = spans().flatMap((s) => [s.name, ...s.attributes.map((a) => `${a.key}=${JSON.stringify(a.value)}`)]);
    const exported = otlp.requests.map((r) => r.body).join('\n');
    for (const secret of [GH, CLIENT_KEY, PROVIDER_KEY, COLLECTOR_KEY, PROMPT_WORDS, 'falcon', 'hello there']) {
      expect(values.filter((v) => v.includes(secret)), secret).toEqual([]);
      expect(exported.includes(secret), secret).toBe(false);
    }
  });
});
