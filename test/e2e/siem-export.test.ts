import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { makeTestPki } from '../helpers/tls.js';
import { ndjsonRecords, startHttpReceiver, startSyslogReceiver, until, type HttpReceiver, type SyslogReceiver } from '../helpers/siem-receivers.js';

const SIEM_TOKEN = 'Splunk 7f3c9a1e-siem-token-5b2d';
const GH = 'ghp_R8x2Lk9QvT4mZ7wN1pYc6Hd3Jf5Bs0Ga2Ue8';
const OPERATOR = 'metrics-token-for-siem-tests-0123456789';
const asOperator = { headers: { authorization: `Bearer ${OPERATOR}` } };
const PLAIN_WORDS = 'the quarterly falcon migration plan';

const pki = makeTestPki();
const leaf = pki.leaf('siem');
let ndjson: HttpReceiver;
let otlp: HttpReceiver;
let syslog: SyslogReceiver;
let syslogTls: SyslogReceiver;
let stack: Stack;
let dataDir: string;
const ids: string[] = [];

function config() {
  return `pack: {name: siem-e2e, version: "1"}
policies:
  chain: [pii-detector, code-sanitizer, audit-logger]
policy:
  audit-logger:
    capture: redacted
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "FAKE_URL/v1"}
audit:
  export:
    - {name: splunk, type: https, url: "${ndjson.url}/ingest", auth_env: SIEM_TOKEN, ca_file: "${pki.ca}", min_backoff_ms: 20, max_backoff_ms: 100}
    - {name: rsyslog, type: syslog, address: "${syslog.address}", app_name: kt-test, hostname: gw1, min_backoff_ms: 20, max_backoff_ms: 100}
    - {name: rsyslog-tls, type: syslog, address: "${syslogTls.address}", ca_file: "${pki.ca}", hostname: gw1}
    - {name: collector, type: otlp, url: "${otlp.url}/v1/logs", headers_env: OTLP_HEADERS, min_backoff_ms: 20, max_backoff_ms: 100}
`;
}

async function send(content: string, requestId: string): Promise<string> {
  const client = new OpenAI({ baseURL: stack.openaiBase, apiKey: 'k', maxRetries: 0, defaultHeaders: { 'x-request-id': requestId, 'x-keeptrusts-developer': 'dana' } });
  const { response } = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content }] }).withResponse();
  const id = response.headers.get('x-keeptrusts-event-id')!;
  ids.push(id);
  return id;
}

async function health(): Promise<Record<string, any>> {
  return (await fetch(`${stack.anthropicBase}/health`, asOperator)).json() as Promise<Record<string, any>>;
}

beforeAll(async () => {
  ndjson = await startHttpReceiver({ tls: leaf });
  otlp = await startHttpReceiver();
  syslog = await startSyslogReceiver();
  syslogTls = await startSyslogReceiver({ tls: leaf });
  dataDir = mkdtempSync(join(tmpdir(), 'kt-siem-'));
  stack = await startStack({ config: config(), audit: { dataDir }, gateway: { metricsToken: OPERATOR }, env: { SIEM_TOKEN, OTLP_HEADERS: 'x-scope=team%20a,x-api-key=otlp-secret-1' } });
  stack.fake.setReplyText(`Sure, ${PLAIN_WORDS}; your token was ${GH}.`);
  await send(`Summarise ${PLAIN_WORDS}. My token is ${GH}`, 'siem-1');
  await send('Say hello', 'siem-2');
  await send('Say hello again', 'siem-3');
  await until(() => ndjsonRecords(ndjson).length >= 3 && syslog.messages.length >= 3 && syslogTls.messages.length >= 3 && otlp.requests.length > 0, 'every sink to take three events');
});

afterAll(async () => {
  await stack?.close();
  await Promise.all([ndjson?.close(), otlp?.close(), syslog?.close(), syslogTls?.close()]);
});

