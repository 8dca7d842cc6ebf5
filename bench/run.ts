/**
 * npm run bench: the fake upstream, the pass-through baseline and the gateway each run in their own
 * process; autocannon loads each with the same ~5 KB chat request, plain and streamed, at c=1 and c=50.
 * Only ratios measured in the same run are meaningful on a shared 2-core machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { acceptedKindNames } from '../src/policy/registry.js';

const KNOWN_KINDS = new Set(acceptedKindNames());

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DURATION = Number(process.env.BENCH_DURATION ?? 8);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
const PORTS = { fake: 41190, passthrough: 41191 };
/** Gateway variants measured in the same run, each its own process, on ports from 41192. */
const GATEWAYS: Array<{ name: string; chain: string[]; auditOf?: string }> = [
  { name: 'gateway (empty chain)', chain: [] },
  { name: 'gateway (audit-logger only)', chain: ['audit-logger'], auditOf: 'gateway (empty chain)' },
  { name: 'gateway (pii-detector, code-sanitizer, dlp-filter)', chain: ['pii-detector', 'code-sanitizer', 'dlp-filter'] },
  ...(process.env.BENCH_BRIEF_CHAIN === 'off'
    ? []
    : [
        { name: 'gateway (brief chain without audit-logger)', chain: briefChain().filter((k) => k !== 'audit-logger') },
        { name: 'gateway (brief chain)', chain: briefChain(), auditOf: 'gateway (brief chain without audit-logger)' },
      ]),
].filter((g) => !process.env.BENCH_ONLY || new RegExp(process.env.BENCH_ONLY).test(g.name));

/** The product brief's chain plus its recommended extras, as far as this build has the kinds. */
function briefChain(): string[] {
  return ['pii-detector', 'code-sanitizer', 'prompt-injection', 'quality-scorer', 'audit-logger', 'dlp-filter', 'safety-filter'].filter((k) => KNOWN_KINDS.has(k));
}

interface Row {
  scenario: string;
  payload: string;
  path: string;
  connections: number;
  stream: boolean;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  /** CPU time of the serving process (all its threads) per request during the measured run; null off Linux. */
  cpu_us_per_req: number | null;
}

/**
 * User plus system CPU of a whole process (every thread), in microseconds, from /proc (Linux; null elsewhere).
 * Throughput on a shared machine moves with whatever else runs; the CPU a process spends per request moves less.
 */
function processCpuMicros(pid: number | undefined): number | null {
  if (pid === undefined || !existsSync(`/proc/${pid}/stat`)) return null;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the line, in clock ticks (100 a second on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

function payload(stream: boolean): string {
  const code = Array.from({ length: 60 }, (_, i) => `export function helper${i}(a: number, b: number): number { return a * ${i} + b; }`).join('\n');
  return JSON.stringify({
    model: 'gpt-4o',
    stream,
    temperature: 0,
    messages: [
      { role: 'system', content: 'You are a coding assistant. Reply with SEARCH/REPLACE blocks.' },
      { role: 'user', content: `I have added these files to the chat:\n\nsrc/math.ts\n\`\`\`\n${code}\n\`\`\`\n\nAdd a docstring to helper3.` },
    ],
  });
}

async function waitReady(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never became ready`);
}

function startProcess(name: string, args: string[], env: NodeJS.ProcessEnv, ready: RegExp | null): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    if (!ready) {
      child.stdout!.resume();
      child.stderr!.on('data', (d: Buffer) => process.stderr.write(d));
      resolve(child);
      return;
    }
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) {
        child.stdout!.off('data', onData);
        child.stderr!.off('data', onData);
        child.stdout!.resume();
        child.stderr!.resume();
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${name} exited early (${code}):\n${out}`)));
  });
}

/**
 * A 200 KB Aider-style context where every request differs (a counter in the last line), so no cache helps:
 * this measures the cost of scanning a whole coding-agent first turn.
 */
async function loadLarge(url: string, connections: number, afterWarmup: () => void) {
  const context = codeContext();
  let n = 0;
  const make = () => JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'system', content: 'You are a coding assistant.' }, { role: 'user', content: `${context}\nrequest ${n++}: add a docstring` }] });
  const run = (duration: number) =>
    autocannon({
      url,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' },
      connections,
      duration,
      requests: [{ setupRequest: (req: autocannon.Request) => ({ ...req, body: make() }) }],
    });
  await run(WARMUP);
  afterWarmup();
  return run(DURATION);
}

async function load(url: string, body: string, connections: number, duration: number) {
  return autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' },
    body,
    connections,
    duration,
  });
}

export async function measure(scenario: string, url: string, connections: number, stream: boolean, large = false, pid?: number): Promise<Row> {
  const body = payload(stream);
  let cpuBefore: number | null = null;
  const r = large
    ? await loadLarge(url, connections, () => (cpuBefore = processCpuMicros(pid)))
    : (await load(url, body, connections, WARMUP), (cpuBefore = processCpuMicros(pid)), await load(url, body, connections, DURATION));
  const cpuAfter = processCpuMicros(pid);
  return {
    cpu_us_per_req: cpuBefore !== null && cpuAfter !== null && r.requests.total > 0 ? Math.round((cpuAfter - cpuBefore) / r.requests.total) : null,
    scenario,
    payload: large ? '200 KB, unique' : '5 KB',
    path: url,
    connections,
    stream,
    rps: Math.round(r.requests.average),
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  };
}

