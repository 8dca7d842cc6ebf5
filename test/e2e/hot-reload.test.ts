import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecisionEvent } from '../../src/audit/event.js';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import { startFakeUpstream } from '../../src/testing/fake-upstream.js';
import { freePort, KT, ROOT } from '../helpers/processes.js';
import { startStack, type Stack } from '../helpers/stack.js';

const TOKEN = 'operator-token-0123456789';
const EMAIL = 'dana.whitfield@northwind-labs.com';

const config = (chain: string, extra = '') => `pack: {name: reload, version: "1"}
policies:
  chain: [${chain}]
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "FAKE_URL/v1"${extra}}
`;

let stack: Stack;
let dataDir: string;
let file: string;
let fakeUrl: string;
const logs: Array<Record<string, unknown>> = [];

const operator = (token = TOKEN) => ({ authorization: `Bearer ${token}` });
const health = async () => (await (await request(`${stack.gateway.url}/health`, { headers: operator() })).body.json()) as { config: { sha256: string; files: string[] } };
// A POST that is not application/json is refused before any route (src/gateway/request-guard.ts): no page can send it.
const reload = (headers: Record<string, string> = operator()) => request(`${stack.gateway.url}/admin/reload`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } });
const chat = (requestId: string) =>
  request(`${stack.openaiBase}/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer k', 'content-type': 'application/json', 'x-request-id': requestId },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
  });

async function events(): Promise<Map<string, DecisionEvent>> {
  await stack.trail!.recorder.caughtUp();
  const store = new SqliteEventStore(join(dataDir, 'events.db'), { readonly: true });
  try {
    return new Map((await store.query({ order: 'asc', limit: 100 })).map((e) => [e.event.request_id, e.event]));
  } finally {
    await store.close();
  }
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'kt-reload-'));
  stack = await startStack({ config: config('audit-logger'), audit: { dataDir }, gateway: { metricsToken: TOKEN }, onLog: (r) => logs.push(r) });
  fakeUrl = stack.fake.url;
  file = (await health()).config.files[0]!;
  stack.fake.setReplyText(`write to ${EMAIL}`);
});

afterAll(() => stack?.close());

describe('POST /admin/reload', () => {
  it('needs the operator token', async () => {
    const none = await reload({});
    expect(none.statusCode).toBe(401);
    await none.body.dump();
    const wrong = await reload(operator('not-the-token-at-all'));
    expect(wrong.statusCode).toBe(401);
    await wrong.body.dump();
  });

  it('a valid config takes new requests at once; a request in flight finishes on the old chain, and each event names its config', async () => {
    const before = (await health()).config.sha256;
    stack.fake.setFault({ kind: 'slow', firstByteDelayMs: 600 }, { times: 1 });
    const inFlight = chat('in-flight');
    await new Promise((r) => setTimeout(r, 150));
    writeFileSync(file, config('pii-detector, audit-logger').replaceAll('FAKE_URL', fakeUrl));
    const res = await reload();
    const result = (await res.body.json()) as { ok: boolean; changed: boolean; sha256: string };
    expect(res.statusCode).toBe(200);
    expect(result).toMatchObject({ ok: true, changed: true });
    expect(result.sha256).not.toBe(before);
    expect((await health()).config.sha256).toBe(result.sha256);

    const after = await chat('after-reload');
    expect(JSON.stringify(await after.body.json())).not.toContain(EMAIL);
    const old = await inFlight;
    expect(JSON.stringify(await old.body.json())).toContain(EMAIL); // judged by the chain it was admitted under

    const byId = await events();
    expect(byId.get('in-flight')!.config.sha256).toBe(before);
    expect(byId.get('in-flight')!.policies.map((p) => p.kind)).not.toContain('pii-detector');
    expect(byId.get('after-reload')!.config.sha256).toBe(result.sha256);
    expect(byId.get('after-reload')!.verdict).toBe('redact');
  });

  it('an invalid config keeps the old one serving and reports every error with file:line:column', async () => {
    const before = (await health()).config.sha256;
    writeFileSync(file, config('pii-detectr, audit-logger', ', timeout_ms: -5').replaceAll('FAKE_URL', fakeUrl));
    logs.length = 0;
    const res = await reload();
    expect(res.statusCode).toBe(422);
    const result = (await res.body.json()) as { ok: boolean; errors: string[] };
    expect(result.ok).toBe(false);
    expect(result.errors).toHaveLength(2);
    expect(result.errors).toEqual(
      expect.arrayContaining([expect.stringMatching(new RegExp(`^${file}:3:11: error: .*pii-detectr`)), expect.stringMatching(new RegExp(`^${file}:6:\\d+: error: .*timeout_ms`))]),
    );
    const logged = logs.filter((l) => String(l.msg).startsWith('config reload refused')).map((l) => String(l.msg));
    expect(logged).toHaveLength(2);
    expect((await health()).config.sha256).toBe(before);
    const still = await chat('after-bad-reload');
    expect(still.statusCode).toBe(200);
    await still.body.dump();
    expect((await events()).get('after-bad-reload')!.config.sha256).toBe(before);
  });

  it('refuses what only a restart can change, and says so', async () => {
    writeFileSync(file, config('pii-detector').replaceAll('FAKE_URL', fakeUrl));
    const res = await reload();
    expect(res.statusCode).toBe(422);
    expect(((await res.body.json()) as { errors: string[] }).errors[0]).toMatch(/audit trail on or off .* restart/);
  });

  it("a reloaded config's targets and model names are what /metrics labels with", async () => {
    const withTeamModel = `pack: {name: reload, version: "1"}
policies:
  chain: [audit-logger]
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "${fakeUrl}/v1"}
    - {id: team, provider: openai-compatible, base_url: "${fakeUrl}/v1", model: team-model-7}
