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
import { codeContext } from './context.js';
import { measureScan } from './scan-speed.js';
import { measureTtft, type TtftResult } from './ttft.js';

const KNOWN_KINDS = new Set(acceptedKindNames());

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DURATION = Number(process.env.BENCH_DURATION ?? 8);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
/** Each target's DURATION seconds are split into this many interleaved runs (measureScenario). */
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 4));
/**
 * Gateway processes per chain, measured in turn, one per round. Two processes of one build under the same load
 * differed by up to 4 % in throughput here (how V8 happened to compile and lay them out), which no amount of
 * interleaving removes; averaging over processes does.
 */
const INSTANCES = Math.max(1, Number(process.env.BENCH_INSTANCES ?? 2));
/**
 * Below Linux's ephemeral range (32768–60999) and everyone else's (49152–65535): a port inside it can be held
 * by some outgoing connection's source port, or, polled before anything listens, connect to itself and sit in
 * TIME-WAIT; either way the gateway then cannot bind it and the whole run fails (seen here with 41198).
 * BENCH_PORT_BASE moves the range, for two benches running at once.
 */
const PORT_BASE = Number(process.env.BENCH_PORT_BASE ?? 21190);
const PORTS = { fake: PORT_BASE, passthrough: PORT_BASE + 1 };
/** Gateway variants measured in the same run, each in INSTANCES processes of its own, on ports from PORT_BASE + 2. */
const GATEWAYS: Array<{ name: string; chain: string[]; auditOf?: string; dist?: string; target?: string }> = [
  { name: 'gateway (empty chain)', chain: [] },
  // The healthy-primary path without the resilience machinery (no retry, so no wait for the first token; no
  // breaker): what the empty chain costs beyond this is the machinery's overhead when nothing fails.
  { name: 'gateway (empty chain, no retries or breaker)', chain: [], target: 'retry: {max_retries: 0}, circuit_breaker: {enabled: false}' },
  { name: 'gateway (audit-logger only)', chain: ['audit-logger'], auditOf: 'gateway (empty chain)' },
  { name: 'gateway (pii-detector, code-sanitizer, dlp-filter)', chain: ['pii-detector', 'code-sanitizer', 'dlp-filter'] },
  ...(process.env.BENCH_BRIEF_CHAIN === 'off'
    ? []
    : [
        { name: 'gateway (brief chain without audit-logger)', chain: briefChain().filter((k) => k !== 'audit-logger') },
        { name: 'gateway (brief chain)', chain: briefChain(), auditOf: 'gateway (brief chain without audit-logger)' },
      ]),
].filter((g) => !process.env.BENCH_ONLY || new RegExp(process.env.BENCH_ONLY).test(g.name));
/**
 * BENCH_BASE_DIST: another build's dist/ (say, main's, copied aside), whose gateways are measured beside this
 * build's in the same interleaved rounds, as "… [base]": a before/after ratio from one run, which a shared
 * machine's drift between two runs cannot move.
 */
const BASE_DIST = process.env.BENCH_BASE_DIST;
if (BASE_DIST) GATEWAYS.push(...GATEWAYS.map((g) => ({ ...g, name: `${g.name} [base]`, dist: BASE_DIST, ...(g.auditOf ? { auditOf: `${g.auditOf} [base]` } : {}) })));

/**
 * BENCH_GATEWAY_NODE_ARGS: Node options for the gateway processes only, split on spaces (say, `--cpu-prof
 * --cpu-prof-dir=/tmp/prof`: Node refuses --cpu-prof in NODE_OPTIONS, and there it would profile every process).
 */
const GATEWAY_NODE_ARGS = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);

/**
 * BENCH_REDIS_URL: every gateway keeps budgets and rate limits in this Redis (`--redis-url`, a key prefix of this
 * run), with a global rate limit and a global budget no request reaches, so each request is one admit and one
 * settle: what a team gateway pays for shared limits.
 */
const REDIS_URL = process.env.BENCH_REDIS_URL;
const REDIS_ARGS = REDIS_URL ? ['--redis-url', REDIS_URL, '--redis-key-prefix', `bench-${process.pid}`] : [];
const LIMITS = REDIS_URL
  ? `rate_limits: [{scope: global, rpm: 1000000000, max_parallel: 100000}]
budgets: [{scope: global, limit_usd: 1000000, period: day, mode: hard}]
`
  : '';

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
  /** Throughput of each interleaved round (see measureScenario). */
  rps_rounds: number[];
  /** Medians over the rounds. */
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  /** CPU time of the serving process (all its threads) per request during the measured run; null off Linux. */
  cpu_us_per_req: number | null;
  /** … of its main thread alone (the event loop that serves every request). */
  main_cpu_us_per_req: number | null;
  /** Share of the machine's CPU time left idle while this target was measured, in percent. */
  idle_pct: number | null;
}

