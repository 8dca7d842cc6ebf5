/**
 * StreamGuard alone on the streams the benches send (no I/O), this build's dist/ against another's
 * (BENCH_BASE_DIST, say main's copied aside), in interleaved batches in one process so drift on a shared
 * machine falls on both. Streams: the fake's default chat reply (the gateway bench's), the fake's 270-character
 * reply as chat chunks (the translate bench's), and that reply from an Anthropic target translated to chat
 * chunks and then checked (translator + guard, the translated path). Chain: the brief chain's output policies.
 * Reported: CPU µs per stream, the best batch of each side. Run after `npx tsc -p tsconfig.build.json`.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const BATCHES = Number(process.env.BENCH_GUARD_BATCHES ?? 40);
const PER_BATCH = Number(process.env.BENCH_GUARD_N ?? 100);
const LONG = 'Here is the docstring you asked for, with an example and the edge cases it handles. '.repeat(3);

interface Side {
  name: string;
  run: Record<string, () => string>;
}

async function side(name: string, dist: string, streams: { chat: string; chatLong: string; anthropicLong: string }): Promise<Side> {
  const load = (m: string) => import(pathToFileURL(resolve(dist, m)).href);
  const { loadConfig } = await load('config/index.js');
  const { buildChain } = await load('policy/build.js');
  const { StreamGuard } = await load('stream/guard.js');
  const { ReplyBudget } = await load('stream/budget.js');
  const { translatorFor } = await load('protocol/translate/index.js');
  const stages = await load('gateway/reply/stages.js');
  const dir = mkdtempSync(join(tmpdir(), 'kt-bench-guard-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(
    file,
    `pack: {name: bench, version: "1"}
policies: {chain: [pii-detector, code-sanitizer, prompt-injection, quality-scorer, dlp-filter, safety-filter]}
providers:
  targets:
    - {id: fake, provider: openai-compatible, base_url: "http://127.0.0.1:1/v1"}
`,
  );
  const { loaded } = await loadConfig([file]);
  const chain = buildChain(loaded.config, 'block', { markerSalt: 'bench' });
  const guarded = (text: string, family = 'chat') => () => {
    const g = new StreamGuard(family, chain, new ReplyBudget(1 << 26));
    return g.push(text) + g.end();
  };
  const body = { model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] };
  // The translated path as the relay composes it: translate, then guard, into a sink that keeps the text.
  const translated = (client: 'chat' | 'messages', target: string, upstream: string) => () => {
    let out = '';
    const sink = { onStart() {}, onData: (c: string) => ((out += c), true), onEnd() {}, onBlocked: (c: string) => void (out += c), onError() {} };
    const t = translatorFor(client, target).stream(body, { maxFrame: 1 << 26, now: () => 1 });
    const g = new StreamGuard(client, chain, new ReplyBudget(1 << 26));
    // This build hands the guard the translator's frames as objects when it can (one stage); a base without that, text.
    const both = stages.translateGuardStage && t.pushFrames ? [stages.translateGuardStage(t, g)] : [stages.translateStage(t), stages.guardStage(g)];
    const h = stages.compose(both, sink);
    h.onData(upstream);
    h.onEnd();
    return out;
  };
  return {
    name,
    run: {
      'chat, default reply': guarded(streams.chat),
      'chat, 270 chars / 38 frames': guarded(streams.chatLong),
      'Anthropic, 270 chars': guarded(streams.anthropicLong, 'messages'),
      'Anthropic target → chat client, translator + guard': translated('chat', 'anthropic', streams.anthropicLong),
      'chat target → Anthropic client, translator + guard': translated('messages', 'openai', streams.chatLong),
    },
  };
}

async function main() {
  const fakeMod = await import(pathToFileURL(resolve('dist/testing/fake-upstream.js')).href);
  const grab = async (replyText: string | undefined, path: string, headers: Record<string, string>, body: unknown) => {
    const fake = await fakeMod.startFakeUpstream({ record: false, ...(replyText ? { replyText } : {}) });
    const text = await (await fetch(fake.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })).text();
    await fake.close();
    return text;
  };
  const chatBody = { model: 'gpt-4o', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] };
  const streams = {
    chat: await grab(undefined, '/v1/chat/completions', { authorization: 'Bearer k' }, chatBody),
    chatLong: await grab(LONG, '/v1/chat/completions', { authorization: 'Bearer k' }, chatBody),
    anthropicLong: await grab(LONG, '/v1/messages', { 'x-api-key': 'k', 'anthropic-version': '2023-06-01' }, { model: 'claude-sonnet-4-20250514', stream: true, max_tokens: 256, messages: [{ role: 'user', content: 'hi' }] }),
  };
  const sides = [await side('this build', 'dist', streams)];
  if (process.env.BENCH_BASE_DIST) sides.push(await side('base', process.env.BENCH_BASE_DIST, streams));
  for (const key of Object.keys(sides[0]!.run)) {
    const outs = sides.map((s) => s.run[key]!());
    if (outs.some((o) => o !== outs[0])) console.log(`note: ${key}: the sides' outputs differ`);
  }
  const best = new Map<string, number>();
  for (let b = 0; b < BATCHES; b++) {
    for (const s of b % 2 === 0 ? sides : [...sides].reverse()) {
      for (const [key, fn] of Object.entries(s.run)) {
        for (let i = 0; i < 50; i++) fn();
        const c0 = process.cpuUsage();
        for (let i = 0; i < PER_BATCH; i++) fn();
        const c = process.cpuUsage(c0);
        const us = (c.user + c.system) / PER_BATCH;
        const k = `${key}\t${s.name}`;
        best.set(k, Math.min(best.get(k) ?? Infinity, us));
      }
    }
  }
  console.log(`CPU µs per stream, best of ${BATCHES} interleaved batches of ${PER_BATCH}`);
  console.log(`| stream | ${sides.map((s) => s.name).join(' | ')} |`);
  console.log(`|---|${sides.map(() => '---|').join('')}`);
  for (const key of Object.keys(sides[0]!.run)) console.log(`| ${key} | ${sides.map((s) => best.get(`${key}\t${s.name}`)!.toFixed(1)).join(' | ')} |`);
}

await main();