describe('SIEM export', () => {
  it('posts NDJSON batches over HTTPS with the custom CA and the auth header from the environment', () => {
    const records = ndjsonRecords(ndjson);
    expect(records.map((r) => r.event_id)).toEqual(ids);
    expect(ndjson.requests[0]!.headers.authorization).toBe(SIEM_TOKEN);
    expect(ndjson.requests[0]!.headers['content-type']).toBe('application/x-ndjson');
    expect(records[0]).toMatchObject({ chain: 'test-gateway', seq: 1, event: { id: ids[0], request_id: 'siem-1', verdict: 'redact', identity: { developer: 'dana' } } });
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3]);
  });

  it('exports no content: the captured request and reply stay in the store', async () => {
    const store = new SqliteEventStore(join(dataDir, 'events.db'), { readonly: true });
    const stored = (await store.query({ order: 'asc', limit: 10 }))[0]!.event;
    await store.close();
    // The store does hold the (masked) capture: the export is what leaves it out.
    expect(JSON.stringify(stored.capture)).toContain(PLAIN_WORDS);
    const everything = [...ndjson.requests.map((r) => r.body), ...otlp.requests.map((r) => r.body), ...syslog.messages.map((m) => JSON.stringify(m)), ...syslogTls.messages.map((m) => JSON.stringify(m))].join('\n');
    expect(everything).not.toContain(PLAIN_WORDS);
    expect(everything).not.toContain(GH);
    expect(everything).not.toContain('Say hello');
    expect(everything).not.toContain(SIEM_TOKEN);
    expect(everything).not.toContain('otlp-secret-1');
    expect(ndjsonRecords(ndjson)[0]!.event).toMatchObject({ capture: { mode: 'redacted', stored: true } });
  });

  it('writes RFC 5424 messages over TCP and TLS with octet-counting framing', () => {
    for (const r of [syslog, syslogTls]) {
      expect(r.errors).toEqual([]);
      expect(r.messages.map((m) => m.sd['keeptrusts@32473']!.event_id)).toEqual(ids);
    }
    const [first] = syslog.messages;
    // Facility 13 (log audit); a redaction is a notice (5).
    expect(first).toMatchObject({ pri: 13 * 8 + 5, version: 1, hostname: 'gw1', appName: 'kt-test', msgId: 'decision' });
    expect(first!.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(first!.sd['keeptrusts@32473']).toMatchObject({ chain: 'test-gateway', seq: '1', verdict: 'redact', request_id: 'siem-1', developer: 'dana' });
    expect(JSON.parse(first!.msg)).toMatchObject({ event_id: ids[0], seq: 1 });
    // The severity follows the decision: a notice for a redaction, informational for an allowed request.
    for (const m of syslog.messages) expect(m.pri).toBe(13 * 8 + (m.sd['keeptrusts@32473']!.verdict === 'allow' ? 6 : 5));
  });

  it('sends OTLP/JSON log records with the configured headers', () => {
    const req = otlp.requests.find((r) => r.answered === 200)!;
    expect(req.path).toBe('/v1/logs');
    expect(req.headers['x-scope']).toBe('team a');
    const body = JSON.parse(req.body);
    const resource = body.resourceLogs[0].resource.attributes;
    expect(resource).toContainEqual({ key: 'service.name', value: { stringValue: 'keeptrusts-gateway' } });
    const records = otlp.requests.filter((r) => r.answered === 200).flatMap((r) => JSON.parse(r.body).resourceLogs[0].scopeLogs[0].logRecords);
    const eventIds = records.map((l: any) => l.attributes.find((a: any) => a.key === 'keeptrusts.event_id').value.stringValue);
    expect(eventIds).toEqual(ids);
    expect(records[0]).toMatchObject({ severityNumber: 10, severityText: 'INFO' });
    expect(JSON.parse(records[0].body.stringValue)).toMatchObject({ event_id: ids[0] });
  });

  it('shows each sink in /health and /metrics, caught up', async () => {
    await until(async () => ((await health()).audit.export as any[]).every((s) => s.exported_seq === 3), 'the read positions to reach 3');
    const h = await health();
    expect(h.status).toBe('healthy');
    expect(h.audit.export.map((s: any) => [s.name, s.type, s.lag_events])).toEqual([
      ['splunk', 'https', 0],
      ['rsyslog', 'syslog', 0],
      ['rsyslog-tls', 'syslog', 0],
      ['collector', 'otlp', 0],
    ]);
    expect(JSON.stringify(h)).not.toContain(SIEM_TOKEN);
    const metrics = await (await fetch(`${stack.anthropicBase}/metrics`, asOperator)).text();
    expect(metrics).toMatch(/keeptrusts_export_lag_events\{sink="splunk"\} 0/);
    expect(metrics).toMatch(/keeptrusts_export_sent_events\{sink="collector"\} 3/);
    // A config reload keeps the sinks in /health (they run for the life of the process).
    const [file] = h.config.files as string[];
    writeFileSync(file!, readFileSync(file!, 'utf8').replace('version: "1"', 'version: "2"'));
    expect(await stack.gateway.reload()).toMatchObject({ ok: true, changed: true });
    expect((await health()).audit.export).toHaveLength(4);
  });

  it('a receiver that fails, then recovers: every event arrives, the retries are counted and bounded', async () => {
    ndjson.outage.failNext = 4;
    otlp.outage.failNext = 3;
    otlp.outage.status = 429;
    const before = ndjson.requests.length;
    await send('one during the outage', 'siem-4');
    await send('two during the outage', 'siem-5');
    await until(() => ndjsonRecords(ndjson).length >= 5, 'the NDJSON receiver to recover');
    await until(async () => ((await health()).audit.export as any[]).every((s) => s.exported_seq === 5), 'every sink to catch up');
    expect(ndjsonRecords(ndjson).map((r) => r.event_id)).toEqual(ids);
    // Four refused tries and the ones that went through: no more than one per backoff.
    const tries = ndjson.requests.slice(before);
    expect(tries.filter((t) => t.answered === 503)).toHaveLength(4);
    expect(tries.filter((t) => t.answered === 200).length).toBeLessThanOrEqual(2);
    const h = await health();
    const splunk = h.audit.export.find((s: any) => s.name === 'splunk');
    expect(splunk).toMatchObject({ state: 'idle', errors: 4, sent: 5, lag_events: 0 });
    expect(splunk.last_error).toContain('HTTP 503');
    const logIds = otlp.requests.filter((r) => r.answered === 200).flatMap((r) => JSON.parse(r.body).resourceLogs[0].scopeLogs[0].logRecords.map((l: any) => l.attributes.find((a: any) => a.key === 'keeptrusts.event_id').value.stringValue));
    expect(logIds).toEqual(ids);
  });

  it('a syslog collector that goes away and comes back: the sink reconnects and sends what waited', async () => {
    const port = syslog.port;
    const seen = syslog.messages.length;
    await syslog.close();
    await send('while the collector is away', 'siem-6');
    await until(async () => ((await health()).audit.export as any[]).find((s) => s.name === 'rsyslog').errors > 0, 'a failed syslog delivery');
    const back = await startSyslogReceiver({ port });
    try {
      await until(() => back.messages.length >= 1, 'the event at the restarted collector');
      expect(back.errors).toEqual([]);
      expect(back.messages.map((m) => m.sd['keeptrusts@32473']!.event_id)).toContain(ids[ids.length - 1]);
      expect(seen).toBe(5);
      await until(async () => ((await health()).audit.export as any[]).find((s) => s.name === 'rsyslog').exported_seq === 6, 'the syslog read position to reach 6');
    } finally {
      await back.close();
    }
  });
});