/**
 * User plus system CPU of a whole process (every thread), in microseconds, from /proc (Linux; null elsewhere).
 * Throughput on a shared machine moves with whatever else runs; the CPU a process spends per request moves less.
 */
function processCpuMicros(pid: number | undefined): number | null {
  return pid === undefined ? null : cpuMicrosOf(`/proc/${pid}/stat`);
}

/**
 * The same for the process's main thread (its thread id is the process id). Node serves every request on that
 * one thread, so when it is busy all the time it bounds throughput whatever the other threads and cores do.
 */
function mainThreadCpuMicros(pid: number | undefined): number | null {
  return pid === undefined ? null : cpuMicrosOf(`/proc/${pid}/task/${pid}/stat`);
}

function cpuMicrosOf(statFile: string): number | null {
  if (!existsSync(statFile)) return null;
  const stat = readFileSync(statFile, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the line, in clock ticks (100 a second on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** Idle and total CPU time of the whole machine so far (the first line of /proc/stat), in clock ticks. */
function machineTicks(): { idle: number; total: number } | null {
  if (!existsSync('/proc/stat')) return null;
  const ticks = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { idle: ticks[3]! + (ticks[4] ?? 0), total: ticks.reduce((a, b) => a + b, 0) };
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

/** Requests that all differ, made one by one as autocannon sends them, so no cache can answer for the chain. */
interface Workload {
  label: string;
  make: () => string;
}

let unique = 0;
let context: string | undefined;
const codeContextOnce = () => (context ??= codeContext());

/** A coding agent's first turn: a 200 KB Aider-style context, different in its last line every time. */
const FIRST_TURN: Workload = {
  label: '200 KB, unique',
  make: () => JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'system', content: 'You are a coding assistant.' }, { role: 'user', content: `${codeContextOnce()}\nrequest ${unique++}: add a docstring` }] }),
};

/**
 * A later turn of the same session, which is most of what an agent sends: the history (40 KB of files and
 * earlier replies) is the same as last time, and one new message (3 KB of test output and code) is not. The
 * chain's scan cache answers for the history; the new message is scanned, and the audit trail captures it.
 */
const LATER_TURN: Workload = {
  label: 'agent turn: 40 KB seen + 3 KB new',
  make: () => {
    const n = unique++;
    const lines = Array.from({ length: 40 }, (_, i) => `  ✗ handler${n % 97}_${i} returns ${n + i} rows for tenant t${(n * 7 + i) % 1000} (expected ${i}) at src/module${i % 9}.ts:${10 + i}:${n % 80}`);
    const latest = { role: 'user', content: `The tests fail after that change (run ${n}):\n${lines.join('\n')}\nFix handler${n % 97}_3 so they pass.` };
    return JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'system', content: 'You are a coding assistant. Reply with SEARCH/REPLACE blocks.' }, ...sessionHistory(), latest] });
  },
};

/** The later turn's history, the same on every request: made once (autocannon's process shares the cores). */
let history: Array<{ role: string; content: string }> | undefined;
function sessionHistory(): Array<{ role: string; content: string }> {
  if (history) return history;
  const ctx = codeContextOnce();
  history = [];
  for (let t = 0; t < 6; t++) {
    history.push({ role: 'user', content: ctx.slice(t * 5500, (t + 1) * 5500) });
    history.push({ role: 'assistant', content: `src/module${t}.ts\n<<<<<<< SEARCH\nexport async function handler${t}_1(req: Request) {\n=======\n/** Handles ${t}. */\nexport async function handler${t}_1(req: Request) {\n>>>>>>> REPLACE\n`.repeat(8) });
  }
  return history;
}

