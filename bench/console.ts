/**
 * npm run bench:console: the console's server side at 100,000 events. Fills a SQLite store with realistic
 * decision events (40 developers, 25 repositories, 6 models, 4 gateways, 30 days, mostly allowed), serves the
 * control plane's handler on loopback, and times what the events page asks for: its first load (the first
 * page and the overview stats) and filter changes (verdict + developer, free-text search, a policy, a search
 * that matches nothing, which reads every row in the range). Median and p95 of 30 runs each; every one must
 * answer in under 300 ms. BENCH_CONSOLE_EVENTS changes the count.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { newEventId, timestampMicros, type DecisionEvent } from '../src/audit/event.js';
import { SqliteEventStore } from '../src/audit/sqlite-store.js';
import type { Verdict } from '../src/policy/types.js';
import { createControlPlaneHandler } from '../src/server/app.js';
import { localTokenStore } from '../src/server/local-console.js';
import { newToken } from '../src/server/tokens.js';

const EVENTS = Number(process.env.BENCH_CONSOLE_EVENTS ?? 100_000);
const RUNS = Number(process.env.BENCH_CONSOLE_RUNS ?? 30);
const BUDGET_MS = 300;
const DAY = 86_400_000;

// A small deterministic generator, so runs compare.
let seed = 42;
const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

const DEVELOPERS = Array.from({ length: 40 }, (_, i) => `dev-${i}`);
const REPOS = Array.from({ length: 25 }, (_, i) => `acme/repo-${i}`);
const MODELS = [
  ['gpt-4o', 'openai', 2.5, 10],
  ['gpt-4o-mini', 'openai', 0.15, 0.6],
  ['claude-sonnet-4', 'anthropic', 3, 15],
  ['claude-haiku-4', 'anthropic', 0.8, 4],
  ['gpt-5', 'openai', 1.25, 10],
  ['local-llama', 'openai-compatible', 0, 0],
] as const;
const CLIENTS = ['claude-code', 'codex', 'cursor', 'aider', 'openai-sdk'] as const;

function event(atMs: number, gateway: string): DecisionEvent {
  const r = rand();
  const verdict: Verdict = r < 0.8 ? 'allow' : r < 0.86 ? 'flag' : r < 0.95 ? 'redact' : 'block';
  const [model, provider, inPrice, outPrice] = pick(MODELS);
  const input = 500 + Math.floor(rand() * 20_000);
  const output = verdict === 'block' ? 0 : 50 + Math.floor(rand() * 2_000);
  const cost = (input * inPrice + output * outPrice) / 1e6;
  const acting = verdict === 'block' ? pick(['prompt-injection', 'code-sanitizer', 'dlp-filter']) : verdict === 'redact' ? pick(['pii-detector', 'code-sanitizer']) : null;
  const policies = ['pii-detector', 'code-sanitizer', 'prompt-injection', 'dlp-filter', 'audit-logger'].map((kind) => ({
    kind,
    phase: 'input' as const,
    verdict: kind === acting ? verdict : ('allow' as Verdict),
    duration_us: 50 + Math.floor(rand() * 3000),
    findings: kind === acting ? [{ type: kind === 'pii-detector' ? 'EMAIL' : 'SECRET', rule: 'rule-1', source: 'user' as const, count: 1 }] : [],
  }));
  return {
    id: newEventId(atMs),
    ts: timestampMicros(atMs),
    request_id: `req_${Math.floor(rand() * 1e12).toString(36)}`,
    gateway_id: gateway,
    config: { name: 'acme', version: '1.4.0', sha256: 'a'.repeat(64) },
    route: 'chat',
    stream: rand() < 0.7,
    identity: { developer: pick(DEVELOPERS), repository: pick(REPOS), team: 'platform', key_id: null, client: pick(CLIENTS) },
    model_requested: model,
    target: { id: provider, provider, model },
    verdict,
    reason_code: verdict === 'block' ? 'input_blocked' : null,
    policies,
    redactions: [],
    usage: { input_tokens: input, output_tokens: output, cached_input_tokens: null, cache_write_tokens: null, reasoning_tokens: null, estimated: false },
    cost: { currency: 'USD', input: (input * inPrice) / 1e6, output: (output * outPrice) / 1e6, total: cost, priced: inPrice > 0 },
    latency: { total_ms: 400 + Math.floor(rand() * 9000), upstream_ms: 380, ttft_ms: 200, overhead_ms: 3 },
    status: verdict === 'block' ? 409 : 200,
    error: null,
    capture: {
      mode: 'redacted',
      request: [{ source: 'user', turn: 0, text: `Refactor the handler in src/routes/${Math.floor(rand() * 500)}.ts so it validates input; mail [EMAIL] if it fails.` }],
      completion: verdict === 'block' ? null : { text: 'Here is the change: validate the body with zod before use, and return 400 on failure.', tool_calls: [], finish_reason: 'stop' },
      truncated: false,
    },
    proposed_edits: [],
  };
}

function stats(ms: number[]): { median: number; p95: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
  return { median: at(0.5), p95: at(0.95), max: s[s.length - 1]! };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kt-bench-console-'));
  const store = new SqliteEventStore(join(dir, 'events.db'));
  try {
    const fillStart = performance.now();
    const now = Date.now();
    const gateways = ['gw-laptop-1', 'gw-ci', 'gw-build-2', 'gw-laptop-7'];
    const batch = 1000;
    for (let done = 0; done < EVENTS; done += batch) {
      // Oldest first, spread over 30 days, so positions follow time as they do in a real store.
      const n = Math.min(batch, EVENTS - done);
      const byGateway = new Map<string, DecisionEvent[]>();
      for (let i = 0; i < n; i++) {
        const atMs = now - 30 * DAY + Math.floor(((done + i) / EVENTS) * 30 * DAY);
        const gw = pick(gateways);
        let list = byGateway.get(gw);
        if (!list) byGateway.set(gw, (list = []));
        list.push(event(atMs, gw));
      }
      for (const [gw, list] of byGateway) await store.append(gw, list);
    }
    const fillMs = performance.now() - fillStart;

    const token = newToken();
    const handler = createControlPlaneHandler({ store, tokens: localTokenStore(token), logger: pino({ level: 'silent' }) });
    const server = createServer(handler.handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const get = async (path: string): Promise<number> => {
      const started = performance.now();
      const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
      return performance.now() - started;
    };
    const time = async (paths: string[]): Promise<number> => {
      const started = performance.now();
      // As the browser does: the requests of one view in parallel.
      await Promise.all(paths.map(get));
      return performance.now() - started;
    };

    const scenarios: Array<{ name: string; paths: string[] }> = [
      { name: 'events page, first load: /v1/events?since=24h&limit=51 + /v1/stats?since=7d', paths: ['/v1/events?since=24h&limit=51', '/v1/stats?since=7d'] },
      { name: '  the page alone: /v1/events?since=24h&limit=51', paths: ['/v1/events?since=24h&limit=51'] },
      { name: '  the overview alone: /v1/stats?since=7d', paths: ['/v1/stats?since=7d'] },
      { name: 'overview, 30 days: /v1/stats?since=30d', paths: ['/v1/stats?since=30d'] },
      { name: 'filter: verdict=block & developer=dev-7 (24h)', paths: ['/v1/events?since=24h&verdict=block&developer=dev-7&limit=51'] },
      { name: 'filter: verdict=block & developer=dev-7 (30d)', paths: ['/v1/events?since=30d&verdict=block&developer=dev-7&limit=51'] },
      { name: 'filter: policy=prompt-injection (30d)', paths: ['/v1/events?since=30d&policy=prompt-injection&limit=51'] },
      { name: 'search: q=repo-13 (24h)', paths: ['/v1/events?since=24h&q=repo-13&limit=51'] },
      { name: 'search: q=repo-13 (all time)', paths: ['/v1/events?q=repo-13&limit=51'] },
      { name: 'search: q=no-such-thing (all time, reads every row)', paths: ['/v1/events?q=no-such-thing&limit=51'] },
      { name: 'filter: developer with no events (all time, reads every row)', paths: ['/v1/events?developer=nobody&limit=51'] },
      { name: 'filter: verdict=block (all time)', paths: ['/v1/events?verdict=block&limit=51'] },
      { name: 'next page: cursor in the middle, verdict=redact', paths: [`/v1/events?verdict=redact&limit=51&cursor=${Math.floor(EVENTS / 2)}`] },
      { name: 'costs page: /v1/usage?by=developer&since=30d', paths: ['/v1/usage?by=developer&since=30d'] },
    ];

    console.log(`console benchmark: ${EVENTS.toLocaleString('en-US')} events (filled in ${(fillMs / 1000).toFixed(1)} s), ${RUNS} runs each, Node ${process.version}`);
    console.log(`${'scenario'.padEnd(78)} ${'median'.padStart(8)} ${'p95'.padStart(8)} ${'max'.padStart(8)}`);
    let failed = 0;
    for (const s of scenarios) {
      await time(s.paths); // warm-up: statements prepared, pages cached
      const ms: number[] = [];
      for (let i = 0; i < RUNS; i++) ms.push(await time(s.paths));
      const r = stats(ms);
      const over = r.p95 >= BUDGET_MS;
      if (over) failed++;
      console.log(`${s.name.padEnd(78)} ${r.median.toFixed(1).padStart(6)}ms ${r.p95.toFixed(1).padStart(6)}ms ${r.max.toFixed(1).padStart(6)}ms${over ? '  OVER BUDGET' : ''}`);
    }
    await handler.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    console.log(failed ? `${failed} scenario(s) over ${BUDGET_MS} ms at p95` : `all scenarios under ${BUDGET_MS} ms at p95 (server time on loopback)`);
    process.exitCode = failed ? 1 : 0;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
