import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecisionEvent, EventCost, EventUsage } from '../../src/audit/event.js';
import { eventsDbFile } from '../../src/audit/paths.js';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import type { UsageRow } from '../../src/audit/store.js';
import { createLogger } from '../../src/gateway/logger.js';
import { startControlPlane, type RunningControlPlane } from '../../src/server/app.js';
import { SqliteTokenStore } from '../../src/server/tokens.js';
import { startFakeUpstream, type FakeUpstream } from '../../src/testing/fake-upstream.js';
import { makeEvent } from '../helpers/events.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRY = join(ROOT, 'test/helpers/kt-usage-entry.ts');
// By path, so the CLI can run with a working directory outside the project (a scratch git checkout).
const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const dirs: string[] = [];

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** No KEEPTRUSTS_* from the machine running the tests. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KEEPTRUSTS_') && k !== 'ANTHROPIC_CUSTOM_HEADERS') env[k] = v;
  return { ...env, ...extra };
}

/** Async: the remote tests serve the control plane and the kt run tests the fake upstream from this process. */
function kt(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Result> {
  const child = spawn(process.execPath, ['--import', TSX, ENTRY, ...args], { cwd: opts.cwd ?? ROOT, env: cleanEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

const usage = (input: number, output: number): EventUsage => ({ input_tokens: input, output_tokens: output, cached_input_tokens: null, cache_write_tokens: null, reasoning_tokens: null, estimated: false });
const priced = (total: number): EventCost => ({ currency: 'USD', input: null, output: null, total, priced: true });
const unpriced: EventCost = { currency: 'USD', input: null, output: null, total: null, priced: false };

/** Two developers in two repositories; one request of bob's is on a model without a price. */
async function seed(): Promise<{ dir: string; events: DecisionEvent[] }> {
  const dir = tempDir('kt-usage-');
  const now = Date.now();
  const openai = { id: 'openai', provider: 'openai', model: 'gpt-4o' };
  const anthropic = { id: 'anthropic', provider: 'anthropic', model: 'claude-sonnet-4-5' };
  const events = [
    makeEvent({ identity: { developer: 'alice', repository: 'acme/api' }, target: openai, usage: usage(1000, 200), cost: priced(0.0125) }, now - 3 * DAY),
    makeEvent({ identity: { developer: 'alice', repository: 'acme/api' }, target: anthropic, usage: usage(3000, 500), cost: priced(0.0165) }, now - 2 * HOUR),
    makeEvent({ identity: { developer: 'alice', repository: 'acme/web' }, target: openai, usage: usage(500, 100), cost: priced(0.0023) }, now - HOUR),
    makeEvent({ identity: { developer: 'bob', repository: 'acme/web' }, target: openai, usage: usage(2000, 400), cost: priced(0.009) }, now - 30 * 60_000),
    makeEvent({ identity: { developer: 'bob', repository: 'acme/web' }, target: { id: 'local', provider: 'openai-compatible', model: 'my-finetune' }, usage: usage(700, 70), cost: unpriced }, now - 10 * 60_000),
  ];
  const store = new SqliteEventStore(eventsDbFile(dir));
  await store.append('gw-usage', events);
  await store.close();
  return { dir, events };
}

interface UsageJson {
  by: string;
  since: string | null;
  until: string | null;
  rows: UsageRow[];
  total: Omit<UsageRow, 'key'>;
}

const round = (rows: UsageRow[]) => rows.map((r) => ({ ...r, cost_usd: r.cost_usd === null ? null : Number(r.cost_usd.toFixed(6)) }));

let s: { dir: string; events: DecisionEvent[] };
beforeAll(async () => {
  s = await seed();
});

describe('kt usage', () => {
  it('--by repository --format json splits requests, tokens and cost by repository', async () => {
    const r = await kt(['usage', '--by', 'repository', '--format', 'json', '--data-dir', s.dir]);
    expect(r.code, r.stderr).toBe(0);
    const body = JSON.parse(r.stdout) as UsageJson;
    expect(body).toMatchObject({ by: 'repository', since: null, until: null });
    expect(round(body.rows)).toEqual([
      { key: 'acme/api', requests: 2, input_tokens: 4000, output_tokens: 700, cost_usd: 0.029, unpriced_requests: 0 },
      { key: 'acme/web', requests: 3, input_tokens: 3200, output_tokens: 570, cost_usd: 0.0113, unpriced_requests: 1 },
    ]);
    expect(body.total).toMatchObject({ requests: 5, input_tokens: 7200, output_tokens: 1270, unpriced_requests: 1 });
    expect(body.total.cost_usd).toBeCloseTo(0.0403, 10);
    expect(r.stderr).toMatch(/note: 1 request had token counts but no price/);
  });

  it('--by developer with --since and a filter', async () => {
    const r = await kt(['usage', '--by', 'developer', '--since', '1d', '--format', 'json', '--data-dir', s.dir]);
    expect(r.code, r.stderr).toBe(0);
    const body = JSON.parse(r.stdout) as UsageJson;
    expect(body.since).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(round(body.rows)).toEqual([
      { key: 'alice', requests: 2, input_tokens: 3500, output_tokens: 600, cost_usd: 0.0188, unpriced_requests: 0 },
      { key: 'bob', requests: 2, input_tokens: 2700, output_tokens: 470, cost_usd: 0.009, unpriced_requests: 1 },
    ]);
    const web = JSON.parse((await kt(['usage', '--by', 'model', '--repository', 'acme/web', '--format', 'json', '--data-dir', s.dir])).stdout) as UsageJson;
    expect(web.rows.map((row) => [row.key, row.requests, row.cost_usd === null ? null : Number(row.cost_usd.toFixed(6))])).toEqual([
      ['gpt-4o', 2, 0.0113],
      ['my-finetune', 1, null],
    ]);
  });

  it('prints a table with a totals row, $ and 4 decimals, — when unpriced, and a note', async () => {
    const r = await kt(['usage', '--by', 'model', '--data-dir', s.dir]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n').filter(Boolean);
    expect(lines[0]).toMatch(/^MODEL +REQUESTS +INPUT TOKENS +OUTPUT TOKENS +COST$/);
    expect(lines[1]).toMatch(/^gpt-4o +3 +3,500 +700 +\$0\.0238$/);
    expect(lines[2]).toMatch(/^claude-sonnet-4-5 +1 +3,000 +500 +\$0\.0165$/);
    expect(lines[3]).toMatch(/^my-finetune +1 +700 +70 +—$/);
    expect(lines[4]).toMatch(/^-+ +-+/);
    expect(lines[5]).toMatch(/^TOTAL +5 +7,200 +1,270 +\$0\.0403$/);
    expect(lines[6]).toMatch(/^note: 1 request had token counts but no price/);
  });

  it('--format csv: one header, one line per group, CRLF', async () => {
    const r = await kt(['usage', '--by', 'developer', '--format', 'csv', '--data-dir', s.dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\r\n')).toEqual([
      'developer,requests,input_tokens,output_tokens,cost_usd,unpriced_requests',
      expect.stringMatching(/^alice,3,4500,800,0\.031\d*,0$/),
      'bob,2,2700,470,0.009,1',
      '',
    ]);
  });

  it('--by day gives UTC dates, oldest first', async () => {
    const body = JSON.parse((await kt(['usage', '--by', 'day', '--format', 'json', '--data-dir', s.dir])).stdout) as UsageJson;
    const days = [...new Set(s.events.map((e) => e.ts.slice(0, 10)))].sort();
    expect(body.rows.map((r) => r.key)).toEqual(days);
    expect(body.rows.reduce((n, r) => n + r.requests, 0)).toBe(5);
  });

  it('refuses a missing or unknown --by, and says where the store should be', async () => {
    const missing = await kt(['usage', '--data-dir', s.dir]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/--by/);
    const unknown = await kt(['usage', '--by', 'colour', '--data-dir', s.dir]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/Allowed choices are developer, repository, team, model, provider, gateway, day/);
    const empty = tempDir('kt-usage-empty-');
    const none = await kt(['usage', '--by', 'team', '--data-dir', empty]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`no event store at ${join(empty, 'events.db')}`);
  });

  describe('through a control plane (GET /v1/usage)', () => {
    let store: SqliteEventStore;
    let tokens: SqliteTokenStore;
    let plane: RunningControlPlane;
    let token: string;

    beforeAll(async () => {
      store = new SqliteEventStore(eventsDbFile(s.dir));
      tokens = new SqliteTokenStore(':memory:');
      token = (await tokens.create({ gateway: 'usage-reader', role: 'reader' })).token;
      plane = await startControlPlane({ host: '127.0.0.1', port: 0, store, tokens, logger: createLogger('error', 'json', new Writable({ write: (_c, _e, cb) => cb() })) });
    });

    afterAll(async () => {
      await plane?.close();
      await tokens?.close();
      await store?.close();
    });

    it('gives the same report as the local store', async () => {
      const local = JSON.parse((await kt(['usage', '--by', 'repository', '--format', 'json', '--data-dir', s.dir])).stdout) as UsageJson;
      const r = await kt(['usage', '--by', 'repository', '--format', 'json', '--api-url', plane.url, '--token', token]);
      expect(r.code, r.stderr).toBe(0);
      expect((JSON.parse(r.stdout) as UsageJson).rows).toEqual(local.rows);
      const env = { KEEPTRUSTS_API_URL: plane.url, KEEPTRUSTS_API_TOKEN: token };
      const bob = JSON.parse((await kt(['usage', '--by', 'provider', '--developer', 'bob', '--format', 'json'], { env })).stdout) as UsageJson;
      expect(bob.rows.map((row) => [row.key, row.requests])).toEqual([
        ['openai', 1],
        ['openai-compatible', 1],
      ]);
    });

    it('answers GET /v1/usage itself, and refuses bad parameters and missing tokens', async () => {
      const get = (query: string, auth = true) => fetch(`${plane.url}/v1/usage${query}`, { headers: auth ? { authorization: `Bearer ${token}` } : {} });
      const ok = await get('?by=developer&since=7d&verdict=allow');
      expect(ok.status).toBe(200);
      const body = (await ok.json()) as { by: string; data: UsageRow[] };
      expect(body.by).toBe('developer');
      expect(body.data.map((r) => r.key)).toEqual(['alice', 'bob']);
      expect((await get('')).status).toBe(400);
      const message = async (query: string) => ((await (await get(query)).json()) as { error: { message: string } }).error.message;
      expect(await message('?by=colour')).toMatch(/by must be one of developer, repository, team, model, provider, gateway, day/);
      expect(await message('?by=team&after=3')).toMatch(/unknown query parameter "after"/);
      expect((await get('?by=team', false)).status).toBe(401);
    });
  });
});

describe('kt keys create, list and revoke', () => {
  it('creates a key shown once, lists it without the key, and revokes it', async () => {
    const dir = tempDir('kt-keys-');
    const created = await kt(['keys', 'create', '--developer', 'alice@example.com', '--team', 'platform', '--repository', 'acme/api', '--name', 'laptop', '--json', '--data-dir', dir]);
    expect(created.code, created.stderr).toBe(0);
    const { key, record } = JSON.parse(created.stdout) as { key: string; record: { id: string; developer: string } };
    expect(key).toMatch(/^kt-vk-[A-Za-z0-9_-]{32}$/);
    expect(record).toMatchObject({ id: expect.stringMatching(/^vk_/), developer: 'alice@example.com', team: 'platform', repository: 'acme/api', name: 'laptop', revoked_at: null });

    const human = await kt(['keys', 'create', '--developer', 'bob', '--data-dir', dir]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^ {2}kt-vk-[A-Za-z0-9_-]{32}$/m);
    expect(human.stdout).toMatch(/OPENAI_API_KEY=kt-vk-/);
    expect(human.stdout).toMatch(/ANTHROPIC_API_KEY=kt-vk-/);

    const list = await kt(['keys', 'list', '--data-dir', dir]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).not.toContain('kt-vk-');
    expect(list.stdout).toMatch(/^ID +DEVELOPER +TEAM +REPOSITORY +NAME +CREATED +STATUS$/m);
    expect(list.stdout).toMatch(new RegExp(`^${record.id} +alice@example.com +platform +acme/api +laptop +\\S+ +active$`, 'm'));

    const revoked = await kt(['keys', 'revoke', record.id, '--data-dir', dir]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toMatch(/revoked vk_.*within 5 seconds/);
    const json = JSON.parse((await kt(['keys', 'list', '--json', '--data-dir', dir])).stdout) as Array<{ id: string; revoked_at: string | null }>;
    expect(json).toHaveLength(2);
    expect(json.find((r) => r.id === record.id)!.revoked_at).toMatch(/^\d{4}-/);

    const unknown = await kt(['keys', 'revoke', 'vk_nope', '--data-dir', dir]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no key vk_nope/);
    const bad = await kt(['keys', 'create', '--developer', ' ', '--data-dir', dir]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/developer is required/);
  });

  it('lists nothing, and creates no file, where there is no store', async () => {
    const dir = join(tempDir('kt-keys-none-'), 'data');
    const r = await kt(['keys', 'list', '--data-dir', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/no virtual keys/);
    expect((await kt(['keys', 'list', '--json', '--data-dir', dir])).stdout.trim()).toBe('[]');
  });
});

describe('kt run', () => {
  let fake: FakeUpstream;
  let home: string;
  let gitEnv: NodeJS.ProcessEnv;

  beforeAll(async () => {
    fake = await startFakeUpstream();
    home = tempDir('kt-run-home-');
    gitEnv = { HOME: home, XDG_CONFIG_HOME: home, GIT_CONFIG_GLOBAL: join(home, 'gitconfig'), GIT_CONFIG_NOSYSTEM: '1' };
  });

  afterAll(async () => {
    await fake?.close();
  });

  /** A checkout whose git identity kt run should pick up. */
  function checkout(): string {
    const repo = tempDir('kt-run-repo-');
    const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, env: { ...process.env, ...gitEnv }, stdio: 'pipe' });
    git('init', '-q');
    git('config', 'user.email', 'dana@example.com');
    git('remote', 'add', 'origin', 'https://github.com/acme/widgets.git');
    return repo;
  }

  function config(): string {
    const dir = tempDir('kt-run-config-');
    const file = join(dir, 'policy-config.yaml');
    writeFileSync(
      file,
      `pack:
  name: run-test
  version: 1.0.0
policies:
  chain: [audit-logger]
providers:
  strategy: single
  targets:
    - id: fake
      provider: openai-compatible
      base_url: ${fake.url}/v1
`,
    );
    return file;
  }

  // The client: prints what it was given, calls the OpenAI-compatible endpoint, and exits 3 once answered.
  const CLIENT = `
const env = process.env;
console.log(JSON.stringify({ openaiBase: env.OPENAI_BASE_URL, openaiApiBase: env.OPENAI_API_BASE, anthropicBase: env.ANTHROPIC_BASE_URL,
  headers: env.ANTHROPIC_CUSTOM_HEADERS, developer: env.KEEPTRUSTS_DEVELOPER, repository: env.KEEPTRUSTS_REPOSITORY }));
fetch(env.OPENAI_BASE_URL + '/chat/completions', {
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-key' },
  body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello from kt run' }] }),
}).then((r) => r.json()).then((j) => process.exit(j.choices ? 3 : 9), () => process.exit(8));
`;

  it('starts a gateway with the config, runs the client through it attributed to the git identity, and returns its exit code', async () => {
    const repo = checkout();
    const dataDir = tempDir('kt-run-data-');
    fake.reset();
    const r = await kt(['run', '-c', config(), '--data-dir', dataDir, '--', process.execPath, '-e', CLIENT], { cwd: repo, env: gitEnv });
    expect(r.code, r.stderr).toBe(3);
    const seen = JSON.parse(r.stdout.split('\n')[0]!) as Record<string, string>;
    expect(seen.openaiBase).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect(seen.openaiApiBase).toBe(seen.openaiBase);
    expect(seen.anthropicBase).toBe(seen.openaiBase!.replace(/\/v1$/, ''));
    expect(seen.headers).toBe('x-keeptrusts-developer: dana@example.com\nx-keeptrusts-repository: acme/widgets');
    expect(seen).toMatchObject({ developer: 'dana@example.com', repository: 'acme/widgets' });
    // The banner names each value's source, and says that what the client sends itself wins at the gateway.
    expect(r.stderr).toMatch(
      /kt run: gateway started at http:\/\/127\.0\.0\.1:\d+; requests are attributed to developer dana@example\.com \(git user\.email\), repository acme\/widgets \(git remote origin\), unless the client sends a virtual key or x-keeptrusts-\* headers of its own, which win/,
    );

    // The fake provider got the request, with the client's key passed through.
    const chat = fake.requests.filter((q) => q.family === 'chat');
    expect(chat).toHaveLength(1);
    expect(chat[0]!.headers.authorization).toBe('Bearer sk-test-key');
    expect(JSON.stringify(chat[0]!.body)).toContain('hello from kt run');

    // The gateway is gone, and its decision event names the developer and repository from git.
    const store = new SqliteEventStore(eventsDbFile(dataDir), { readonly: true });
    const events = await store.query({});
    await store.close();
    expect(events).toHaveLength(1);
    expect(events[0]!.event.identity).toMatchObject({ developer: 'dana@example.com', repository: 'acme/widgets' });
    await expect(fetch(seen.openaiBase!.replace(/\/v1$/, '/health'))).rejects.toThrow();
  });

  it('--developer and --repository override git', async () => {
    const repo = checkout();
    const dataDir = tempDir('kt-run-data-');
    const r = await kt(['run', '-c', config(), '--data-dir', dataDir, '--developer', 'erin', '--repository', 'acme/other', '--', process.execPath, '-e', CLIENT], {
      cwd: repo,
      env: gitEnv,
    });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain('requests are attributed to developer erin (--developer), repository acme/other (--repository), unless');
    const store = new SqliteEventStore(eventsDbFile(dataDir), { readonly: true });
    const [e] = await store.query({});
    await store.close();
    expect(e!.event.identity).toMatchObject({ developer: 'erin', repository: 'acme/other' });
  });

  it('headers the client sends itself win over what the banner names as the default, as the banner says', async () => {
    const repo = checkout();
    const dataDir = tempDir('kt-run-data-');
    const client = CLIENT.replace("authorization: 'Bearer sk-test-key' }", "authorization: 'Bearer sk-test-key', 'x-keeptrusts-developer': 'carol@example.com' }");
    expect(client).not.toBe(CLIENT);
    const r = await kt(['run', '-c', config(), '--data-dir', dataDir, '--', process.execPath, '-e', client], { cwd: repo, env: gitEnv });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain('requests are attributed to developer dana@example.com (git user.email), repository acme/widgets (git remote origin), unless the client sends a virtual key or x-keeptrusts-* headers of its own, which win');
    const store = new SqliteEventStore(eventsDbFile(dataDir), { readonly: true });
    const [e] = await store.query({});
    await store.close();
    expect(e!.event.identity).toMatchObject({ developer: 'carol@example.com', repository: 'acme/widgets' });
  });

  it('with --gateway, points the client at that gateway and starts none', async () => {
    const repo = checkout();
    const print = `console.log(JSON.stringify({ o: process.env.OPENAI_BASE_URL, a: process.env.ANTHROPIC_BASE_URL, h: process.env.ANTHROPIC_CUSTOM_HEADERS }))`;
    const r = await kt(['run', '--gateway', 'http://gateway.internal:41002/v1/', '--', process.execPath, '-e', print], {
      cwd: repo,
      env: { ...gitEnv, ANTHROPIC_CUSTOM_HEADERS: 'x-trace: 1\nx-keeptrusts-developer: stale' },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      o: 'http://gateway.internal:41002/v1',
      a: 'http://gateway.internal:41002',
      h: 'x-trace: 1\nx-keeptrusts-developer: dana@example.com\nx-keeptrusts-repository: acme/widgets',
    });
    expect(r.stderr).toMatch(/using gateway http:\/\/gateway\.internal:41002/);
  });

  it('exits 128 + n when a signal ends the client, 127 when there is no such command, and forwards SIGTERM', async () => {
    const killed = await kt(['run', '--gateway', 'http://127.0.0.1:9', '--', process.execPath, '-e', "process.kill(process.pid, 'SIGTERM')"]);
    expect(killed.code, killed.stderr).toBe(143);
    const missing = await kt(['run', '--gateway', 'http://127.0.0.1:9', '--', 'kt-no-such-command-x9']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toMatch(/command not found: kt-no-such-command-x9/);
    const nothing = await kt(['run', '--gateway', 'http://127.0.0.1:9']);
    expect(nothing.code).toBe(1);

    // SIGTERM to kt reaches the client, which reports it and exits 7; kt exits 7 too.
    const marker = join(tempDir('kt-run-sig-'), 'ready');
    const client = `process.on('SIGTERM', () => process.exit(7)); require('fs').writeFileSync(${JSON.stringify(marker)}, 'x'); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--import', TSX, ENTRY, 'run', '--gateway', 'http://127.0.0.1:9', '--', process.execPath, '-e', client], {
      cwd: ROOT,
      env: cleanEnv(),
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const { existsSync } = await import('node:fs');
    for (let i = 0; i < 200 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGTERM');
    expect(await exited).toBe(7);
  });

  it('refuses a --gateway that is not an http URL', async () => {
    const r = await kt(['run', '--gateway', 'ftp://x', '--', 'true']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--gateway must be an http/);
  });
});

describe('kt run without -c', () => {
  it('uses ./policy-config.yaml when there is one', async () => {
    const { runConfigFiles, PACKAGED_CONFIG } = await import('../../src/cli/run.js');
    const dir = tempDir('kt-run-cwd-');
    expect(runConfigFiles(undefined, dir)).toEqual([PACKAGED_CONFIG]);
    expect(PACKAGED_CONFIG).toBe(join(ROOT, 'examples/quickstart/policy-config.yaml'));
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'policy-config.yaml'), 'pack: {}\n');
    expect(runConfigFiles(undefined, dir)).toEqual([join(dir, 'policy-config.yaml')]);
    expect(runConfigFiles(['a.yaml'], dir)).toEqual(['a.yaml']);
  });
});
