import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecisionEvent } from '../../src/audit/event.js';
import { SqliteVirtualKeyStore } from '../../src/usage/keys.js';
import { createLimitEngine } from '../../src/usage/limits/index.js';
import { clockedLimits } from '../helpers/clocked-limits.js';
import { loadConfig } from '../../src/config/index.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { writeConfigs } from '../helpers/config.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const KT = `${ROOT}dist/cli/main.js`;

const CONFIG = `pack: {name: attribution, version: "1"}
policies: {chain: [code-sanitizer, audit-logger]}
budgets:
  - {scope: developer, match: big-spender, limit_usd: 0.00001, period: day, mode: hard}
  - {scope: team, match: frugal, limit_usd: 0.00001, period: day, mode: soft, alert_at: [0.5]}
rate_limits:
  - {scope: developer, match: hasty, rpm: 2}
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "FAKE_URL/v1", secret_key_ref: {env: KT_TEST_PROVIDER_KEY}}
    - {id: a, provider: anthropic, base_url: "FAKE_URL"}
`;

let stack: Stack;
let dataDir: string;
let vk: string;
const startedAt = Date.now();
const middayToday = Math.floor(startedAt / 86_400_000) * 86_400_000 + 43_200_000;

beforeAll(async () => {
  if (!existsSync(KT)) spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  dataDir = mkdtempSync(join(tmpdir(), 'kt-attr-'));
  const keys = new SqliteVirtualKeyStore(join(dataDir, 'events.db'));
  vk = (await keys.create({ developer: 'key-dev', team: 'key-team', repository: 'acme/from-key' })).key;
  const [file] = writeConfigs(CONFIG.replaceAll('FAKE_URL', 'http://127.0.0.1:1'));
  const { loaded } = await loadConfig([file!]);
  stack = await startStack({
    config: CONFIG,
    env: { KT_TEST_PROVIDER_KEY: 'sk-provider-held-by-gateway' },
    audit: { dataDir },
    // Midday, whatever the hour the test runs at: a daily budget spent at 23:59:30 UTC resets within a client's
    // retry patience and is answered with a 429 instead of a final refusal.
    gateway: { virtualKeys: keys, limits: clockedLimits(createLimitEngine(loaded!.config)!, () => middayToday + (Date.now() - startedAt)), attribution: { defaults: { developer: 'default-dev', repository: 'acme/default' }, git: null } },
  });
});
afterAll(() => stack.close());

async function eventFor(requestId: string): Promise<DecisionEvent> {
  await stack.trail!.recorder.caughtUp();
  const e = (await stack.trail!.store.query({ limit: 200 })).find((r) => r.event.request_id === requestId)?.event;
  if (!e) throw new Error(`no event for ${requestId}`);
  return e;
}

const openai = (id: string, apiKey = 'sk-client', headers: Record<string, string> = {}) =>
  new OpenAI({ baseURL: stack.openaiBase, apiKey, maxRetries: 0, defaultHeaders: { 'x-request-id': id, ...headers } });

