/**
 * npm run bench:translate: what a translated request costs over a native one, at c=1.
 *
 * One process holds the fake upstream, the gateway and the client (so the client's own work is the same on
 * both sides of each pair). Each pair sends the same ~5 KB request to the same upstream endpoint, once natively
 * and once through a translator, interleaved request by request so drift on a shared machine falls on both:
 *
 *   chat → Anthropic target      vs  Anthropic client → Anthropic target   (both upstream calls are /v1/messages)
 *   Anthropic client → chat target  vs  chat client → chat target          (both are /v1/chat/completions)
 *
 * plain and streamed, with an empty chain and with the three-policy chain. Reported: the median latency of
 * each and the difference. Then the translators alone (no I/O), per request. BENCH_TRANSLATE_N changes the
 * request count per side.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Pool } from 'undici';
import { loadConfig } from '../src/config/index.js';
import { startGateway } from '../src/gateway/server.js';
import { translatorFor } from '../src/protocol/translate/index.js';
import { startFakeUpstream } from '../src/testing/fake-upstream.js';

const N = Number(process.env.BENCH_TRANSLATE_N ?? 1500);
const WARMUP = Math.min(300, N);

const text = Array.from({ length: 60 }, (_, i) => `line ${i}: export function f${i}(x: number) { return x * ${i}; } // some context`).join('\n');
const chatBody = (model: string, stream: boolean) =>
  JSON.stringify({ model, stream, messages: [{ role: 'system', content: 'You are a coding assistant.' }, { role: 'user', content: `${text}\nadd a docstring` }] });
const messagesBody = (model: string, stream: boolean) =>
  JSON.stringify({ model, stream, max_tokens: 256, system: 'You are a coding assistant.', messages: [{ role: 'user', content: `${text}\nadd a docstring` }] });

const config = (fake: string, chain: string[]) => `pack: {name: bench-translate, version: "1"}
policies: {chain: [${chain.join(', ')}]}
providers:
  targets:
    - {id: openai, provider: openai-compatible, base_url: "${fake}/v1", model: gpt-4o, aliases: {gpt-native: gpt-4o, via-gpt: gpt-4o}}
    - {id: claude, provider: anthropic, base_url: "${fake}", model: claude-sonnet-4-20250514, aliases: {claude-native: claude-sonnet-4-20250514, via-claude: claude-sonnet-4-20250514}}
`;

interface Side {
  label: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** Wall time (ms) and the process's CPU time (µs: client, gateway and fake together, the same on both sides but for translation). */
async function once(pool: Pool, s: Side): Promise<[number, number]> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const res = await pool.request({ method: 'POST', path: s.path, headers: s.headers, body: s.body });
  const out = await res.body.text();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (res.statusCode !== 200) throw new Error(`${s.label}: ${res.statusCode} ${out.slice(0, 300)}`);
  return [ms, cpu.user + cpu.system];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

interface Result {
  translated: number;
  native: number;
  cpuTranslated: number;
  cpuNative: number;
}

async function pair(pool: Pool, translated: Side, native: Side): Promise<Result> {
  for (let i = 0; i < WARMUP; i++) {
    await once(pool, translated);
    await once(pool, native);
  }
  const t: Array<[number, number]> = [];
  const n: Array<[number, number]> = [];
  for (let i = 0; i < N; i++) {
    // Alternate which goes first, so neither always follows the other.
    if (i % 2 === 0) {
      t.push(await once(pool, translated));
      n.push(await once(pool, native));
    } else {
      n.push(await once(pool, native));
      t.push(await once(pool, translated));
    }
  }
  return { translated: median(t.map((x) => x[0])), native: median(n.map((x) => x[0])), cpuTranslated: mean(t.map((x) => x[1])), cpuNative: mean(n.map((x) => x[1])) };
}

const row = (chain: string, pairName: string, mode: string, r: Result) =>
  console.log(
    `| ${chain} | ${pairName} | ${mode} | ${r.translated.toFixed(3)} | ${r.native.toFixed(3)} | ${(r.translated - r.native).toFixed(3)} | ${r.cpuTranslated.toFixed(0)} | ${r.cpuNative.toFixed(0)} | ${(r.cpuTranslated - r.cpuNative).toFixed(0)} |`,
  );

const OPENAI = { 'content-type': 'application/json', authorization: 'Bearer k' };
const ANTHROPIC = { 'content-type': 'application/json', 'x-api-key': 'k', 'anthropic-version': '2023-06-01' };