/** One autocannon run: the same body every time, or one made per request by a workload. */
function load(url: string, request: string | Workload, connections: number, duration: number) {
  const body = typeof request === 'string' ? { body: request } : { requests: [{ setupRequest: (req: autocannon.Request) => ({ ...req, body: request.make() }) }] };
  return autocannon({ url, method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' }, connections, duration, ...body });
}

/** A measured target: one process, or several alike (gateways: BENCH_INSTANCES), taken in turn by round. */
interface Target {
  scenario: string;
  instances: Array<{ port: number; pid: number | undefined }>;
}

/**
 * One scenario on every target: each is warmed up, then measured in ROUNDS short runs taken in turn, the
 * order rotating each round. A shared machine drifts (other tenants, page cache, CPU boost) over the minutes
 * a scenario takes; run back to back in one long run each, the targets measured later carried that drift
 * into their ratios. Interleaved, every target sees it alike, and the rounds show how far a ratio moves.
 */
async function measureScenario(targets: readonly Target[], connections: number, stream: boolean, workload?: Workload): Promise<Row[]> {
  const body = payload(stream);
  const run = (port: number, duration: number) => load(`http://127.0.0.1:${port}/v1/chat/completions`, workload ?? body, connections, duration);
  const acc = targets.map(() => ({ requests: 0, seconds: 0, cpu: 0 as number | null, main: 0 as number | null, idle: 0, ticks: 0, p50: [] as number[], p99: [] as number[], errors: 0, non2xx: 0, rounds: [] as number[] }));
  for (const t of targets) for (const { port } of t.instances) await run(port, WARMUP);
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < targets.length; k++) {
      const i = (k + round) % targets.length;
      const t = targets[i]!;
      const a = acc[i]!;
      const { port, pid } = t.instances[round % t.instances.length]!;
      const before = { all: processCpuMicros(pid), main: mainThreadCpuMicros(pid), machine: machineTicks() };
      const r = await run(port, DURATION / ROUNDS);
      const after = { all: processCpuMicros(pid), main: mainThreadCpuMicros(pid), machine: machineTicks() };
      a.cpu = a.cpu !== null && before.all !== null && after.all !== null ? a.cpu + (after.all - before.all) : null;
      a.main = a.main !== null && before.main !== null && after.main !== null ? a.main + (after.main - before.main) : null;
      if (before.machine && after.machine) {
        a.idle += after.machine.idle - before.machine.idle;
        a.ticks += after.machine.total - before.machine.total;
      }
      a.requests += r.requests.total;
      a.seconds += r.duration;
      a.rounds.push(r.requests.total / r.duration);
      a.p50.push(r.latency.p50);
      a.p99.push(r.latency.p99);
      a.errors += r.errors + r.timeouts;
      a.non2xx += r.non2xx;
    }
  }
  return targets.map((t, i) => {
    const a = acc[i]!;
    return {
      scenario: t.scenario,
      payload: workload?.label ?? '5 KB',
      path: t.instances.map(({ port }) => `http://127.0.0.1:${port}/v1/chat/completions`).join(' '),
      connections,
      stream,
      rps: Math.round(a.requests / a.seconds),
      rps_rounds: a.rounds.map(Math.round),
      p50: median(a.p50),
      p99: median(a.p99),
      errors: a.errors,
      non2xx: a.non2xx,
      cpu_us_per_req: a.cpu !== null && a.requests > 0 ? Math.round(a.cpu / a.requests) : null,
      main_cpu_us_per_req: a.main !== null && a.requests > 0 ? Math.round(a.main / a.requests) : null,
      idle_pct: a.ticks > 0 ? Math.round((100 * a.idle) / a.ticks) : null,
    };
  });
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function gatewayConfig(dir: string, chain: string[] = [], target?: string): string {
  const file = join(dir, `bench-${chain.join('_') || 'empty'}${target ? '-plain-target' : ''}.yaml`);
  writeFileSync(
    file,
    `pack: {name: bench, version: "1"}
policies: {chain: [${chain.join(', ')}]}
providers:
  targets:
    - {id: fake, provider: openai-compatible, base_url: "http://127.0.0.1:${PORTS.fake}/v1"${target ? `, ${target}` : ''}}
${LIMITS}`,
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
    const targets: Target[] = [
      { scenario: 'direct', instances: [{ port: PORTS.fake, pid: children[0]!.pid }] },
      { scenario: 'passthrough', instances: [{ port: PORTS.passthrough, pid: children[1]!.pid }] },
    ];
    for (const [i, g] of GATEWAYS.entries()) {
      const target: Target = { scenario: g.name, instances: [] };
      for (let k = 0; k < INSTANCES; k++) {
        const port = PORT_BASE + 2 + i * INSTANCES + k;
        children.push(
          await startProcess(
            g.name,
            [...GATEWAY_NODE_ARGS, join(g.dist ?? 'dist', 'cli/main.js'), 'gateway', 'run', '--policy-config', gatewayConfig(dir, g.chain, g.target), '--listen', `127.0.0.1:${port}`, '--log-level', 'error', '--max-concurrency', '256', '--data-dir', join(dir, `data-${i}-${k}`), ...REDIS_ARGS],
            {},
            null,
          ),
        );
        await waitReady(`http://127.0.0.1:${port}/readyz`);
        target.instances.push({ port, pid: children.at(-1)!.pid });
      }
      targets.push(target);
    }
    const detectors = await measureDetectors();
    const rows: Row[] = [];
    const log = (row: Row) =>
      process.stderr.write(`${row.scenario.padEnd(52)} ${row.payload.padEnd(34)} c=${String(row.connections).padEnd(3)} ${row.stream ? 'sse ' : 'json'}  ${String(row.rps).padStart(6)} req/s  ${row.cpu_us_per_req ?? '-'} µs CPU/req (main ${row.main_cpu_us_per_req ?? '-'})  idle ${row.idle_pct ?? '-'} %  p50 ${row.p50} ms  p99 ${row.p99} ms${row.errors || row.non2xx ? `  errors ${row.errors} non2xx ${row.non2xx}` : ''}\n`);
    // BENCH_SCENARIOS (a regular expression) picks scenarios by name: "json c=1", "sse c=50", "200 KB", "agent turn".
    const picked = (name: string) => !process.env.BENCH_SCENARIOS || new RegExp(process.env.BENCH_SCENARIOS).test(name);
    for (const stream of [false, true]) {
      for (const connections of [1, 50]) {
        if (!picked(`${stream ? 'sse' : 'json'} c=${connections}`)) continue;
        for (const row of await measureScenario(targets, connections, stream)) {
          rows.push(row);
          log(row);
        }
      }
    }
    for (const workload of [FIRST_TURN, LATER_TURN]) {
      if (!picked(workload.label)) continue;
      for (const row of await measureScenario(targets.filter((t) => t.scenario !== 'direct'), 10, false, workload)) {
        rows.push(row);
        log(row);
      }
    }
    // Last, with the load runs' processes gone quiet: one request at a time, paced.
    const ttft = process.env.BENCH_TTFT === 'off' ? undefined : await measureTtft();
    report(rows, detectors, ttft);
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

function report(rows: Row[], detectors: DetectorSpeed[], ttft: TtftResult | undefined) {
  const ratios = rows
    .filter((r) => r.scenario.startsWith('gateway'))
    .map((g) => {
      const base = rows.find((r) => r.scenario === 'passthrough' && r.payload === g.payload && r.connections === g.connections && r.stream === g.stream)!;
      return { scenario: g.scenario, payload: g.payload, connections: g.connections, stream: g.stream, rps_ratio: round(g.rps / base.rps), p99_delta_ms: round(g.p99 - base.p99) };
    });
  // The audit trail's own cost: the same chain with and without audit-logger writing to SQLite.
  // (BENCH_ONLY may leave out the chain a variant is compared with: then there is no pair to report.)
  const audit = GATEWAYS.filter((g) => g.auditOf && GATEWAYS.some((b) => b.name === g.auditOf)).flatMap((g) =>
    rows
      .filter((r) => r.scenario === g.name)
      .map((r) => {
        const base = rows.find((b) => b.scenario === g.auditOf && b.payload === r.payload && b.connections === r.connections && b.stream === r.stream)!;
        const cpu = r.cpu_us_per_req !== null && base.cpu_us_per_req !== null ? { cpu_us_added: r.cpu_us_per_req - base.cpu_us_per_req, cpu_ratio: round(base.cpu_us_per_req / r.cpu_us_per_req) } : { cpu_us_added: null, cpu_ratio: null };
        const main =
          r.main_cpu_us_per_req !== null && base.main_cpu_us_per_req !== null
            ? { main_cpu_us_added: r.main_cpu_us_per_req - base.main_cpu_us_per_req, main_cpu_ratio: round(base.main_cpu_us_per_req / r.main_cpu_us_per_req) }
            : { main_cpu_us_added: null, main_cpu_ratio: null };
        // Round k of both ran in the same round of the interleaving: their ratio is a paired measurement.
        const roundRatios = r.rps_rounds.map((x, k) => round(x / base.rps_rounds[k]!));
        return { scenario: g.name, baseline: g.auditOf!, payload: r.payload, connections: r.connections, stream: r.stream, rps_ratio: round(r.rps / base.rps), rps_ratio_rounds: roundRatios, ...cpu, ...main };
      }),
  );
  const result = { date: new Date().toISOString(), node: process.version, duration_s: DURATION, rounds: ROUNDS, gateway_instances: INSTANCES, request_bytes: payload(false).length, rows, ratios, audit, detectors, ...(ttft ? { ttft } : {}) };
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/latest.json'), `${JSON.stringify(result, null, 2)}\n`);
  const md = [
    `# Benchmark (${result.date})`,
    '',
    `Node ${process.version}, ${DURATION} s per target and scenario in ${ROUNDS} interleaved runs after ${WARMUP} s warm-up (each gateway chain: ${INSTANCES} processes, one per round), ${result.request_bytes}-byte chat request. Fake upstream, pass-through and gateway in separate processes on the same 2-core machine as autocannon.`,
    '',
    '| scenario | request | c | mode | req/s | CPU µs/req | main thread µs/req | machine idle % | p50 ms | p99 ms | errors |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.scenario} | ${r.payload} | ${r.connections} | ${r.stream ? 'SSE' : 'JSON'} | ${r.rps} | ${r.cpu_us_per_req ?? '-'} | ${r.main_cpu_us_per_req ?? '-'} | ${r.idle_pct ?? '-'} | ${r.p50} | ${r.p99} | ${r.errors + r.non2xx} |`,
    ),
    '',
    '| gateway vs pass-through | request | c | mode | throughput ratio | p99 added (ms) |',
    '|---|---|---|---|---|---|',
    ...ratios.map((r) => `| ${r.scenario} | ${r.payload} | ${r.connections} | ${r.stream ? 'SSE' : 'JSON'} | ${r.rps_ratio} | ${r.p99_delta_ms} |`),
    '',
    'CPU µs/req: user and system time of the serving process, all threads, divided by the requests it served in the measured runs; main thread: the same for its event loop alone. CPU ratios: without ÷ with. When the main thread is busy all the time and the machine still has idle time, the main-thread ratio is what bounds throughput.',
    '',
    '| with audit-logger (SQLite) | vs the same chain without | request | c | mode | throughput ratio | … in each round | CPU ratio | CPU µs added per request | main-thread ratio | main-thread µs added |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...audit.map(
      (r) =>
        `| ${r.scenario} | ${r.baseline} | ${r.payload} | ${r.connections} | ${r.stream ? 'SSE' : 'JSON'} | ${r.rps_ratio} | ${r.rps_ratio_rounds.join(' ')} | ${r.cpu_ratio ?? '-'} | ${r.cpu_us_added ?? '-'} | ${r.main_cpu_ratio ?? '-'} | ${r.main_cpu_us_added ?? '-'} |`,
    ),
    '',
    `Detector throughput on a ${Math.round(detectors[0]!.bytes / 1024)} KB source-code context (single thread, after warm-up):`,
    '',
    '| detector | MB/s | matches |',
    '|---|---|---|',
    ...detectors.map((d) => `| ${d.name} | ${d.mbPerSecond} | ${d.matches} |`),
    '',
    ...(ttft
      ? [
          `Time to first token, brief chain, upstream pacing a 4-character delta every ${ttft.pace_ms} ms (median of ${ttft.requests} requests each, alternating): pass-through ${ttft.passthrough_ttft_ms} ms, gateway ${ttft.gateway_ttft_ms} ms (+${ttft.added_ms} ms); whole reply ${ttft.passthrough_total_ms} / ${ttft.gateway_total_ms} ms.`,
          '',
          '| reply (4-character deltas) | characters | received before the first release | mean lag | largest lag |',
          '|---|---|---|---|---|',
          ...ttft.held_back.map((h) => `| ${h.reply} | ${h.chars} | ${h.beforeFirst} | ${h.meanLag} | ${h.maxLag} |`),
          '',
        ]
      : []),
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
    const s = measureScan((t) => d.scan(t), text, 21, 3);
    out.push({ name, bytes: text.length, mbPerSecond: round(s.mbPerSecond), matches: s.matches });
    process.stderr.write(`${name.padEnd(28)} ${round(s.mbPerSecond)} MB/s at the median scan (${s.matches} matches)\n`);
  }
  return out;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

await main();