function gatewayConfig(dir: string, chain: string[] = []): string {
  const file = join(dir, `bench-${chain.join('_') || 'empty'}.yaml`);
  writeFileSync(
    file,
    `pack: {name: bench, version: "1"}
policies: {chain: [${chain.join(', ')}]}
providers:
  targets:
    - {id: fake, provider: openai-compatible, base_url: "http://127.0.0.1:${PORTS.fake}/v1"}
`,
  );
  return file;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'kt-bench-'));
  const children: ChildProcess[] = [];
  try {
    children.push(await startProcess('fake', ['dist/testing/fake-upstream.js'], { PORT: String(PORTS.fake), FAKE_LOG: 'off' }, /listening/));
    children.push(
      await startProcess('passthrough', ['--import', 'tsx', 'bench/passthrough.ts'], { PORT: String(PORTS.passthrough), UPSTREAM: `http://127.0.0.1:${PORTS.fake}` }, /listening/),
    );
    const targets: Array<[string, number, number | undefined]> = [
      ['direct', PORTS.fake, children[0]!.pid],
      ['passthrough', PORTS.passthrough, children[1]!.pid],
    ];
    for (const [i, g] of GATEWAYS.entries()) {
      const port = 41192 + i;
      children.push(
        await startProcess(
          g.name,
          ['dist/cli/main.js', 'gateway', 'run', '--policy-config', gatewayConfig(dir, g.chain), '--listen', `127.0.0.1:${port}`, '--log-level', 'error', '--max-concurrency', '256', '--data-dir', join(dir, `data-${i}`)],
          {},
          null,
        ),
      );
      await waitReady(`http://127.0.0.1:${port}/readyz`);
      targets.push([g.name, port, children.at(-1)!.pid]);
    }
    const detectors = await measureDetectors();
    const rows: Row[] = [];
    const log = (row: Row) =>
      process.stderr.write(`${row.scenario.padEnd(52)} ${row.payload.padEnd(15)} c=${String(row.connections).padEnd(3)} ${row.stream ? 'sse ' : 'json'}  ${String(row.rps).padStart(6)} req/s  ${row.cpu_us_per_req ?? '-'} µs CPU/req  p50 ${row.p50} ms  p99 ${row.p99} ms${row.errors || row.non2xx ? `  errors ${row.errors} non2xx ${row.non2xx}` : ''}\n`);
    for (const stream of [false, true]) {
      for (const connections of [1, 50]) {
        for (const [scenario, port, pid] of targets) {
          const row = await measure(scenario, `http://127.0.0.1:${port}/v1/chat/completions`, connections, stream, false, pid);
          rows.push(row);
          log(row);
        }
      }
    }
    for (const [scenario, port, pid] of targets.filter(([name]) => name !== 'direct')) {
      const row = await measure(scenario, `http://127.0.0.1:${port}/v1/chat/completions`, 10, false, true, pid);
      rows.push(row);
      log(row);
    }
    report(rows, detectors);
  } finally {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null) return resolve();
            const timer = setTimeout(() => c.kill('SIGKILL'), 3000);
            c.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            c.kill('SIGTERM');
          }),
      ),
    );
  }
}