`;
    writeFileSync(file, withTeamModel);
    const res = await reload();
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    const reply = await request(`${stack.openaiBase}/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'team-model-7', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(reply.statusCode).toBe(200);
    await reply.body.dump();
    await stack.trail!.recorder.caughtUp();
    const metrics = await (await request(`${stack.gateway.url}/metrics`, { headers: operator() })).body.text();
    expect(metrics).toMatch(/keeptrusts_tokens_total\{direction="input",model="team-model-7"\} [1-9]/);
    expect(metrics).toMatch(/keeptrusts_requests_total\{family="chat",target="team",status="200"\} 1/);
  });
});

describe('kt gateway run: SIGHUP reloads, SIGTERM drains', () => {
  it('reloads on SIGHUP; on SIGTERM stops accepting, lets the stream in flight finish, records its event and exits 0', async () => {
    const fake = await startFakeUpstream();
    const dir = mkdtempSync(join(tmpdir(), 'kt-sighup-'));
    const cfg = join(dir, 'policy-config.yaml');
    writeFileSync(cfg, config('audit-logger').replaceAll('FAKE_URL', fake.url));
    const port = await freePort();
    const child = spawn(process.execPath, [KT, 'gateway', 'run', '-c', cfg, '--listen', `127.0.0.1:${port}`, '--log-format', 'json', '--data-dir', join(dir, 'data')], {
      cwd: ROOT,
      env: { ...process.env, KEEPTRUSTS_METRICS_TOKEN: TOKEN },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const waitFor = async (text: string) => {
      for (let i = 0; i < 400 && !stderr.includes(text); i++) await new Promise((r) => setTimeout(r, 50));
      expect(stderr).toContain(text);
    };
    const base = `http://127.0.0.1:${port}`;
    const sha = async () => ((await (await request(`${base}/health`, { headers: operator() })).body.json()) as { config: { sha256: string } }).config.sha256;
    try {
      await waitFor('listening on');
      const first = await sha();
      writeFileSync(cfg, config('pii-detector, audit-logger').replaceAll('FAKE_URL', fake.url));
      child.kill('SIGHUP');
      await waitFor('config reloaded');
      expect(await sha()).not.toBe(first);

      fake.setFault({ kind: 'slow', chunkDelayMs: 60 }, { times: 1 });
      const stream = await request(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer k', 'content-type': 'application/json', 'x-request-id': 'draining-stream' },
        body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      });
      child.kill('SIGTERM');
      await waitFor('shutting down');
      const refused = await request(`${base}/healthz`).then(
        () => 'accepted',
        () => 'refused',
      );
      expect(refused).toBe('refused');
      const text = await stream.body.text();
      expect(text).toContain('data: [DONE]');
      expect(await exited).toBe(0);
      const store = new SqliteEventStore(join(dir, 'data', 'events.db'), { readonly: true });
      try {
        const recorded = (await store.query({ order: 'asc', limit: 10 })).map((e) => e.event);
        expect(recorded.find((e) => e.request_id === 'draining-stream')).toMatchObject({ status: 200, stream: true });
      } finally {
        await store.close();
      }
    } finally {
      child.kill('SIGKILL');
      await fake.close();
    }
  }, 60_000);
});