describe('attribution on the wire', () => {
  it('a virtual key: the provider gets the target key, never the virtual key; the key decides who, over headers', async () => {
    await openai('vk-1', vk, { 'x-keeptrusts-developer': 'header-dev' }).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    const seen = stack.fake.requests.at(-1)!;
    expect(seen.headers.authorization).toBe('Bearer sk-provider-held-by-gateway');
    expect(JSON.stringify(seen.headers)).not.toContain('kt-vk-');
    const e = await eventFor('vk-1');
    expect(e.identity).toMatchObject({ developer: 'key-dev', team: 'key-team', repository: 'acme/from-key', key_id: expect.stringMatching(/^vk_/) });
    expect(e.identity.source).toEqual({ developer: 'key', repository: 'key', team: 'key' });
    expect(JSON.stringify(e)).not.toContain(vk);
  });

  it('an unknown or revoked virtual key is refused with 401 in the client shape, and nothing goes upstream', async () => {
    const before = stack.fake.requests.length;
    const err = await openai('vk-bad', 'kt-vk-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as { error: { code: string } }).error.code).toBe('invalid_api_key');
    const a = new Anthropic({ baseURL: stack.anthropicBase, apiKey: 'kt-vk-BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB', maxRetries: 0 });
    expect(await a.messages.create({ model: 'claude-sonnet-4-20250514', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }).catch((x: unknown) => x)).toBeInstanceOf(Anthropic.AuthenticationError);
    expect(stack.fake.requests.length).toBe(before);
  });

  it('headers as Aider (extra_headers), Claude Code (ANTHROPIC_CUSTOM_HEADERS) and Codex (http_headers) send them; then the gateway defaults', async () => {
    // What each client puts on the wire once configured as docs/attribution.md shows.
    await openai('hdr-openai', 'sk-client', { 'x-keeptrusts-developer': 'ann', 'x-keeptrusts-repository': 'acme/web', 'x-keeptrusts-team': 'web' }).chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect((await eventFor('hdr-openai')).identity).toMatchObject({ developer: 'ann', repository: 'acme/web', team: 'web', source: { developer: 'header', repository: 'header', team: 'header' } });
    const a = new Anthropic({ baseURL: stack.anthropicBase, apiKey: 'k', maxRetries: 0, defaultHeaders: { 'x-request-id': 'hdr-anthropic', 'X-User-Id': 'bob', 'X-Team-Id': 'mobile' } });
    await a.messages.create({ model: 'claude-sonnet-4-20250514', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
    expect((await eventFor('hdr-anthropic')).identity).toMatchObject({ developer: 'bob', team: 'mobile', repository: 'acme/default', source: { developer: 'header', repository: 'default' } });
    await openai('hdr-none').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    expect((await eventFor('hdr-none')).identity).toMatchObject({ developer: 'default-dev', repository: 'acme/default', team: null });
  });
});

describe('budgets and rate limits', () => {
  it('a spent hard budget is a final refusal (400 budget_exceeded, no Retry-After) before any upstream call', async () => {
    const h = { 'x-keeptrusts-developer': 'big-spender' };
    await openai('spend-1', 'sk', h).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    const before = stack.fake.requests.length;
    const err = await openai('spend-2', 'sk', h).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as { error: { code: string } }).error.code).toBe('budget_exceeded');
    expect((err as { headers: Headers }).headers.get('retry-after')).toBeNull();
    expect((err as { headers: Headers }).headers.get('x-should-retry')).toBe('false');
    expect((err as Error).message).toContain('developer "big-spender" has used its daily budget of $0.00001; it resets at');
    expect(stack.fake.requests.length).toBe(before);
    expect(await eventFor('spend-2')).toMatchObject({ status: 400, reason_code: 'budget_exceeded' });
    // Someone else is not affected.
    await openai('spend-other').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
  });

  it('rpm: the third request in a minute gets 429 rate_limited in the Anthropic shape too', async () => {
    const a = (id: string) => new Anthropic({ baseURL: stack.anthropicBase, apiKey: 'k', maxRetries: 0, defaultHeaders: { 'x-request-id': id, 'x-keeptrusts-developer': 'hasty' } });
    await a('rpm-1').messages.create({ model: 'claude-sonnet-4-20250514', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
    await a('rpm-2').messages.create({ model: 'claude-sonnet-4-20250514', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
    const err = await a('rpm-3').messages.create({ model: 'claude-sonnet-4-20250514', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    expect(JSON.stringify((err as { error: unknown }).error)).toContain('rate_limited');
  });

  it('a soft budget lets requests through, flags them, and puts the alert on the event', async () => {
    const h = { 'x-keeptrusts-team': 'frugal' };
    await openai('soft-1', 'sk', h).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    const first = await eventFor('soft-1');
    expect(first.budget_alerts?.map((x) => x.threshold)).toEqual(expect.arrayContaining([0.5]));
    await openai('soft-2', 'sk', h).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    const second = await eventFor('soft-2');
    expect(second.verdict).toBe('flag');
    expect(second.flags?.some((f) => f.startsWith('budget_soft_exceeded'))).toBe(true);
  });
});

describe('kt usage after two developers worked in two repositories', () => {
  it('splits tokens and cost by repository and by developer', async () => {
    const runs: Array<[string, string, number]> = [
      ['dana', 'acme/api', 3],
      ['dana', 'acme/web', 1],
      ['eli', 'acme/web', 2],
    ];
    for (const [dev, repo, n] of runs) {
      for (let i = 0; i < n; i++) {
        await openai(`split-${dev}-${repo}-${i}`, 'sk', { 'x-keeptrusts-developer': dev, 'x-keeptrusts-repository': repo }).chat.completions.create({
          model: 'gpt-4o',
          messages: [{ role: 'user', content: 'hello there' }],
        });
      }
    }
    await stack.trail!.recorder.caughtUp();
    const kt = (...args: string[]) => spawnSync(process.execPath, [KT, 'usage', ...args, '--data-dir', dataDir, '--format', 'json'], { encoding: 'utf8' });
    type Report = { by: string; rows: Array<{ key: string; requests: number; cost_usd: number }> };
    const rows = (JSON.parse(kt('--by', 'repository', '--developer', 'dana').stdout) as Report).rows;
    expect(rows.find((r) => r.key === 'acme/api')!.requests).toBe(3);
    expect(rows.find((r) => r.key === 'acme/web')!.requests).toBe(1);
    const devOut = kt('--by', 'developer');
    const devRows = (JSON.parse(devOut.stdout) as Report).rows;
    const dana = devRows.find((r) => r.key === 'dana')!;
    const eli = devRows.find((r) => r.key === 'eli')!;
    expect(dana.requests).toBe(4);
    expect(eli.requests).toBe(2);
    // Same request, same tokens: cost splits 4:2.
    expect(dana.cost_usd / eli.cost_usd).toBeCloseTo(2, 6);
  });
});