function report(rows: Row[], detectors: DetectorSpeed[]) {
  const ratios = rows
    .filter((r) => r.scenario.startsWith('gateway'))
    .map((g) => {
      const base = rows.find((r) => r.scenario === 'passthrough' && r.payload === g.payload && r.connections === g.connections && r.stream === g.stream)!;
      return { scenario: g.scenario, payload: g.payload, connections: g.connections, stream: g.stream, rps_ratio: round(g.rps / base.rps), p99_delta_ms: round(g.p99 - base.p99) };
    });
  // The audit trail's own cost: the same chain with and without audit-logger writing to SQLite.
  const audit = GATEWAYS.filter((g) => g.auditOf).flatMap((g) =>
    rows
      .filter((r) => r.scenario === g.name)
      .map((r) => {
        const base = rows.find((b) => b.scenario === g.auditOf && b.payload === r.payload && b.connections === r.connections && b.stream === r.stream)!;
        const cpu = r.cpu_us_per_req !== null && base.cpu_us_per_req !== null ? { cpu_us_added: r.cpu_us_per_req - base.cpu_us_per_req, cpu_ratio: round(base.cpu_us_per_req / r.cpu_us_per_req) } : { cpu_us_added: null, cpu_ratio: null };
        return { scenario: g.name, baseline: g.auditOf!, payload: r.payload, connections: r.connections, stream: r.stream, rps_ratio: round(r.rps / base.rps), ...cpu };
      }),
  );
  const result = { date: new Date().toISOString(), node: process.version, duration_s: DURATION, request_bytes: payload(false).length, rows, ratios, audit, detectors };
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/latest.json'), `${JSON.stringify(result, null, 2)}\n`);
  const md = [
    `# Benchmark (${result.date})`,
    '',
    `Node ${process.version}, ${DURATION} s per run after ${WARMUP} s warm-up, ${result.request_bytes}-byte chat request. Fake upstream, pass-through and gateway in separate processes on the same 2-core machine as autocannon.`,
    '',
    '| scenario | request | c | mode | req/s | CPU µs/req | p50 ms | p99 ms | errors |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.scenario} | ${r.payload} | ${r.connections} | ${r.stream ? 'SSE' : 'JSON'} | ${r.rps} | ${r.cpu_us_per_req ?? '-'} | ${r.p50} | ${r.p99} | ${r.errors + r.non2xx} |`),
    '',
    '| gateway vs pass-through | request | c | mode | throughput ratio | p99 added (ms) |',
    '|---|---|---|---|---|---|',
    ...ratios.map((r) => `| ${r.scenario} | ${r.payload} | ${r.connections} | ${r.stream ? 'SSE' : 'JSON'} | ${r.rps_ratio} | ${r.p99_delta_ms} |`),
    '',
    'CPU µs/req: user and system time of the serving process, all threads, divided by the requests it served in the measured run. CPU ratio: without ÷ with (what throughput would be if the process had cores of its own).',
    '',
    '| with audit-logger (SQLite) | vs the same chain without | request | c | mode | throughput ratio | CPU ratio | CPU µs added per request |',
    '|---|---|---|---|---|---|---|---|',
    ...audit.map((r) => `| ${r.scenario} | ${r.baseline} | ${r.payload} | ${r.connections} | ${r.stream ? 'SSE' : 'JSON'} | ${r.rps_ratio} | ${r.cpu_ratio ?? '-'} | ${r.cpu_us_added ?? '-'} |`),
    '',
    `Detector throughput on a ${Math.round(detectors[0]!.bytes / 1024)} KB source-code context (single thread, after warm-up):`,
    '',
    '| detector | MB/s | matches |',
    '|---|---|---|',
    ...detectors.map((d) => `| ${d.name} | ${d.mbPerSecond} | ${d.matches} |`),
    '',
  ].join('\n');
  writeFileSync(join(ROOT, 'bench/results/latest.md'), md);
  process.stdout.write(`${md}\n`);
}


interface DetectorSpeed {
  name: string;
  bytes: number;
  mbPerSecond: number;
  matches: number;
}

/** A 200 KB context in the shape Aider sends: several source files, fenced, with a few secrets and emails. */
function codeContext(): string {
  const files: string[] = [];
  for (let f = 0; files.join('').length < 200 * 1024; f++) {
    const lines = [`// src/module${f}.ts`, `import { db } from './db';`, `const OWNER = 'owner${f}@example-corp.com';`];
    for (let i = 0; i < 40; i++) {
      lines.push(`export async function handler${f}_${i}(req: Request): Promise<Response> {`, `  const id = req.headers.get('x-id') ?? 'anon';`, `  const rows = await db.query('select * from t${i} where id = $1', [id]);`, `  return Response.json({ ok: true, count: rows.length, sha: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' });`, '}');
    }
    if (f % 3 === 0) lines.push(`const token = '${['ghp', 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8'].join('_')}';`);
    files.push(`src/module${f}.ts\n\`\`\`typescript\n${lines.join('\n')}\n\`\`\`\n`);
  }
  return files.join('\n');
}

async function measureDetectors(): Promise<DetectorSpeed[]> {
  const { createSecretScanner } = await import('../src/detect/secrets/index.js');
  const { createPiiScanner } = await import('../src/detect/pii/index.js');
  const { createDlpScanner } = await import('../src/detect/dlp.js');
  const { createInjectionScanner } = await import('../src/detect/injection/index.js');
  const { createSafetyScanner } = await import('../src/detect/safety.js');
  const text = codeContext();
  const detectors = [
    ['secrets (code-sanitizer)', createSecretScanner()],
    ['pii (pii-detector)', createPiiScanner()],
    ['dlp (dlp-filter, high)', createDlpScanner({ sensitivityLevel: 'high', blockedTerms: ['project nightingale'] })],
    ['injection (prompt-injection)', createInjectionScanner()],
    ['safety (safety-filter, software)', createSafetyScanner({ mode: 'software' })],
  ] as const;
  const out: DetectorSpeed[] = [];
  for (const [name, d] of detectors) {
    for (let i = 0; i < 3; i++) d.scan(text);
    const runs = 20;
    const t0 = performance.now();
    let matches = 0;
    for (let i = 0; i < runs; i++) matches = d.scan(text).length;
    const seconds = (performance.now() - t0) / 1000;
    out.push({ name, bytes: text.length, mbPerSecond: round((text.length * runs) / seconds / 1e6), matches });
    process.stderr.write(`${name.padEnd(28)} ${round((text.length * runs) / seconds / 1e6)} MB/s (${matches} matches)\n`);
  }
  return out;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

await main();
