/**
 * npm run bench:ttft: time to first token through the gateway against the pass-through, with a paced upstream
 * (the fake sends a 4-character delta every BENCH_TTFT_PACE_MS, 20 by default, as a model writes), and how much
 * reply text StreamGuard holds back (bench/held-back.ts). The fake runs here; the pass-through and a gateway with
 * the brief chain run in processes of their own. Requests go one at a time, alternating between the two, so the
 * machine's drift falls on both. Needs a build (dist/).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { startFakeUpstream } from '../src/testing/fake-upstream.js';
import { measureHeldBack, PROSE_REPLY, type HeldBack } from './held-back.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PACE = Number(process.env.BENCH_TTFT_PACE_MS ?? 20);
const N = Number(process.env.BENCH_TTFT_N ?? 20);
const CHAIN = ['pii-detector', 'code-sanitizer', 'prompt-injection', 'quality-scorer', 'dlp-filter', 'safety-filter'];
const PORTS = { passthrough: 21290, gateway: 21291 };

export interface TtftResult {
  pace_ms: number;
  requests: number;
  passthrough_ttft_ms: number;
  gateway_ttft_ms: number;
  added_ms: number;
  passthrough_total_ms: number;
  gateway_total_ms: number;
  held_back: HeldBack[];
}

function start(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  return child;
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    try {
      if ((await fetch(url)).status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never answered`);
}

/** Milliseconds to the first content character and to the end of the stream. */
async function once(pool: Pool, body: string): Promise<[number, number]> {
  const t0 = performance.now();
  const res = await pool.request({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' }, body });
  let first = -1;
  let seen = '';
  for await (const chunk of res.body) {
    if (first >= 0) continue;
    seen += Buffer.from(chunk).toString('utf8');
    // A content delta with at least one character.
    if (/"content":"[^"]/.test(seen)) first = performance.now() - t0;
  }
  if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
  return [first, performance.now() - t0];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
const r2 = (n: number) => Math.round(n * 100) / 100;

export async function measureTtft(): Promise<TtftResult> {
  // A long prose reply, paced; the first 10 s of it are what a developer watches.
  const fake = await startFakeUpstream({ record: false, paceMs: PACE, chunkSize: 4, replyText: PROSE_REPLY.slice(0, 600) });
  const dir = mkdtempSync(join(tmpdir(), 'kt-ttft-'));
  const config = join(dir, 'brief.yaml');
  writeFileSync(config, `pack: {name: bench, version: "1"}\npolicies: {chain: [${CHAIN.join(', ')}]}\nproviders:\n  targets:\n    - {id: fake, provider: openai-compatible, base_url: "${fake.url}/v1"}\n`);
  const children = [
    start(['--import', 'tsx', 'bench/passthrough.ts'], { PORT: String(PORTS.passthrough), UPSTREAM: fake.url }),
    start(['dist/cli/main.js', 'gateway', 'run', '--policy-config', config, '--listen', `127.0.0.1:${PORTS.gateway}`, '--log-level', 'error', '--data-dir', join(dir, 'data')], {}),
  ];
  try {
    await waitFor(`http://127.0.0.1:${PORTS.passthrough}/`);
    await waitFor(`http://127.0.0.1:${PORTS.gateway}/readyz`);
    const body = JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Explain the handler.' }] });
    const pools = { pt: new Pool(`http://127.0.0.1:${PORTS.passthrough}`), gw: new Pool(`http://127.0.0.1:${PORTS.gateway}`) };
    const acc = { pt: [] as number[], gw: [] as number[], ptAll: [] as number[], gwAll: [] as number[] };
    for (let i = 0; i < 2; i++) {
      await once(pools.pt, body);
      await once(pools.gw, body);
    }
    for (let i = 0; i < N; i++) {
      const [a, at] = await once(pools.pt, body);
      const [b, bt] = await once(pools.gw, body);
      acc.pt.push(a);
      acc.gw.push(b);
      acc.ptAll.push(at);
      acc.gwAll.push(bt);
    }
    await pools.pt.close();
    await pools.gw.close();
    const configForHold = join(dir, 'hold.yaml');
    writeFileSync(configForHold, `pack: {name: bench, version: "1"}\npolicies: {chain: [${CHAIN.join(', ')}]}\nproviders:\n  targets:\n    - {id: fake, provider: openai-compatible, base_url: "http://127.0.0.1:1/v1"}\n`);
    return {
      pace_ms: PACE,
      requests: N,
      passthrough_ttft_ms: r2(median(acc.pt)),
      gateway_ttft_ms: r2(median(acc.gw)),
      added_ms: r2(median(acc.gw) - median(acc.pt)),
      passthrough_total_ms: r2(median(acc.ptAll)),
      gateway_total_ms: r2(median(acc.gwAll)),
      held_back: await measureHeldBack(configForHold),
    };
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await fake.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await measureTtft();
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
}
