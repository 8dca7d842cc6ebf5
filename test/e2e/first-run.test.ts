import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecisionEvent } from '../../src/audit/event.js';
import { eventsDbFile } from '../../src/audit/paths.js';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import { startFakeUpstream, type FakeUpstream } from '../../src/testing/fake-upstream.js';
import { MINIMAL, writeConfigs } from '../helpers/config.js';
import { makeEvent } from '../helpers/events.js';
import { freePort, KT, ROOT } from '../helpers/processes.js';
import { startStack, type Stack } from '../helpers/stack.js';

/**
 * The smaller things a new user meets on a first run (issue 17, item 12), each through the CLI or HTTP as the
 * user meets it.
 */

const dirs: string[] = [];
function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** The built CLI, without KEEPTRUSTS_* or provider keys from the machine running the tests. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KEEPTRUSTS_') && !/^(OPENAI|ANTHROPIC)_/.test(k)) env[k] = v;
  return { ...env, ...extra };
}

function kt(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(process.execPath, [KT, ...args], { cwd: opts.cwd ?? ROOT, env: cleanEnv(opts.env), encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Output with no line of a JavaScript stack trace. */
const NO_STACK = /^\s+at .+\(.+:\d+:\d+\)$|^\s+at .+:\d+:\d+$/m;

function listenOn(port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const s = createServer();
    // Someone else may hold the port already (another kt demo): then it is busy anyway, which is the point.
    s.once('error', () => resolve(undefined));
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

beforeAll(() => {
  if (!existsSync(KT)) spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('kt policy lint', () => {
  it('reports every problem in one run: a bad base_url no longer hides the other targets\' errors', () => {
    const [file] = writeConfigs(`pack: {name: x, version: "1"}
policies: {chain: [pii-detector]}
providers:
  strategy: single
  targets:
    - {id: a, provider: openai, base_url: not a url}
    - {id: b, provider: openai-compatible}
    - {id: c, provider: anthropic, format: openai}
    - {id: d, provider: azure-openai}
`);
    const r = kt(['policy', 'lint', file!]);
    expect(r.code).toBe(1);
    const codes = [...r.stdout.matchAll(/\[([a-z-]+)\]$/gm)].map((m) => m[1]);
    // In file order: four targets that all speak the OpenAI format under strategy single, then each target's own.
    expect(codes).toEqual(['ambiguous-targets', 'invalid-value', 'missing-base-url', 'format-mismatch', 'missing-base-url']);
    expect(r.stdout).toMatch(/policy lint failed \(5 errors\)/);
  });

  it('warns about a base_url in the other family\'s form: Anthropic with /v1, OpenAI-style with no path', () => {
    const [file] = writeConfigs(`pack: {name: x, version: "1"}
policies: {chain: [pii-detector]}
providers:
  targets:
    - {id: claude, provider: anthropic, model: claude-sonnet-4-20250514, base_url: "https://api.anthropic.com/v1/"}
    - {id: local, provider: ollama, model: llama3, base_url: "http://127.0.0.1:11434"}
    - {id: fine, provider: anthropic, model: claude-3-5-haiku-20241022, base_url: "https://proxy.example/anthropic"}
`);
    const r = kt(['policy', 'lint', file!]);
    expect(r.code, r.stdout).toBe(2);
    expect(r.stdout).toContain(`${file}:5:74: warning: target "claude": base_url ends in /v1, but Anthropic base URLs are written without it (write https://api.anthropic.com; the gateway adds /v1/messages itself) [base-url-form]`);
    expect(r.stdout).toMatch(/target "local": base_url has no path, but OpenAI-style base URLs include the API version \(\/v1\).*\[base-url-form\]/);
    expect(r.stdout).not.toContain('"fine"');
  });

  it('takes files as arguments, and ./policy-config.yaml when given none', () => {
    const dir = tempDir('kt-lint-');
    writeFileSync(join(dir, 'policy-config.yaml'), MINIMAL.replace('chain: []', 'chain: [pii-detector]'));
    expect(kt(['policy', 'lint', 'policy-config.yaml'], { cwd: dir })).toMatchObject({ code: 0, stdout: expect.stringContaining('policy lint passed (test@1.0.0: 1 policy, 1 target)') });
    expect(kt(['policy', 'lint'], { cwd: dir })).toMatchObject({ code: 0 });
    const [layer] = writeConfigs('pack: {version: "2"}\n');
    expect(kt(['policy', 'lint', 'policy-config.yaml', '--file', layer!], { cwd: dir }).stdout).toContain('test@2: 1 policy');
    const empty = tempDir('kt-lint-none-');
    expect(kt(['policy', 'lint'], { cwd: empty })).toMatchObject({ code: 1, stdout: expect.stringContaining('policy-config.yaml: error: file not found') });
  });
});

describe('kt demo on a busy port', () => {
  it('says which address is taken in one line, without a stack trace', async () => {
    const held = await listenOn(41099);
    try {
      const r = kt(['demo']);
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe('kt demo: 127.0.0.1:41099, where the fake provider listens, is already in use (another kt demo running?); stop it and try again');
      expect(r.stderr).not.toMatch(NO_STACK);
    } finally {
      held?.close();
    }
  });

  it('and when the gateway\'s own address is taken', async () => {
    const port = await freePort();
    const held = await listenOn(port);
    const fakeFree = await listenOn(41099);
    fakeFree?.close();
    try {
      // With 41099 held by someone else the first message wins; either way it is one line.
      const r = kt(['demo', '--listen', `127.0.0.1:${port}`]);
      expect(r.code).toBe(1);
      if (fakeFree) expect(r.stderr).toContain(`kt demo: 127.0.0.1:${port} is already in use (another gateway running?); choose another address with --listen`);
      expect(r.stderr).not.toMatch(NO_STACK);
    } finally {
      held?.close();
    }
  });

  it('documents its default log level in --help', () => {
    expect(kt(['demo', '--help']).stdout).toMatch(/default: "debug"/);
  });
});

describe('kt events tail --limit and --since in --help', () => {
  it('refuses a --limit above 10000, as documented', () => {
    const r = kt(['events', 'tail', '--no-follow', '--limit', '10001', '--data-dir', tempDir('kt-limit-')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--limit must be a whole number from 0 to 10000/);
  });

  it('names every --since form the parser takes', () => {
    const help = kt(['events', 'tail', '--help']).stdout.replace(/\s+/g, ' ');
    for (const form of ['1h30m', '2026-11-27T09:00:00Z', '2026-11-27,', 'now', 'epoch milliseconds']) expect(help).toContain(form);
  });
});

describe('kt usage prints costs without float noise', () => {
  it('json, csv and table round sums to the 1e-8 USD the events are priced in', async () => {
    const dir = tempDir('kt-usage-noise-');
    const store = new SqliteEventStore(eventsDbFile(dir));
    const cost = (total: number) => ({ currency: 'USD' as const, input: null, output: null, total, priced: true });
    // 0.1 + 0.2 is 0.30000000000000004 in floating point; 0.0007 + 0.000075 is 0.0007750000000000001.
    await store.append('gw', [
      makeEvent({ identity: { developer: 'ann' }, cost: cost(0.1) }),
      makeEvent({ identity: { developer: 'ann' }, cost: cost(0.2) }),
      makeEvent({ identity: { developer: 'ben' }, cost: cost(0.0007) }),
      makeEvent({ identity: { developer: 'ben' }, cost: cost(0.000075) }),
    ]);
    await store.close();
    const json = kt(['usage', '--by', 'developer', '--format', 'json', '--data-dir', dir]);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as { rows: Array<{ key: string; cost_usd: number }>; total: { cost_usd: number } };
    expect(report.rows.map((r) => [r.key, r.cost_usd])).toEqual([
      ['ann', 0.3],
      ['ben', 0.000775],
    ]);
    expect(report.total.cost_usd).toBe(0.300775);
    const csv = kt(['usage', '--by', 'developer', '--format', 'csv', '--data-dir', dir]).stdout;
    expect(csv).toContain('ann,2,24,68,0.3,0\r\n');
    expect(csv).toContain('ben,2,24,68,0.000775,0\r\n');
    expect(`${json.stdout}${csv}`).not.toMatch(/\d\.\d*0000000\d/);
  });
});

describe('kt server token --help', () => {
  it('lists the options the token commands read, not the server\'s listener flags', () => {
    for (const args of [['server', 'token', '--help'], ['server', 'token', 'create', '--help'], ['server', 'token', 'list', '--help'], ['server', 'token', 'revoke', '--help']]) {
      const help = kt(args).stdout;
      expect(help, args.join(' ')).toContain('--data-dir');
      expect(help, args.join(' ')).toContain('--database-url');
      for (const unrelated of ['--max-connections', '--headers-timeout', '--allowed-hosts', '--allowed-origins', '--log-level', '--log-format', '--version']) {
        expect(help, `${args.join(' ')}: ${unrelated}`).not.toContain(unrelated);
      }
    }
    expect(kt(['server', 'token', 'create', '--help']).stdout).toContain('--listen');
  });
});

describe('kt init --template aider', () => {
  it('starts with neither provider key set: each request forwards the key Aider sends', async () => {
    const dir = tempDir('kt-init-aider-');
    expect(kt(['init', '--template', 'aider', '--dir', dir]).code).toBe(0);
    const port = await freePort();
    const child = spawn(process.execPath, [KT, 'gateway', 'run', '-c', join(dir, 'policy-config.yaml'), '--listen', `127.0.0.1:${port}`, '--data-dir', tempDir('kt-init-data-'), '--log-format', 'json'], {
      cwd: dir,
      env: cleanEnv(),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      const outcome = await new Promise<'listening' | number | null>((resolve) => {
        child.stderr!.on('data', () => stderr.includes('listening on') && resolve('listening'));
        child.once('exit', (code) => resolve(code));
      });
      expect(outcome, stderr).toBe('listening');
      const health = await request(`http://127.0.0.1:${port}/health`);
      expect(health.statusCode).toBe(200);
      await health.body.dump();
    } finally {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    }
  });
});

describe('HTTP', () => {
  let fake: FakeUpstream;
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({
      config: `pack: {name: first-run, version: "1"}
policies: {chain: [pii-detector, code-sanitizer, audit-logger]}
policy:
  pii-detector: {action: redact}
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "FAKE_URL/v1", model: gpt-4o}
    - {id: slow, provider: openai-compatible, base_url: "FAKE_URL/v1", model: slow-model, timeout_ms: 1000}
    - {id: a, provider: anthropic, base_url: "FAKE_URL"}
`,
      audit: { dataDir: tempDir('kt-first-run-') },
    });
    fake = stack.fake;
  });
  afterAll(() => stack.close());

  async function eventOf(eventId: string): Promise<DecisionEvent> {
    await stack.trail!.recorder.caughtUp();
    const e = (await stack.trail!.store.query({ limit: 500 })).find((r) => r.event.id === eventId)?.event;
    if (!e) throw new Error(`no event ${eventId}`);
    return e;
  }

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    request(`${stack.gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const chat = (extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Say hello' }], ...extra });

  it('a request the gateway refuses (no key: 401; an encoding it cannot read: 415) is recorded as block with its reason', async () => {
    const noKey = await post('/v1/chat/completions', chat());
    expect(noKey.statusCode).toBe(401);
    await noKey.body.dump();
    const zstd = await post('/v1/chat/completions', chat(), { authorization: 'Bearer k', 'content-encoding': 'zstd' });
    expect(zstd.statusCode).toBe(415);
    await zstd.body.dump();
    const malformed = await post('/v1/chat/completions', '{"model":', { authorization: 'Bearer k' });
    expect(malformed.statusCode).toBe(400);
    await malformed.body.dump();
    for (const [res, status, reason] of [
      [noKey, 401, 'missing_api_key'],
      [zstd, 415, 'unsupported_encoding'],
      [malformed, 400, 'invalid_request'],
    ] as const) {
      const e = await eventOf(String(res.headers['x-keeptrusts-event-id']));
      expect({ verdict: e.verdict, status: e.status, reason: e.reason_code }).toEqual({ verdict: 'block', status, reason });
    }
  });

  it('a request that failed upstream keeps the chain\'s verdict: allowed, then the provider failed', async () => {
    fake.setFault({ kind: 'slow', firstByteDelayMs: 5_000 }, { times: 1 });
    const res = await post('/v1/chat/completions', chat({ model: 'slow-model' }), { authorization: 'Bearer k' });
    // timeout_ms: 1000 is the gateway's own timer (undici's ticks every half second and answered at ~1.5 s).
    expect(res.statusCode).toBe(504);
    expect(((await res.body.json()) as { error: { code: string } }).error.code).toBe('upstream_timeout');
    const e = await eventOf(String(res.headers['x-keeptrusts-event-id']));
    expect({ verdict: e.verdict, reason: e.reason_code }).toEqual({ verdict: 'allow', reason: 'upstream_timeout' });
  });

  it('a streamed reply\'s event lists the output policies that allowed it, as a reply read whole does', async () => {
    const kinds = (e: DecisionEvent) => e.policies.filter((p) => p.phase === 'output').map((p) => [p.kind, p.verdict]);
    const whole = await post('/v1/chat/completions', chat(), { authorization: 'Bearer k' });
    await whole.body.dump();
    const streamed = await post('/v1/chat/completions', chat({ stream: true }), { authorization: 'Bearer k' });
    await streamed.body.text();
    const expected = [
      ['pii-detector', 'allow'],
      ['code-sanitizer', 'allow'],
    ];
    expect(kinds(await eventOf(String(whole.headers['x-keeptrusts-event-id'])))).toEqual(expected);
    const e = await eventOf(String(streamed.headers['x-keeptrusts-event-id']));
    expect(kinds(e)).toEqual(expected);
    expect(e.policies.filter((p) => p.phase === 'output').every((p) => p.streamed === true)).toBe(true);
  });

  it('text a window holds back is not sent as empty deltas; the client gets the same text in fewer frames', async () => {
    const reply = 'A reply long enough for the window to hold its start back while it streams; write to ann@example.org.';
    fake.setReplyText(reply);
    try {
      const families: Array<{ path: string; body: unknown; headers: Record<string, string> }> = [
        { path: '/v1/chat/completions', body: chat({ stream: true }), headers: { authorization: 'Bearer k' } },
        { path: '/v1/messages', body: { model: 'claude-sonnet-4-20250514', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'hi' }] }, headers: { 'x-api-key': 'k', 'anthropic-version': '2023-06-01' } },
        { path: '/v1/responses', body: { model: 'gpt-4o', stream: true, input: 'hi' }, headers: { authorization: 'Bearer k' } },
      ];
      for (const f of families) {
        const res = await post(f.path, f.body, f.headers);
        const frames = (await res.body.text()).split('\n\n').filter((x) => x.trim() !== '');
        const deltas = frames.map((x) => x.split('\n').find((l) => l.startsWith('data: '))?.slice(6)).filter((d): d is string => d !== undefined && d !== '[DONE]').map((d) => JSON.parse(d) as Record<string, unknown>);
        const pieces = deltas.flatMap((d) => textPieces(d));
        expect(pieces.filter((p) => p === ''), f.path).toEqual([]);
        expect(pieces.join(''), f.path).toBe(reply.replace('ann@example.org', '[REDACTED:EMAIL]'));
      }
    } finally {
      fake.setReplyText('Hello from fake upstream!');
    }
  });
});

/** The reply text a streamed frame carries as a piece, in each family (undefined pieces are left out). */
function textPieces(d: Record<string, unknown>): string[] {
  const choices = d.choices as Array<{ delta?: { content?: unknown } }> | undefined;
  if (Array.isArray(choices)) return choices.flatMap((c) => (typeof c.delta?.content === 'string' && !('role' in (c.delta ?? {})) ? [c.delta.content] : []));
  if (d.type === 'content_block_delta') return typeof (d.delta as { text?: unknown })?.text === 'string' ? [(d.delta as { text: string }).text] : [];
  if (d.type === 'response.output_text.delta') return typeof d.delta === 'string' ? [d.delta] : [];
  return [];
}
