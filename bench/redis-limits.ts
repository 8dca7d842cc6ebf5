/**
 * What a gateway with --redis-url pays for its Redis client, this build against another (BENCH_BASE_DIST, say a
 * build from before the Redis thread, copied aside), in interleaved rounds:
 *
 * - scan: a gateway (`kt gateway run --redis-url`, budgets and rate limits on) serves 50 limited requests; then a
 *   probe loaded into it (`--import`) scans the 203 KB context of bench/context.ts with a fresh prompt-injection
 *   detector on the gateway's main thread (median of 21 scans). A gateway without --redis-url is the reference.
 *   ioredis's String subclass slowed exactly this scan (docs/benchmarks.md).
 * - admit / settle: a RedisLimitEngine in a process of its own, 2,000 admit + settle pairs one at a time and
 *   then 32 at a time; median µs per call, and the process's CPU time (every thread) per pair at 32.
 *
 * `node --import tsx bench/redis-limits.ts` after a build; REDIS_URL (default redis://127.0.0.1:6379), ROUNDS (3).
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { startFakeUpstream } from '../src/testing/fake-upstream.js';
import { codeContext } from './context.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const builds = [{ name: 'this build', dist: resolve('dist') }];
if (process.env.BENCH_BASE_DIST) builds.unshift({ name: 'base', dist: resolve(process.env.BENCH_BASE_DIST) });
const PREFIX = `bench-rl-${randomBytes(4).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'kt-bench-rl-'));

const PROBE = `
import { isMainThread } from 'node:worker_threads';
import { writeFileSync } from 'node:fs';
${codeContext.toString()}
if (isMainThread) {
  process.on('SIGUSR2', async () => {
    const { promptInjection } = await import(process.env.KT_PROBE_DIST + '/policy/policies/prompt-injection.js');
    const text = codeContext();
    const rule = promptInjection.create(promptInjection.schema.parse({}), { markerSalt: 'bench' }).rules[0];
    for (let i = 0; i < 10; i++) rule.detector.scan(text);
    const times = [];
    for (let i = 0; i < 21; i++) {
      const t0 = performance.now();
      rule.detector.scan(text);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    writeFileSync(process.env.KT_PROBE_OUT, JSON.stringify({ medianMs: times[10], bestMs: times[0] }));
  });
}
`;
const probe = join(dir, 'probe.mjs');
writeFileSync(probe, PROBE);

const fake = await startFakeUpstream({ record: false });
const LIMITS = `budgets:
  - {scope: developer, limit_usd: 1000, period: day, mode: hard}
rate_limits:
  - {scope: developer, rpm: 1000000, max_parallel: 1000}
`;
const config = join(dir, 'config.yaml');
writeFileSync(
  config,
  `pack: {name: bench-rl, version: "1"}
policies: {chain: []}
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "${fake.url}/v1"}
${LIMITS}`,
);

let port = 18_700;
async function scanInGateway(dist: string, redis: boolean): Promise<number> {
  const p = port++;
  const out = join(dir, `probe-${p}.json`);
  const args = ['--import', probe, join(dist, 'cli/main.js'), 'gateway', 'run', '-c', config, '--listen', `127.0.0.1:${p}`, '--log-level', 'error', '--data-dir', join(dir, `data-${p}`)];
  if (redis) args.push('--redis-url', REDIS_URL, '--redis-key-prefix', PREFIX);
  const child = spawn(process.execPath, args, { env: { ...process.env, KT_PROBE_DIST: dist, KT_PROBE_OUT: out }, stdio: 'ignore' });
  try {
    for (let t = 0; ; t++) {
      try {
        await (await request(`http://127.0.0.1:${p}/healthz`)).body.dump();
        break;
      } catch {
        if (t > 200) throw new Error('the gateway did not start');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    for (let i = 0; i < 50; i++) {
      const res = await request(`http://127.0.0.1:${p}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer k', 'x-keeptrusts-developer': `dev${i % 5}` },
        body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
      });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
    }
    child.kill('SIGUSR2');
    for (let t = 0; ; t++) {
      try {
        return (JSON.parse(readFileSync(out, 'utf8')) as { medianMs: number }).medianMs;
      } catch {
        if (t > 600) throw new Error('the probe did not answer');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

const ENGINE = `
const dist = process.argv[1];
const { RedisLimitEngine } = await import(dist + '/usage/limits/index.js');
const { budgetsSchema, rateLimitsSchema } = await import(dist + '/config/schema.js');
const config = { budgets: budgetsSchema.parse([{ scope: 'developer', limit_usd: 1000, period: 'day', mode: 'hard' }]), rate_limits: rateLimitsSchema.parse([{ scope: 'developer', rpm: 1000000, max_parallel: 1000 }]) };
const engine = new RedisLimitEngine(config, { url: process.argv[2], keyPrefix: process.argv[3] + ':', onError: (e, op) => console.error(op, e.message) });
const who = (i) => ({ developer: 'dev' + (i % 5), repository: null, team: null, key: null });
const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
async function pair(i, admits, settles) {
  const t0 = process.hrtime.bigint();
  const a = await engine.admit(who(i), 10);
  const t1 = process.hrtime.bigint();
  if (!a.ok) throw new Error(a.message);
  await engine.settle(a.lease, { costUsd: 0.000001, tokens: 10 });
  const t2 = process.hrtime.bigint();
  admits.push(Number(t1 - t0) / 1000);
  settles.push(Number(t2 - t1) / 1000);
}
for (let i = 0; i < 300; i++) await pair(i, [], []);
const a1 = [], s1 = [];
for (let i = 0; i < 2000; i++) await pair(i, a1, s1);
const a32 = [], s32 = [];
let next = 0;
const cpu0 = process.cpuUsage();
await Promise.all(Array.from({ length: 32 }, async () => { while (next < 2000) await pair(next++, a32, s32); }));
const cpu = process.cpuUsage(cpu0);
await engine.close();
console.log(JSON.stringify({ admit1: median(a1), settle1: median(s1), admit32: median(a32), settle32: median(s32), cpu: (cpu.user + cpu.system) / 2000 }));
`;

function engineLatency(dist: string): { admit1: number; settle1: number; admit32: number; settle32: number; cpu: number } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', ENGINE, dist, REDIS_URL, PREFIX], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

const rows: Record<string, { scan: number[]; admit1: number[]; settle1: number[]; admit32: number[]; settle32: number[]; cpu: number[] }> = {};
const noRedis: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  noRedis.push(await scanInGateway(builds.at(-1)!.dist, false));
  for (const b of builds) {
    const row = (rows[b.name] ??= { scan: [], admit1: [], settle1: [], admit32: [], settle32: [], cpu: [] });
    row.scan.push(await scanInGateway(b.dist, true));
    const l = engineLatency(b.dist);
    row.admit1.push(l.admit1);
    row.settle1.push(l.settle1);
    row.admit32.push(l.admit32);
    row.settle32.push(l.settle32);
    row.cpu.push(l.cpu);
  }
  process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
}

const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const fmt = (xs: number[], d = 1) => `${med(xs).toFixed(d)} (${xs.map((x) => x.toFixed(d)).join(', ')})`;
console.log(`gateway main thread, prompt-injection scan of 203 KB, median ms (per round):`);
console.log(`  no --redis-url (this build): ${fmt(noRedis, 2)}`);
for (const [name, r] of Object.entries(rows)) console.log(`  --redis-url, ${name}: ${fmt(r.scan, 2)}`);
console.log(`RedisLimitEngine, median µs per call (per round):`);
for (const [name, r] of Object.entries(rows)) {
  console.log(`  ${name}: admit ${fmt(r.admit1, 0)}, settle ${fmt(r.settle1, 0)}; 32 at a time: admit ${fmt(r.admit32, 0)}, settle ${fmt(r.settle32, 0)}; process CPU (all threads) per admit + settle, 32 at a time: ${fmt(r.cpu, 0)}`);
}

await fake.close();
const del = spawnSync('redis-cli', ['-u', REDIS_URL, '--scan', '--pattern', `kt:${PREFIX}:*`], { encoding: 'utf8' });
for (const key of del.stdout.split('\n').filter(Boolean)) spawnSync('redis-cli', ['-u', REDIS_URL, 'del', key]);
rmSync(dir, { recursive: true, force: true });