async function gatewayRuns(): Promise<void> {
  const fake = await startFakeUpstream({ record: false, replyText: 'Here is the docstring you asked for, with an example and the edge cases it handles. '.repeat(3) });
  const dir = mkdtempSync(join(tmpdir(), 'kt-bench-translate-'));
  console.log(`c=1, ${N} requests a side after ${WARMUP} warm-up: median latency in ms, mean CPU per request in µs (one process: client, gateway, fake)\n`);
  console.log('| chain | pair | mode | translated ms | native ms | Δ ms | translated CPU µs | native CPU µs | Δ CPU µs |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const chain of [[], ['pii-detector', 'code-sanitizer', 'dlp-filter']]) {
    const file = join(dir, `c${chain.length}.yaml`);
    writeFileSync(file, config(fake.url, chain));
    const { loaded } = await loadConfig([file]);
    if (!loaded) throw new Error('bench config invalid');
    const gw = await startGateway({ loaded, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }), failMode: 'block', maxConcurrency: 64, maxBodyBytes: 32 << 20, env: {}, metrics: false });
    const pool = new Pool(gw.url, { connections: 2 });
    for (const stream of [false, true]) {
      const mode = stream ? 'streamed' : 'plain';
      const a = await pair(
        pool,
        { label: 'chat→anthropic', path: '/v1/chat/completions', headers: OPENAI, body: chatBody('via-claude', stream) },
        { label: 'anthropic native', path: '/v1/messages', headers: ANTHROPIC, body: messagesBody('claude-native', stream) },
      );
      row(chain.length === 0 ? 'empty' : chain.join(', '), 'chat client → Anthropic target vs Anthropic client', mode, a);
      const b = await pair(
        pool,
        { label: 'messages→chat', path: '/v1/messages', headers: ANTHROPIC, body: messagesBody('via-gpt', stream) },
        { label: 'chat native', path: '/v1/chat/completions', headers: OPENAI, body: chatBody('gpt-native', stream) },
      );
      row(chain.length === 0 ? 'empty' : chain.join(', '), 'Anthropic client → chat target vs chat client', mode, b);
    }
    await pool.close();
    await gw.close();
  }
  await fake.close();
}

/** The translators alone: request translated and serialised, reply translated, a streamed reply translated. */
async function pureRuns(): Promise<void> {
  const fake = await startFakeUpstream({ record: false, replyText: 'Here is the docstring you asked for, with an example and the edge cases it handles. '.repeat(3) });
  const grab = async (path: string, headers: Record<string, string>, body: string) => (await (await fetch(fake.url + path, { method: 'POST', headers, body })).text());
  const anthropicWhole = JSON.parse(await grab('/v1/messages', ANTHROPIC, messagesBody('m', false))) as Record<string, unknown>;
  const anthropicSse = await grab('/v1/messages', ANTHROPIC, messagesBody('m', true));
  const chatWhole = JSON.parse(await grab('/v1/chat/completions', OPENAI, chatBody('m', false))) as Record<string, unknown>;
  const chatSse = await grab('/v1/chat/completions', OPENAI, JSON.stringify({ ...JSON.parse(chatBody('m', true)), stream_options: { include_usage: true } }));
  await fake.close();
  const toAnthropic = translatorFor('chat', 'anthropic')!;
  const toChat = translatorFor('messages', 'openai')!;
  const chatReq = JSON.parse(chatBody('via-claude', true)) as Record<string, unknown>;
  const msgReq = JSON.parse(messagesBody('via-gpt', true)) as Record<string, unknown>;
  // CPU time rather than wall time: on a shared machine the wall clock also counts other processes' turns.
  const time = (label: string, fn: () => unknown) => {
    for (let i = 0; i < 2000; i++) fn();
    const runs = 20_000;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < runs; i++) fn();
    const cpu = process.cpuUsage(cpu0);
    console.log(`| ${label} | ${((cpu.user + cpu.system) / runs).toFixed(1)} | ${(((performance.now() - t0) / runs) * 1000).toFixed(1)} |`);
  };
  console.log('\nThe translators alone, per request:\n');
  console.log('| step | CPU µs | wall µs |');
  console.log('|---|---|---|');
  time('chat request → Anthropic, serialised', () => JSON.stringify(toAnthropic.request(chatReq, 'claude-sonnet-4-20250514')));
  time('Anthropic reply → chat, serialised', () => JSON.stringify(toAnthropic.reply(anthropicWhole, 200)));
  time(`Anthropic stream (${anthropicSse.length} B) → chat chunks`, () => {
    const s = toAnthropic.stream(chatReq, {});
    return s.push(anthropicSse) + s.end();
  });
  time('Anthropic request → chat, serialised', () => JSON.stringify(toChat.request(msgReq, 'gpt-4o')));
  time('chat reply → Anthropic, serialised', () => JSON.stringify(toChat.reply(chatWhole, 200)));
  time(`chat stream (${chatSse.length} B) → Anthropic events`, () => {
    const s = toChat.stream(msgReq, {});
    return s.push(chatSse) + s.end();
  });
}

await gatewayRuns();
await pureRuns();
